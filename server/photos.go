package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/imaging"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Photos travel on their own channel (ARCHITECTURE.md): a record cites a
// photo by its SHA-256 in a manifest; the bytes follow, in parts, straight
// to the object store when it signs URLs (MinIO) or to these routes (the
// local photo folder). POST …/done makes the server check size, type and
// hash; only then does the photo count as stored, recorded by a receipt in
// the photo scope that every server process tails.
const (
	// presignPutExpiry is how long a signed part URL stays valid.
	presignPutExpiry = 15 * time.Minute
	// presignGetExpiry is how long a signed download URL stays valid.
	presignGetExpiry = 5 * time.Minute
	// abandonedUpload is when a pending upload nobody finished is dropped.
	abandonedUpload = 24 * time.Hour
)

// loadedPhoto is a photo named by a route, with a pairing through which
// the caller may see a record citing it, and whether the caller may open
// its bytes.
type loadedPhoto struct {
	sum     string
	pairing string
	// open: a pairing the caller sees holds a grant for the photo
	// (pairing.CollPhotoGrants): they stored it, proved they hold its
	// bytes, or could already open it when they cited it.
	open bool
}

// loadPhoto resolves /v1/photos/:id: the photo must be cited by a record
// of a pairing the caller sees (for contacts, a record they receive: not
// a visit). A photo nobody cites, and one cited only where the caller
// cannot see, both answer 404: the route is no oracle of which photos
// exist. Reading the bytes takes more (loadedPhoto.open, checked by
// getPhoto): a citation alone opens nothing.
func loadPhoto(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
	sum := c.Params("id")
	if !storage.ValidSHA256(sum) {
		return pairing.Object{}, nil, storage.ErrNotFound
	}
	ctx, p := c.UserContext(), principal(c)
	if err := s.dir.Refresh(ctx); err != nil {
		return pairing.Object{}, nil, err
	}
	if err := s.ledger.Refresh(ctx); err != nil {
		return pairing.Object{}, nil, err
	}
	lp, _, err := s.photoAccess(ctx, p, sum)
	if err != nil {
		return pairing.Object{}, nil, err
	}
	if lp.pairing == "" { // cited nowhere p sees: as for a photo nobody cites
		return pairing.Object{}, nil, storage.ErrNotFound
	}
	obj := pairing.Object{Kind: pairing.KindRecord, ID: sum, Collection: pairing.CollPhotos, At: s.now()}
	if lp.pairing != "" {
		pr, _ := s.dir.Pairing(lp.pairing)
		obj.Pairing = &pr
	}
	return obj, lp, nil
}

// photoAccess says how p may reach a photo: a citing pairing p sees (and
// whether one of those opens the bytes), and the citing pairings p sees
// that hold no grant yet.
func (s *Server) photoAccess(ctx context.Context, p pairing.Principal, sum string) (loadedPhoto, []string, error) {
	lp := loadedPhoto{sum: sum}
	citers, err := s.ledger.PhotoCiters(ctx, sum)
	if err != nil {
		return lp, nil, err
	}
	pids := make([]string, 0, len(citers))
	for pid := range citers {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	var ungranted []string
	for _, pid := range pids {
		c := citers[pid]
		pr, ok := s.dir.Pairing(pid)
		if !ok || !pr.Sees(p) || p.Role == pairing.Contact && !c.Other {
			continue
		}
		if lp.pairing == "" || c.Granted && !lp.open {
			lp.pairing = pid
		}
		lp.open = lp.open || c.Granted
		if !c.Granted {
			ungranted = append(ungranted, pid)
		}
	}
	return lp, ungranted, nil
}

// grantPhoto lets the citations of the photo in every pairing p sees open
// its bytes (p stored them, proved they hold them, or could open them).
func (s *Server) grantPhoto(ctx context.Context, p pairing.Principal, sum string) error {
	if err := s.ledger.Refresh(ctx); err != nil {
		return err
	}
	_, ungranted, err := s.photoAccess(ctx, p, sum)
	if err != nil {
		return err
	}
	for _, pid := range ungranted {
		values, err := jsonValues(map[string]any{"sha256": sum, "pairing": pid, "by": p.UserID, "at": s.now().UTC().Format(time.RFC3339)})
		if err != nil {
			return err
		}
		if _, _, err := s.writeRecord(ctx, pairing.CollPhotoGrants, pairing.PhotoGrantID(pid, sum), pairing.PhotoScope, values); err != nil {
			return err
		}
	}
	return nil
}

type uploadRequest struct {
	// Size and Type are the photo's, as its manifest declares them.
	Size int64  `json:"size"`
	Type string `json:"type"`
}

// uploadAnswer says how to send a photo: nothing when the server has it
// already (stored), else the parts still missing, each with where to PUT
// it (a signed URL of the object store, sent as is, or this server's part
// route, sent with the access token), then POST Done.
type uploadAnswer struct {
	SHA256    string       `json:"sha256"`
	Stored    bool         `json:"stored"`
	UploadID  string       `json:"upload_id,omitempty"`
	Size      int64        `json:"size,omitempty"`
	PartSize  int64        `json:"part_size,omitempty"`
	Parts     []uploadPart `json:"parts,omitempty"`
	ExpiresAt time.Time    `json:"expires_at,omitzero"`
	Done      string       `json:"done,omitempty"`
}

type uploadPart struct {
	Number int               `json:"number"`
	Size   int64             `json:"size"`
	Sent   bool              `json:"sent"`
	Method string            `json:"method,omitempty"`
	URL    string            `json:"url,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	// Direct: the URL is the object store's, signed; send no token.
	Direct bool `json:"direct,omitempty"`
}

// photoError maps a policy refusal to its answer: 413 with a hint, 415, or
// 422.
func photoError(err error) error {
	var pe *imaging.Error
	if !errors.As(err, &pe) {
		return err
	}
	status := http.StatusUnprocessableEntity
	code := syncproto.CodeValidation
	switch pe.Code {
	case imaging.CodeTooLarge:
		status, code = http.StatusRequestEntityTooLarge, syncproto.CodeTooLarge
	case imaging.CodeTypeNotAccepted:
		status, code = http.StatusUnsupportedMediaType, syncproto.CodeUnsupportedMedia
	}
	reason := map[imaging.Code]string{imaging.CodeTypeMismatch: pairing.ReasonPhotoTypeMismatch, imaging.CodeTypeNotAccepted: pairing.ReasonPhotoTypeRefused,
		imaging.CodeTooLarge: pairing.ReasonPhotoTooLarge, imaging.CodeUnreadable: pairing.ReasonPhotoUnreadable}[pe.Code]
	return &Error{Status: status, Cause: err, Wire: syncproto.Error{Code: code, Field: "photo", Message: pe.Message, Reason: reason}}
}

// beginUpload: POST /v1/photos/:id/uploads.
func (s *Server) beginUpload(c *fiber.Ctx) error {
	var req uploadRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	lp := loaded[loadedPhoto](c)
	if err := s.photoPolicy.CheckSize(req.Size); err != nil {
		return photoError(err)
	}
	if req.Type != "" && !strings.HasPrefix(req.Type, "image/") || req.Type != "" && !contains(s.photoPolicy.Types, req.Type) {
		return photoError(&imaging.Error{Code: imaging.CodeTypeNotAccepted,
			Message: fmt.Sprintf("%s photos are not accepted; send one of %s", req.Type, strings.Join(s.photoPolicy.Types, ", "))})
	}
	ctx := c.UserContext()
	if !lp.open && s.ledger.PhotoStored(lp.sum) {
		// Stored, but not yet the caller's to open: answered as for a
		// photo the server lacks — send the bytes; they prove the caller
		// holds the photo (putPhoto), and only then is it theirs to open.
		return c.JSON(proofPlan(lp.sum, req.Size))
	}
	ans, err := s.uploadState(ctx, lp.sum, req.Size)
	if err != nil {
		return err
	}
	if ans.Stored {
		if err := s.grantPhoto(ctx, principal(c), lp.sum); err != nil {
			return err
		}
	}
	return c.JSON(ans)
}

// proofUpload is the upload id of a proof: the bytes of a photo the
// server has, sent whole to PUT /v1/photos/{sha256}.
const proofUpload = "proof"

// proofPlan asks for a stored photo's bytes from a caller who may not open
// it yet: one part, the whole photo, through the server.
func proofPlan(sum string, size int64) uploadAnswer {
	return uploadAnswer{SHA256: sum, UploadID: proofUpload, Size: size, PartSize: size,
		Parts: []uploadPart{{Number: 1, Size: size, Method: http.MethodPut, URL: "/v1/photos/" + sum + "?upload=" + proofUpload}},
		Done:  "/v1/photos/" + sum + "/done?upload=" + proofUpload}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// uploadState starts or resumes the upload of a photo and says what is
// left to send.
func (s *Server) uploadState(ctx context.Context, sum string, size int64) (uploadAnswer, error) {
	ans := uploadAnswer{SHA256: sum}
	u, err := s.photos.BeginUpload(ctx, sum, size)
	if errors.Is(err, storage.ErrExists) {
		// Stored already (by another phone, or before a lost answer):
		// make sure its receipt says so, and that no collection removes it
		// once the phone, told so, drops its copy (keepPhoto).
		if err := s.keepPhoto(ctx, sum); err != nil {
			return ans, err
		}
		ans.Stored = true
		return ans, nil
	}
	if err != nil {
		return ans, err
	}
	ans.UploadID, ans.Size, ans.PartSize = u.ID, u.Size, u.PartSize
	ans.Done = "/v1/photos/" + sum + "/done?upload=" + u.ID
	sent := map[int]bool{}
	for _, p := range u.Done {
		sent[p.Number] = true
	}
	presigner, direct := s.photos.(storage.Presigner)
	for n := 1; n <= u.Parts(); n++ {
		part := uploadPart{Number: n, Size: u.PartLen(n), Sent: sent[n]}
		if !part.Sent {
			if direct {
				req, err := presigner.PresignPart(ctx, sum, u.ID, n, s.presignPut)
				if err != nil {
					return ans, err
				}
				part.Method, part.URL, part.Header, part.Direct = req.Method, req.URL, req.Header, true
				ans.ExpiresAt = req.ExpiresAt
			} else {
				part.Method, part.URL = http.MethodPut, fmt.Sprintf("/v1/photos/%s/parts/%d?upload=%s", sum, n, u.ID)
			}
		}
		ans.Parts = append(ans.Parts, part)
	}
	return ans, nil
}

// putPart: PUT /v1/photos/:id/parts/:n?upload= — one part's bytes, through
// the server (the local photo store; also accepted with MinIO).
func (s *Server) putPart(c *fiber.Ctx) error {
	lp := loaded[loadedPhoto](c)
	n, err := strconv.Atoi(c.Params("n"))
	if err != nil || n < 1 {
		return badRequest("n", "the part number must be 1 or more")
	}
	upload := c.Query("upload")
	if upload == "" {
		return badRequest("upload", "name the upload (?upload=, from POST /v1/photos/{sha256}/uploads)")
	}
	err = s.photos.PutPart(c.UserContext(), lp.sum, upload, n, bytes.NewReader(c.Body()))
	switch {
	case errors.Is(err, storage.ErrMismatch):
		return errorf(http.StatusUnprocessableEntity, syncproto.CodeValidation, "part %d has the wrong length: ask POST /v1/photos/%s/uploads for the parts' sizes", n, lp.sum)
	case errors.Is(err, storage.ErrNotFound):
		return errorf(http.StatusNotFound, syncproto.CodeNotFound, "no such upload: start it again with POST /v1/photos/%s/uploads", lp.sum)
	case errors.Is(err, storage.ErrInvalid):
		return badRequest("n", "part %d is out of range", n)
	case err != nil:
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// putPhoto: PUT /v1/photos/:id — a whole photo in one request (the local
// store's simple path): the body's bytes, checked and stored at once.
func (s *Server) putPhoto(c *fiber.Ctx) error {
	lp := loaded[loadedPhoto](c)
	ctx := c.UserContext()
	body := c.Body()
	if err := s.photoPolicy.CheckSize(int64(len(body))); err != nil {
		return photoError(err)
	}
	if !lp.open && s.ledger.PhotoStored(lp.sum) || c.Query("upload") == proofUpload {
		// A proof: the bytes must hash to the photo; then the caller's
		// citations open it.
		if h := sha256.Sum256(body); hex.EncodeToString(h[:]) != lp.sum {
			return errMismatch(lp.sum)
		}
		if err := s.grantPhoto(ctx, principal(c), lp.sum); err != nil {
			return err
		}
		if s.ledger.PhotoStored(lp.sum) {
			if err := s.keepPhoto(ctx, lp.sum); err != nil {
				return err
			}
			return c.JSON(photoDone{SHA256: lp.sum, Stored: true})
		}
	}
	ans, err := s.uploadState(ctx, lp.sum, int64(len(body)))
	if err != nil || ans.Stored {
		if err == nil {
			if err := s.grantPhoto(ctx, principal(c), lp.sum); err != nil {
				return err
			}
			return c.JSON(photoDone{SHA256: lp.sum, Stored: true})
		}
		return err
	}
	for _, p := range ans.Parts {
		if p.Sent {
			continue
		}
		start := int64(p.Number-1) * ans.PartSize
		if err := s.photos.PutPart(ctx, lp.sum, ans.UploadID, p.Number, bytes.NewReader(body[start:start+p.Size])); err != nil {
			return err
		}
	}
	done, err := s.completeUpload(ctx, principal(c), lp, ans.UploadID, c.Get(fiber.HeaderContentType))
	if err != nil {
		return err
	}
	return c.JSON(done)
}

// photoDone is the answer once a photo is stored.
type photoDone struct {
	SHA256 string `json:"sha256"`
	Stored bool   `json:"stored"`
	Size   int64  `json:"size,omitempty"`
	Type   string `json:"type,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// donePhoto: POST /v1/photos/:id/done?upload= — the parts are sent: check
// and store. A mismatch (hash, size, type) is refused and nothing stored;
// the phone keeps its copy.
func (s *Server) donePhoto(c *fiber.Ctx) error {
	lp := loaded[loadedPhoto](c)
	upload := c.Query("upload")
	if upload == "" {
		return badRequest("upload", "name the upload (?upload=)")
	}
	if upload == proofUpload {
		// The proof's bytes went whole to PUT /v1/photos/{sha256}: done
		// when they opened the photo to the caller, else as for an upload
		// the server does not know.
		if !lp.open {
			return errNoUpload(lp.sum)
		}
		if err := s.keepPhoto(c.UserContext(), lp.sum); err != nil {
			return err
		}
		return c.JSON(photoDone{SHA256: lp.sum, Stored: true})
	}
	done, err := s.completeUpload(c.UserContext(), principal(c), lp, upload, "")
	if err != nil {
		return err
	}
	return c.JSON(done)
}

// completeUpload assembles, checks and stores an upload, and writes the
// photo's receipt. declared is the type the uploader says (else the
// manifest's).
func (s *Server) completeUpload(ctx context.Context, p pairing.Principal, lp loadedPhoto, upload, declared string) (photoDone, error) {
	sum := lp.sum
	manifest, cited, err := s.ledger.PhotoManifest(ctx, sum)
	if err != nil {
		return photoDone{}, err
	}
	if declared == "" || !strings.HasPrefix(declared, "image/") {
		declared = manifest.Type
	}
	var info imaging.Info
	check := func(head []byte) error {
		i, err := s.photoPolicy.Check(declared, head)
		info = i
		return err
	}
	pi, err := s.photos.CompleteUpload(ctx, sum, upload, check)
	var pe *imaging.Error
	switch {
	case errors.As(err, &pe):
		return photoDone{}, photoError(err)
	case errors.Is(err, storage.ErrMismatch):
		return photoDone{}, errMismatch(sum)
	case errors.Is(err, storage.ErrIncomplete):
		return photoDone{}, errorf(http.StatusConflict, syncproto.CodeConflict,
			"parts are missing: POST /v1/photos/%s/uploads says which, then send them", sum)
	case errors.Is(err, storage.ErrNotFound):
		if _, serr := s.photos.StatPhoto(ctx, sum); serr == nil && lp.open {
			// Completed already (a retried done).
			if err := s.keepPhoto(ctx, sum); err != nil {
				return photoDone{}, err
			}
			return photoDone{SHA256: sum, Stored: true}, nil
		}
		// A caller who may not open the photo learns nothing of it.
		return photoDone{}, errNoUpload(sum)
	case err != nil:
		return photoDone{}, err
	}
	// The header is not the photo: decode it whole (making
	// its thumbnail, kept for later) before it counts as stored; one that
	// does not decode is removed and refused.
	if _, err := s.thumbnail(ctx, sum); err != nil {
		var pe *imaging.Error
		if !errors.As(err, &pe) {
			return photoDone{}, err
		}
		if derr := s.photos.DeletePhoto(ctx, sum); derr != nil {
			s.log.Warn("undecodable photo not removed", "sha256", sum, "err", derr)
		}
		return photoDone{}, err
	}
	if cited && manifest.Size > 0 && pi.Size != 0 && manifest.Size != pi.Size {
		s.log.Warn("photo size differs from its manifest", "sha256", sum, "manifest", manifest.Size, "stored", pi.Size)
	}
	typ := info.Type
	if typ == "" {
		typ = declared
	}
	if err := s.writeReceipt(ctx, pairing.PhotoReceipt{SHA256: sum, Stored: true, Size: pi.Size, Type: typ, Width: info.Width, Height: info.Height}); err != nil {
		return photoDone{}, err
	}
	if err := s.grantPhoto(ctx, p, sum); err != nil { // the uploader's citations open it
		return photoDone{}, err
	}
	s.metrics.photoBytes.Add(float64(pi.Size))
	return photoDone{SHA256: sum, Stored: true, Size: pi.Size, Type: typ, Width: info.Width, Height: info.Height}, nil
}

func errMismatch(sum string) *Error {
	return errorf(http.StatusUnprocessableEntity, syncproto.CodeValidation,
		"the bytes do not hash to %s or have another size: nothing was stored; keep the photo and upload it again", sum).why(pairing.ReasonPhotoMismatch)
}

func errNoUpload(sum string) *Error {
	return errorf(http.StatusNotFound, syncproto.CodeNotFound, "no such upload: start it with POST /v1/photos/%s/uploads", sum)
}

// writeReceipt records in the photo scope that a photo is (or is no
// longer) stored.
func (s *Server) writeReceipt(ctx context.Context, r pairing.PhotoReceipt) error {
	values, err := jsonValues(map[string]any{"sha256": r.SHA256, "stored": r.Stored, "size": r.Size, "type": r.Type,
		"width": r.Width, "height": r.Height, "at": s.now().UTC().Format(time.RFC3339), "grants": true, "marked": false})
	if err != nil {
		return err
	}
	_, _, err = s.writeRecord(ctx, pairing.CollPhotos, r.SHA256, pairing.PhotoScope, values)
	return err
}

// getPhoto: GET /v1/photos/:id — the photo's bytes (streamed), or with
// ?thumb=1 its thumbnail (made once, kept), or with ?redirect=1 a 307 to a
// URL of the object store signed for 5 minutes (when it signs).
func (s *Server) getPhoto(c *fiber.Ctx) error {
	lp := loaded[loadedPhoto](c)
	ctx := c.UserContext()
	if !s.ledger.PhotoStored(lp.sum) || !lp.open {
		// Not stored, or not yet the caller's to open (a citation alone
		// opens nothing): the same answer.
		return errorf(http.StatusNotFound, syncproto.CodeNotFound, "the photo has not been uploaded yet")
	}
	// Private and short: a device keeps a photo at most 5
	// minutes after its access to it ends.
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set(fiber.HeaderETag, `"`+lp.sum+`"`)
	if c.QueryBool("thumb") {
		thumb, err := s.thumbnail(ctx, lp.sum)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "image/jpeg")
		return c.Send(thumb)
	}
	if presigner, ok := s.photos.(storage.Presigner); ok && c.QueryBool("redirect") {
		req, err := presigner.PresignGet(ctx, lp.sum, presignGetExpiry)
		if err != nil {
			return err
		}
		return c.Redirect(req.URL, http.StatusTemporaryRedirect)
	}
	// The bytes stream after the handler has returned, when the request's
	// context is already cancelled: the stream gets a context of its own
	// (the store's own timeouts still bound a stalled read; fasthttp closes
	// the stream when sent or when the client goes).
	rc, pi, err := s.photos.OpenPhoto(context.WithoutCancel(ctx), lp.sum)
	if err != nil {
		return err
	}
	if m, ok, err := s.ledger.PhotoManifest(ctx, lp.sum); err == nil && ok && m.Type != "" {
		c.Set(fiber.HeaderContentType, m.Type)
	} else {
		c.Set(fiber.HeaderContentType, "application/octet-stream")
	}
	return c.SendStream(rc, int(pi.Size))
}

// thumbnail returns a photo's thumbnail, making and keeping it the first
// time.
func (s *Server) thumbnail(ctx context.Context, sum string) ([]byte, error) {
	thumb, err := s.photos.Thumbnail(ctx, sum)
	if err == nil {
		return thumb, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	rc, _, err := s.photos.OpenPhoto(ctx, sum)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if thumb, err = s.thumbnailer.Make(ctx, rc); err != nil {
		return nil, photoError(err)
	}
	if err := s.photos.PutThumbnail(ctx, sum, thumb); err != nil {
		s.log.Warn("thumbnail not kept", "sha256", sum, "err", err)
	}
	return thumb, nil
}

// readFull reads into b until it is full or r ends.
func readFull(r io.Reader, b []byte) (int, error) {
	n, err := io.ReadFull(r, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
