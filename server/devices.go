package server

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

type deviceView struct {
	ID        string     `json:"id"` // the replica id that stamps the device's changes
	UserID    string     `json:"user_id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Rev       uint64     `json:"rev"`
}

func viewDevice(d storage.Device) deviceView {
	v := deviceView{ID: d.ID, UserID: d.UserID, Name: d.Name, CreatedAt: d.CreatedAt, Rev: d.Rev}
	if !d.LastSeen.IsZero() {
		t := d.LastSeen
		v.LastSeen = &t
	}
	if !d.RevokedAt.IsZero() {
		t := d.RevokedAt
		v.RevokedAt = &t
	}
	return v
}

type registerDeviceRequest struct {
	Name string `json:"name"`
}

type registeredDevice struct {
	Device deviceView `json:"device"`
	// AccessToken is a fresh token bound to the device (sync needs one);
	// the session's refresh tokens are bound to it too.
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// registerDevice: POST /v1/devices — the phone or browser the user signed
// in on. The answer's device id is the replica id of its changes.
func (s *Server) registerDevice(c *fiber.Ctx) error {
	var req registerDeviceRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 64 {
		return badRequest("name", "name the device (1 to 64 characters), for example 张三的手机")
	}
	if pairing.HasBidiControl(req.Name) {
		return &Error{Status: http.StatusBadRequest, Wire: *pairing.BidiRefusal("name")}
	}
	ctx, cl := c.UserContext(), claims(c)
	u, err := s.store.User(ctx, cl.Subject)
	if err != nil {
		return err
	}
	// At most Config.MaxDevicesPerUser live devices per user: a
	// stolen password cannot enrol phones without end. Serialized per user
	// within this process (the "u|" keys do not meet the device ids).
	defer s.deviceLocks.lock("u|" + u.ID)()
	devices, err := s.store.DevicesOf(ctx, u.ID)
	if err != nil {
		return err
	}
	live := 0
	for _, d := range devices {
		if d.RevokedAt.IsZero() {
			live++
		}
	}
	if live >= s.cfg.MaxDevicesPerUser {
		return errorf(http.StatusConflict, syncproto.CodeTooManyDevices,
			"you already have %d devices registered: ask an administrator to revoke one you no longer use (console, Devices), then register this one", live)
	}
	d, err := s.store.CreateDevice(ctx, storage.Device{ID: uuid.Must(uuid.NewV7()).String(), UserID: u.ID, Name: req.Name, CreatedAt: s.now().UTC()})
	if err != nil {
		return err
	}
	if cl.Family != "" {
		if err := s.store.BindSessionDevice(ctx, cl.Family, d.ID); err != nil {
			return err
		}
	}
	sess, err := s.issue(ctx, u, d.ID, cl.Family, "")
	if err != nil {
		return err
	}
	path := principal(c).OrgPath
	s.audit(c, storage.AuditEvent{Action: "device_register", Device: d.ID, Result: "ok", Object: "device:" + d.ID, OrgPath: path})
	return c.Status(http.StatusCreated).JSON(registeredDevice{Device: viewDevice(d), AccessToken: sess.AccessToken, ExpiresIn: sess.ExpiresIn})
}

// listDevices: GET /v1/devices[?user=ID] — your devices, or (admins) a
// user's in your subtree.
func (s *Server) listDevices(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	userID := c.Query("user", p.UserID)
	if userID != p.UserID {
		u, err := s.store.User(ctx, userID)
		if errors.Is(err, storage.ErrNotFound) {
			return errorf(http.StatusNotFound, "not_found", "not found")
		}
		if err != nil {
			return err
		}
		path, err := s.orgPath(ctx, u.OrgUnit)
		if err != nil {
			return err
		}
		if err := s.authorize(c, pairing.Read, pairing.Object{Kind: pairing.KindDevice, OrgPath: path, Owner: u.ID}); err != nil {
			return err
		}
	}
	ds, err := s.store.DevicesOf(ctx, userID)
	if err != nil {
		return err
	}
	out := make([]deviceView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewDevice(s.seen.seen(d)))
	}
	return c.JSON(fiber.Map{"devices": out})
}

// loadDevice resolves /v1/devices/:id for the policy.
func loadDevice(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
	ctx := c.UserContext()
	d, err := s.store.Device(ctx, c.Params("id"))
	if err != nil {
		return pairing.Object{}, nil, err
	}
	owner, err := s.store.User(ctx, d.UserID)
	if err != nil {
		return pairing.Object{}, nil, err
	}
	path, err := s.orgPath(ctx, owner.OrgUnit)
	if err != nil {
		return pairing.Object{}, nil, err
	}
	return pairing.Object{Kind: pairing.KindDevice, ID: d.ID, OrgPath: path, Owner: d.UserID}, d, nil
}

// getDevice: GET /v1/devices/:id.
func (s *Server) getDevice(c *fiber.Ctx) error {
	return c.JSON(viewDevice(s.seen.seen(loaded[storage.Device](c))))
}

// revokeDevice: POST /v1/devices/:id/revoke — its sessions end now: every
// request of it, pushes included, is answered device_revoked (the client
// wipes its local data; liveness.go).
func (s *Server) revokeDevice(c *fiber.Ctx) error {
	ctx, now := c.UserContext(), s.now().UTC()
	d := loaded[storage.Device](c)
	for attempt := 0; d.RevokedAt.IsZero(); attempt++ {
		d.RevokedAt = now
		nd, err := s.store.UpdateDevice(ctx, d)
		if errors.Is(err, storage.ErrConflict) && attempt < 5 {
			if d, err = s.store.Device(ctx, d.ID); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		d = nd
	}
	if _, err := s.store.RevokeSessions(ctx, storage.SessionFilter{DeviceID: d.ID}, now); err != nil {
		return err
	}
	owner, _ := s.store.User(ctx, d.UserID)
	path, _ := s.orgPath(ctx, owner.OrgUnit)
	s.audit(c, storage.AuditEvent{Action: "device_revoke", Result: "ok", Object: "device:" + d.ID, OrgPath: path})
	return c.JSON(viewDevice(d))
}
