package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// answer decodes one call's JSON answer.
func answer(t *testing.T, s string, into any) {
	t.Helper()
	var a struct {
		OK    json.RawMessage `json:"ok"`
		Error *struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		t.Fatalf("answer %s: %v", s, err)
	}
	if a.Error != nil {
		t.Fatalf("got error %s: %s", a.Error.Code, a.Error.Message)
	}
	if err := json.Unmarshal(a.OK, into); err != nil {
		t.Fatalf("answer %s: %v", a.OK, err)
	}
}

// TestGoldenThroughAPI runs syncproto's golden vectors through the very
// functions the web app calls (the node test runs them in the wasm build).
func TestGoldenThroughAPI(t *testing.T) {
	files, err := filepath.Glob("../../syncproto/testdata/golden/*.json")
	if err != nil || len(files) < 7 {
		t.Fatalf("got %d golden files (%v), want at least 7", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				Inputs             []json.RawMessage `json:"inputs"`
				Output             json.RawMessage   `json:"output"`
				Deleted            bool              `json:"deleted"`
				EditDeleteConflict bool              `json:"edit_delete_conflict"`
			}
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			var want recordInfo
			answer(t, call("decodeRecord", []string{string(g.Output)}), &want)
			acc := "null"
			for _, in := range g.Inputs {
				var got recordInfo
				answer(t, call("merge", []string{acc, string(in)}), &got)
				acc = got.Record
			}
			if acc != want.Record {
				t.Errorf("merge of the inputs:\n got  %s\n want %s", acc, want.Record)
			}
			if want.Deleted != g.Deleted || want.EditDeleteConflict != g.EditDeleteConflict {
				t.Errorf("flags: got deleted=%v edit_delete_conflict=%v, want %v %v", want.Deleted, want.EditDeleteConflict, g.Deleted, g.EditDeleteConflict)
			}
		})
	}
}

// TestWriteRebuildChange walks one write through the outbox functions: the
// write, the view rebuilt from the base, the change pushed, the base folded.
func TestWriteRebuildChange(t *testing.T) {
	req, _ := json.Marshal(writeRequest{Op: "set", Collection: "visits", ID: "v1", Pairing: "p1",
		Values: map[string]json.RawMessage{"notes": json.RawMessage(`"hello"`)}, Now: 1740000000000})
	var w writeAnswer
	answer(t, call("write", []string{`{"replica":"dev-1","counter":0,"clock":[0,0]}`, "", string(req)}), &w)
	if w.State.Counter != 1 || !strings.Contains(w.Write, `"dot":"dev-1:1"`) {
		t.Fatalf("got counter %d write %s, want 1 and dot dev-1:1", w.State.Counter, w.Write)
	}
	pending := "[" + w.Write + "]"
	var view recordInfo
	answer(t, call("rebuild", []string{"null", pending}), &view)
	if view.Record != w.View.Record {
		t.Fatalf("rebuilt view %s, want the write's %s", view.Record, w.View.Record)
	}
	var ch string
	answer(t, call("change", []string{"null", pending, "dev-1:1"}), &ch)
	body := call("encodePush", []string{"dev-1", "[" + ch + "]"})
	if !strings.Contains(body, `\"device\":\"dev-1\"`) {
		t.Fatalf("push body %s names no device", body)
	}
	var base recordInfo
	answer(t, call("fold", []string{"null", ch}), &base)
	if base.Record != w.View.Record {
		t.Fatalf("folded base %s, want %s", base.Record, w.View.Record)
	}
	// The base has seen the write now: the view skips it, and its change
	// would be a stand-in.
	answer(t, call("rebuild", []string{base.Record, pending}), &view)
	if view.Record != base.Record {
		t.Fatalf("view over a base that saw the write: %s, want %s", view.Record, base.Record)
	}
	if got := call("nope", nil); !strings.Contains(got, `"error"`) {
		t.Fatalf("unknown function answered %s, want an error", got)
	}
}

// TestFoldAnswerHeld: an applied change with the server's stamp folds as
// the version the server stored and is held at its seq, which the next
// pull names; a merged one folds the change's record, not held.
func TestFoldAnswerHeld(t *testing.T) {
	phone := syncproto.Writer{Replica: "phone-1"}
	srv := syncproto.Writer{Replica: "srv-1"}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	r1, w1, err := phone.Set(syncproto.NewRecord("visits", "v1", "p1"), map[string]json.RawMessage{"notes": json.RawMessage(`"走访"`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	r2, w2, err := phone.Set(syncproto.NewRecord("visits", "v2", "p1"), map[string]json.RawMessage{"notes": json.RawMessage(`"回访"`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	stored, stamp, err := srv.Set(r1, map[string]json.RawMessage{"received_at": json.RawMessage(`"2026-12-07T09:00:01Z"`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	ch1, _ := syncproto.Encode(syncproto.Change{Dot: w1.Dot, HLC: w1.HLC, Record: r1})
	ch2, _ := syncproto.Encode(syncproto.Change{Dot: w2.Dot, HLC: w2.HLC, Record: r2})
	ans, _ := syncproto.Encode(syncproto.PushAnswer{V: 1, Results: []syncproto.Result{
		{Dot: w1.Dot, Status: syncproto.StatusApplied, Seq: 7, Stamp: []syncproto.Write{stamp}},
		{Dot: w2.Dot, Status: syncproto.StatusMerged, Seq: 9},
	}})
	var got []folded
	answer(t, call("foldAnswer", []string{`[[null,` + string(ch1) + `],[null,` + string(ch2) + `]]`, string(ans)}), &got)
	want1, _ := syncproto.Encode(stored)
	want2, _ := syncproto.Encode(r2)
	if len(got) != 2 || got[0].Record != string(want1) || !got[0].Held || got[0].Seq != 7 || got[1].Record != string(want2) || got[1].Held {
		t.Fatalf("foldAnswer = %+v,\n want [{%s held 7} {%s not held}]", got, want1, want2)
	}
	var body string
	answer(t, call("encodePull", []string{`{"p1":5}`, "0", `{"p1":[9,7,3]}`}), &body)
	if want := `{"v":1,"cursor":{"p1":5},"held":{"p1":[[7,7],[9,9]]}}`; body != want {
		t.Errorf("encodePull with held = %s, want %s", body, want)
	}
	answer(t, call("encodePull", []string{`{"p1":5}`, "0"}), &body)
	if want := `{"v":1,"cursor":{"p1":5}}`; body != want {
		t.Errorf("encodePull without held = %s, want %s", body, want)
	}
}
