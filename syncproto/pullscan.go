package syncproto

// This file holds DecodePullAnswer's fast path, as pushscan.go holds
// DecodePush's, with the same scanner: one pass over the bytes building the
// PullAnswer as it goes (records read by pushScanner.record, which is
// recordFrom in one pass), no node tree and no error messages. It accepts
// exactly what the tree decoder (parseJSON then pullAnswerFrom) accepts,
// with the same result, and answers ok = false for everything else, and
// for accepted input it does not bother with (a key or a name spelled with
// escapes); DecodePullAnswer then runs the tree decoder, which words the
// refusal. Raw is set as pullAnswerFrom sets it: the record's bytes, when
// isCanonical accepts them. The scan notes whatever canonical JSON would
// not write while it reads a record (space, keys out of order, an escape of
// another form, deep nesting); a record it noted anything in is put to
// isCanonical itself, so the scan's note only ever saves that second pass.

// decodePullAnswerFast is DecodePullAnswer's fast path (lim has its
// defaults).
func decodePullAnswerFast(data []byte, lim Limits) (*PullAnswer, bool) {
	return scanWhole(data, lim, (*pushScanner).pullAnswer)
}

func (p *pushScanner) pullAnswer() (*PullAnswer, bool) {
	a := &PullAnswer{V: Version, Cursor: Cursor{}}
	var hasV bool
	_, ok := p.object(func(key []byte) bool {
		switch string(key) {
		case "v":
			s, e, ok := p.number()
			hasV = ok && string(p.d[s:e]) == "1" // the only spelling uintFrom reads as 1
			return ok
		case "records":
			if p.isNull() {
				return true
			}
			if p.peek() != '[' {
				return false
			}
			a.Records = []PulledRecord{}
			_, ok := p.array(p.lim.MaxArray, func(int) bool {
				a.Records = append(a.Records, PulledRecord{})
				return p.pulledRecord(&a.Records[len(a.Records)-1])
			})
			return ok
		case "cursor":
			if p.isNull() {
				return true
			}
			var ok bool
			a.Cursor, ok = p.cursor()
			return ok
		case "more":
			switch {
			case p.isNull(), p.literal("false"):
				a.More = false
				return true
			case p.literal("true"):
				a.More = true
				return true
			}
			return false
		case "resync":
			if p.isNull() {
				return true
			}
			var ok bool
			a.Resync, ok = p.pairings()
			return ok
		case "purge":
			if p.isNull() {
				return true
			}
			var ok bool
			a.Purge, ok = p.pairings()
			return ok
		}
		return p.value()
	})
	if !ok || !hasV {
		return nil, false
	}
	return a, true
}

// pulledRecord scans one element of a pull answer's records into pr, as
// pullAnswerFrom reads it.
func (p *pushScanner) pulledRecord(pr *PulledRecord) bool {
	var hasSeq, hasRecord bool
	var pairing []byte // a non-null "pairing" member, unescaped
	hasPairing := false
	_, ok := p.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "seq":
			pr.Seq, ok = p.uint(MaxCounter)
			hasSeq = true
		case "record":
			start := p.i
			p.noncanon = false
			pr.Record, _, ok = p.record()
			if ok && p.i <= maxSpan {
				if raw := p.d[start:p.i]; !p.noncanon || isCanonical(raw) {
					pr.Raw = raw
				}
			}
			hasRecord = true
		case "pairing":
			if p.isNull() {
				return true
			}
			var s, e int
			s, e, ok = p.plainString()
			pairing = p.d[s:e]
			hasPairing = true
		default:
			ok = p.value()
		}
		return ok
	})
	if !ok || !hasSeq || !hasRecord {
		return false
	}
	if hasPairing && string(pairing) != pr.Record.Pairing {
		return false
	}
	pr.Pairing = pr.Record.Pairing
	return true
}

// cursor scans a cursor (pairing → sequence) as cursorFrom reads it.
func (p *pushScanner) cursor() (Cursor, bool) {
	c := Cursor{}
	_, ok := p.object(func(key []byte) bool {
		if !validNameBytes(key, maxNameLen) {
			return false
		}
		n, ok := p.uint(MaxCounter)
		c[p.intern(key)] = n
		return ok
	})
	return c, ok
}

// pairings scans a list of pairing ids as pairingsFrom reads it.
func (p *pushScanner) pairings() ([]string, bool) {
	if p.peek() != '[' {
		return nil, false
	}
	out := []string{}
	_, ok := p.array(p.lim.MaxArray, func(int) bool {
		s, ok := p.name(maxNameLen)
		out = append(out, s)
		return ok
	})
	return out, ok
}
