package sheets

import (
	"errors"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// Date is a calendar date without a time of day: a pairing's 开始日期, a
// project's 计划完成. Row writes it as a date cell shown yyyy-mm-dd in
// xlsx (a number a spreadsheet sorts, filters and compares as a date) and
// as 2006-01-02 in CSV. The zero Date is an empty cell.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads a date written 2006-01-02, as records keep them; ok is
// false for anything else.
func ParseDate(s string) (d Date, ok bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, false
	}
	return Date{t.Year(), t.Month(), t.Day()}, true
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// String is d as 2006-01-02.
func (d Date) String() string { return d.time().Format(time.DateOnly) }

func (d Date) time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// The number formats of the cells Writer writes and Read reads dates as.
const (
	dayLayout    = "yyyy-mm-dd"
	minuteLayout = "yyyy-mm-dd hh:mm"
)

// errNoNumFmt: excelize made a cell format without a number format.
var errNoNumFmt = errors.New("sheets: a new date style has no number format")

// dateKind is what a number format shows of a number: a date, a date with
// a time of day, or neither (a plain number, a time of day alone, text).
type dateKind int

const (
	notDate dateKind = iota
	dateOnly
	dateTime
)

// builtInDates are the built-in number formats (ECMA-376 18.8.30, and the
// East Asian ones as a zh-CN Excel shows them) that show dates. The others
// show numbers, text or a time of day alone.
var builtInDates = map[int]dateKind{
	14: dateOnly, 15: dateOnly, 16: dateOnly, 17: dateOnly, 22: dateTime,
	27: dateOnly, 28: dateOnly, 29: dateOnly, 30: dateOnly, 31: dateOnly, 36: dateOnly,
	50: dateOnly, 51: dateOnly, 52: dateOnly, 53: dateOnly, 54: dateOnly, 57: dateOnly, 58: dateOnly,
}

// formatDateKind classifies a custom number format code: its first section,
// without quoted text, escaped characters, [colour], [$-804] and the like,
// shows a date when it has a year or day part (y, d, e for the East Asian
// year, 年 月 日 being quoted text), and a time of day when it also has
// hours or seconds. An elapsed time ([h]:mm) is not a date.
func formatDateKind(code string) dateKind {
	var b strings.Builder
	section := 0
	for i := 0; i < len(code) && section == 0; i++ {
		switch c := code[i]; c {
		case '"':
			if j := strings.IndexByte(code[i+1:], '"'); j >= 0 {
				i += j + 1
			} else {
				i = len(code)
			}
		case '\\', '_', '*': // an escaped, a space-of-width-of or a repeated character
			i++
		case '[':
			j := strings.IndexByte(code[i:], ']')
			if j < 0 {
				return notDate
			}
			switch strings.ToLower(code[i+1 : i+j]) {
			case "h", "hh", "m", "mm", "s", "ss":
				return notDate // elapsed time
			}
			i += j
		case ';':
			section++
		default:
			b.WriteByte(c | 0x20) // ASCII lower case; other bytes are not letters of a code
		}
	}
	s := b.String()
	for _, word := range []string{"general", "e+", "e-"} { // e+ e-: a scientific number's exponent
		s = strings.ReplaceAll(s, word, "")
	}
	if !strings.ContainsAny(s, "yde") {
		return notDate
	}
	if strings.ContainsAny(s, "hs") || strings.Contains(s, "am/pm") || strings.Contains(s, "a/p") {
		return dateTime
	}
	return dateOnly
}

// isoDates makes the date cells of a workbook opened for reading show as
// 2006-01-02 (2006-01-02 15:04 with a time of day), so that Read returns a
// date cell's value, not the text of whatever pattern its author's
// spreadsheet used: 3/1/26 and 03/01/2026 are ambiguous, 26年3月1日 is
// LibreOffice zh-CN's default. It points every cell format (xf) whose
// number format shows a date at one of two formats it adds. excelize has
// no call to change an existing cell format: this sets the numFmtId of
// the xf records through File.Styles, the parsed styles.xml excelize
// formats cell values with. Text cells are never touched by a number
// format, so a date typed as text reads as typed.
func isoDates(f *excelize.File) error {
	_, _ = f.GetStyle(0) // loads f.Styles (an error: no or no usable styles)
	ss := f.Styles
	if ss == nil || ss.CellXfs == nil || len(ss.CellXfs.Xf) == 0 {
		return nil
	}
	custom := map[int]string{}
	if ss.NumFmts != nil {
		for _, nf := range ss.NumFmts.NumFmt {
			if nf == nil {
				continue
			}
			code := nf.FormatCode
			if nf.FormatCode16 != "" {
				code = nf.FormatCode16 // as excelize prefers it
			}
			custom[nf.NumFmtID] = code
		}
	}
	kinds := make([]dateKind, len(ss.CellXfs.Xf))
	found := false
	for i, xf := range ss.CellXfs.Xf {
		if xf.NumFmtID == nil {
			continue
		}
		id := *xf.NumFmtID
		if code, ok := custom[id]; ok {
			kinds[i] = formatDateKind(code)
		} else {
			kinds[i] = builtInDates[id]
		}
		found = found || kinds[i] != notDate
	}
	if !found {
		return nil
	}
	numFmt := map[dateKind]int{}
	for kind, layout := range map[dateKind]string{dateOnly: dayLayout, dateTime: minuteLayout} {
		style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &layout})
		if err != nil {
			return err
		}
		xf := ss.CellXfs.Xf[style]
		if xf.NumFmtID == nil {
			return errNoNumFmt
		}
		numFmt[kind] = *xf.NumFmtID
	}
	for i, kind := range kinds {
		if kind != notDate {
			id := numFmt[kind]
			ss.CellXfs.Xf[i].NumFmtID = &id
		}
	}
	return nil
}
