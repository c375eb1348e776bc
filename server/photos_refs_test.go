package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
)

// TestPhotoHeaderOnlyRefused: a photo whose bytes are a
// valid header and nothing else is decoded whole before it counts as
// stored, refused, and not kept.
func TestPhotoHeaderOnlyRefused(t *testing.T) {
	e, pid, off := fieldWork(t)
	whole := testJPEG(t, 11, 20<<10)
	sos := bytes.Index(whole, []byte{0xFF, 0xDA})
	if sos < 0 {
		t.Fatal("no start of scan in the test JPEG")
	}
	header := whole[:sos+14] // the header and the scan's own header: no image data
	_, ans := off.push(off.set("visits", "v1", pid, map[string]any{"mode": "onsite", "visited_at": e.now().UTC().Format(time.RFC3339),
		"officers": []string{"u-officerA"}, "photos": manifestOf("image/jpeg", header)}))
	wantResults(t, "visit citing the header-only photo", ans, "applied")
	if r := off.phoneUpload(header, "image/jpeg", 0); r.status != 422 {
		t.Fatalf("upload of a header without image data: got %d %s, want 422", r.status, r.body)
	}
	if r := e.call("GET", "/v1/photos/"+sumOf(header), off.token, nil); r.status != 404 {
		t.Fatalf("read the refused photo: got %d, want 404", r.status)
	}
	var v visitDetail
	e.call("GET", "/v1/visits/v1", e.login("adminA").AccessToken, nil).json(t, &v)
	if v.Complete || len(v.Missing) != 1 {
		t.Fatalf("the visit after the refusal: complete %v, missing %v; want the photo still missing", v.Complete, v.Missing)
	}
}

// TestPhotoCitationGrantsNothing: citing a photo's hash
// opens no bytes the citer never held or could already see; the upload
// route answers a photo the caller may not open as it answers one the
// server lacks (send the bytes), and the bytes, once sent, prove the
// caller holds the photo; contacts do not open photos cited only by
// visits, which they do not receive.
func TestPhotoCitationGrantsNothing(t *testing.T) {
	e := newDomainEnv(t)
	pidA, _ := domainFixture(t, e)
	pidB, _, _ := fixtureB(t, e)
	at := e.now().UTC().Format(time.RFC3339)
	photo, unknown := testJPEG(t, 21, 20<<10), testJPEG(t, 22, 20<<10)
	offB := e.device(t, "officerB")
	offB.pull()
	_, ans := offB.push(offB.set("visits", "vB", pidB, map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerB"},
		"photos": manifestOf("image/jpeg", photo)}))
	wantResults(t, "B's visit with its photo", ans, "applied")
	if r := offB.phoneUpload(photo, "image/jpeg", 0); r.status != 200 {
		t.Fatalf("B uploads: got %d %s", r.status, r.body)
	}
	if r := e.call("GET", "/v1/photos/"+sumOf(photo), offB.token, nil); r.status != 200 {
		t.Fatalf("B reads its own photo: got %d, want 200", r.status)
	}
	if r := e.call("GET", "/v1/photos/"+sumOf(photo), e.login("contactB").AccessToken, nil); r.status != 404 {
		t.Fatalf("B's contact reads a photo cited only by a visit: got %d, want 404", r.status)
	}

	offA := e.device(t, "officerA")
	offA.pull()
	_, ans = offA.push(offA.set("visits", "vA", pidA, map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"},
		"photos": manifestOf("image/jpeg", photo, unknown)}))
	wantResults(t, "A cites B's photo's hash", ans, "applied")
	if r := e.call("GET", "/v1/photos/"+sumOf(photo), offA.token, nil); r.status != 404 {
		t.Fatalf("A reads B's photo by citing its hash: got %d, want 404", r.status)
	}
	begin := func(data []byte) uploadAnswer {
		t.Helper()
		r := e.call("POST", "/v1/photos/"+sumOf(data)+"/uploads", offA.token, map[string]any{"size": len(data), "type": "image/jpeg"})
		if r.status != 200 {
			t.Fatalf("begin upload: got %d %s", r.status, r.body)
		}
		var a uploadAnswer
		r.json(t, &a)
		return a
	}
	if got, want := begin(photo), begin(unknown); got.Stored || want.Stored || len(got.Parts) == 0 {
		t.Fatalf("upload of a stored photo A may not open: got %+v, want the answer of a photo the server lacks (%+v): send the bytes", got, want)
	}
	for _, path := range []string{"/v1/photos/" + sumOf(photo) + "/done?upload=" + proofUpload, "/v1/photos/" + sumOf(photo) + "/done?upload=x"} {
		if r := e.call("POST", path, offA.token, nil); r.status != 404 {
			t.Fatalf("POST %s before sending bytes: got %d %s, want 404 as for an unknown upload", path, r.status, r.body)
		}
	}
	if r := e.call("PUT", "/v1/photos/"+sumOf(photo)+"?upload="+proofUpload, offA.token, unknown); r.status != 422 {
		t.Fatalf("other bytes as proof: got %d %s, want 422", r.status, r.body)
	}
	if r := e.call("GET", "/v1/photos/"+sumOf(photo), offA.token, nil); r.status != 404 {
		t.Fatalf("A reads after a failed proof: got %d, want 404", r.status)
	}
	// Holding the bytes proves knowledge: A's phone sends them.
	if r := offA.phoneUpload(photo, "image/jpeg", 0); r.status != 200 {
		t.Fatalf("A sends the photo's bytes: got %d %s", r.status, r.body)
	}
	if r := e.call("GET", "/v1/photos/"+sumOf(photo), offA.token, nil); r.status != 200 {
		t.Fatalf("A reads the photo it proved it holds: got %d, want 200", r.status)
	}
}

// grantPhotoForTest records that pairing pid's citations of a photo open
// it, as the upload by one of its people does (fixtures that store photos
// directly).
func grantPhotoForTest(t testing.TB, e *idEnv, pid, sum string) {
	t.Helper()
	vals, _ := jsonValues(map[string]any{"sha256": sum, "pairing": pid})
	if _, _, err := e.s.writeRecord(t.Context(), pairing.CollPhotoGrants, pairing.PhotoGrantID(pid, sum), pairing.PhotoScope, vals); err != nil {
		t.Fatal(err)
	}
}
