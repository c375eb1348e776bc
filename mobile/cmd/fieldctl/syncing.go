package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pairsync/pairsync/mobile"
)

// bar draws a Sync's progress on stderr: one line redrawn in place on a
// terminal, else a line per phase.
type bar struct {
	w        io.Writer
	tty      bool
	phase    string
	last     time.Time
	width    int
	lastLine string
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (b *bar) update(p mobile.Progress) {
	if p.Phase == mobile.PhaseDone {
		return
	}
	line := progressLine(p)
	if b.tty {
		if time.Since(b.last) < 100*time.Millisecond && p.Phase == b.phase {
			return
		}
		b.last = time.Now()
		b.phase = p.Phase
		pad := max(b.width-len([]rune(line)), 0)
		b.width = len([]rune(line))
		fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
		return
	}
	if p.Phase != b.phase {
		if b.phase != "" {
			fmt.Fprintln(b.w, b.lastLine)
		}
		b.phase = p.Phase
	}
	b.lastLine = line
}

// finish ends the bar, then prints how far each pairing is caught up.
func (b *bar) finish(p mobile.Progress) {
	if b.tty && b.width > 0 {
		fmt.Fprintf(b.w, "\r%s\n", progressLine(p))
	} else if b.lastLine != "" {
		fmt.Fprintln(b.w, b.lastLine)
		fmt.Fprintln(b.w, progressLine(p))
	}
	for _, pp := range p.Pairings {
		if pp.CaughtUp() {
			fmt.Fprintf(b.w, "%s: caught up to sequence %d\n", pp.Pairing, pp.Seq)
		} else {
			fmt.Fprintf(b.w, "%s: at sequence %d of %d\n", pp.Pairing, pp.Seq, pp.Head)
		}
	}
}

// progressLine is "upload 3/10 · records 120/500 · photos 1/3 1.2/3.4 MiB".
func progressLine(p mobile.Progress) string {
	parts := []string{fmt.Sprintf("upload %d/%d", p.UploadDone, p.UploadTotal)}
	if p.Phase != mobile.PhaseUpload {
		parts = append(parts, fmt.Sprintf("records %d/%d", p.RecordsDone, p.RecordsTotal))
	}
	if p.PhotosTotal > 0 || p.Phase == mobile.PhasePhotos {
		parts = append(parts, fmt.Sprintf("photos %d/%d %s/%s", p.PhotosDone, p.PhotosTotal, bytesString(p.PhotoBytesDone), bytesString(p.PhotoBytesTotal)))
	}
	s := strings.Join(parts, " · ")
	if p.Phase != mobile.PhaseDone && p.Phase != "" {
		s = "[" + p.Phase + "] " + s
	}
	return s
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func cmdSync(c *cli, args []string) error {
	fs := c.flags("sync", "[-q] [-timeout 30m]", "Push the changes made here, pull what changed on the server (every pairing you may see), then\nupload the photos the pushed records cite. Progress goes to stderr; a summary to stdout.\nA sync cut short (network, ^C) is finished by the next one: nothing is lost or sent twice.")
	quiet := fs.Bool("q", false, "no progress on stderr")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	b := &bar{w: c.stderr, tty: isTerminal(c.stderr)}
	cfg := mobile.Config{}
	if !*quiet {
		cfg.OnProgress = b.update
	}
	e, err := c.openSignedIn(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(c.ctx, *timeout)
	defer cancel()
	p, err := e.Sync(ctx)
	if !*quiet {
		b.finish(p)
	}
	fmt.Fprintf(c.stdout, "pushed %d changes (%d rejected), pulled %d records", p.UploadDone, p.Rejected, p.RecordsDone)
	if p.PhotosTotal > 0 {
		fmt.Fprintf(c.stdout, ", photos %d/%d stored (%s)", p.PhotosDone, p.PhotosTotal, bytesString(p.PhotoBytesDone))
	}
	fmt.Fprintln(c.stdout)
	if p.Rejected > 0 {
		fmt.Fprintf(c.stdout, "%d changes were refused: fieldctl rejected says why\n", p.Rejected)
	}
	if p.PhotosRefused > 0 {
		fmt.Fprintf(c.stdout, "%d photos refused or lost: fieldctl rejected says why\n", p.PhotosRefused)
	}
	if p.PhotosWaiting > 0 {
		fmt.Fprintf(c.stdout, "%d photos waiting (for an accepted record, or the network)\n", p.PhotosWaiting)
	}
	if p.Wiped {
		fmt.Fprintf(c.stdout, "this device was revoked: local data wiped (%d changes could not be pushed)\n", p.Discarded)
	}
	if errors.Is(err, mobile.ErrSignInRequired) {
		return fmt.Errorf("%w: run fieldctl login", err)
	}
	return err
}

func cmdStatus(c *cli, args []string) error {
	fs := c.flags("status", "", "Say where this device stands: offline (the server cannot be reached), pending N (changes or\nphotos not yet sent), behind (the server has newer changes), or caught up.")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the server")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	e, err := c.openSignedIn(mobile.Config{RequestTimeout: *timeout, MaxAttempts: 1})
	if err != nil {
		return err
	}
	defer e.Close()
	a := e.Account()
	pending := e.Pending()
	photos := 0
	for _, p := range e.PendingPhotos() {
		if p.State != mobile.PhotoRefused && p.State != mobile.PhotoLost {
			photos++
		}
	}
	fmt.Fprintf(c.stdout, "%s as %s (%s), device %s\n", a.Server, a.Username, a.Role, a.DeviceID)
	ctx, cancel := context.WithTimeout(c.ctx, *timeout)
	defer cancel()
	scopes, err := e.Scopes(ctx)
	var serr *mobile.ServerError
	switch {
	case errors.Is(err, mobile.ErrSignInRequired):
		fmt.Fprintln(c.stdout, "signed out: the session ended; run fieldctl login (local data is kept)")
	case errors.As(err, &serr):
		fmt.Fprintf(c.stdout, "server error: %s\n", serr.Message)
	case err != nil:
		fmt.Fprintf(c.stdout, "offline: %s cannot be reached\n", a.Server)
	}
	if pending > 0 || photos > 0 {
		fmt.Fprintf(c.stdout, "pending %d changes, %d photos\n", pending, photos)
	}
	if n := len(e.Rejected()); n > 0 {
		fmt.Fprintf(c.stdout, "%d rejected changes: fieldctl rejected\n", n)
	}
	if n := len(e.Conflicts()); n > 0 {
		fmt.Fprintf(c.stdout, "%d records in conflict: fieldctl conflicts\n", n)
	}
	if err != nil {
		return nil
	}
	behind := 0
	for _, s := range scopes {
		if !s.CaughtUp() {
			behind++
			fmt.Fprintf(c.stdout, "behind: %s at sequence %d of %d\n", s.Pairing, s.Seq, s.Head)
		}
	}
	if behind == 0 && pending == 0 && photos == 0 {
		fmt.Fprintf(c.stdout, "caught up (%d pairings)\n", len(scopes))
	}
	return nil
}

func cmdConflicts(c *cli, args []string) error {
	e, err := c.openNoFlags("conflicts", "List the records holding concurrent edits of a field (the losing values are kept on the record)\nor an edit made without seeing a delete. Works offline.", args)
	if err != nil {
		return err
	}
	defer e.Close()
	cs := e.Conflicts()
	if len(cs) == 0 {
		fmt.Fprintln(c.stdout, "no conflicts")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PAIRING\tRECORD\tFIELDS\tEDIT/DELETE")
	for _, ci := range cs {
		ed := ""
		if ci.EditDelete {
			ed = "yes: keep it or delete it"
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\n", ci.Pairing, ci.Collection, ci.ID, strings.Join(ci.Fields, ","), ed)
	}
	return tw.Flush()
}

func cmdRejected(c *cli, args []string) error {
	e, err := c.openNoFlags("rejected", "List the changes the server refused, with its reasons, and the photos it refused (kept here).\nWorks offline.", args)
	if err != nil {
		return err
	}
	defer e.Close()
	rs := e.Rejected()
	var photos []mobile.PendingPhoto
	for _, p := range e.PendingPhotos() {
		if p.State == mobile.PhotoRefused || p.State == mobile.PhotoLost {
			photos = append(photos, p)
		}
	}
	if len(rs) == 0 && len(photos) == 0 {
		fmt.Fprintln(c.stdout, "nothing rejected")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if len(rs) > 0 {
		fmt.Fprintln(tw, "CHANGE\tRECORD\tPAIRING\tCODE\tFIELD\tMESSAGE")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s %s\t%s/%s\t%s\t%s\t%s\t%s\n", r.Op, r.Dot, r.Collection, r.ID, r.Pairing, r.Code, r.Field, r.Message)
		}
	}
	if len(photos) > 0 {
		if len(rs) > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw, "PHOTO\tCITED BY\tSTATE\tCODE\tMESSAGE")
		for _, p := range photos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.SHA256[:16], p.CitedBy, p.State, p.Code, p.Message)
		}
	}
	return tw.Flush()
}
