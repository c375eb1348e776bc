package sheets

import (
	"fmt"
	"strings"
)

// Error is a problem with an uploaded workbook that its user can fix: a wrong
// file, a missing sheet or column, a duplicated header, too many rows. Its
// Error text is meant to be shown to that user as is; the underlying cause,
// if any, is kept apart in Err for the log.
type Error struct {
	Row     int    // 1-based row number as Excel shows it; 0 when the problem is not in one row
	Column  string // column letter ("B") as Excel shows it; "" when the problem is not in one column
	Message string // plain words for the user, in Chinese
	Err     error  // underlying cause for the log, or nil
}

func (e *Error) Error() string {
	switch {
	case e.Row > 0 && e.Column != "":
		return fmt.Sprintf("第 %d 行 %s 列：%s", e.Row, e.Column, e.Message)
	case e.Row > 0:
		return fmt.Sprintf("第 %d 行：%s", e.Row, e.Message)
	case e.Column != "":
		return fmt.Sprintf("%s 列：%s", e.Column, e.Message)
	}
	return e.Message
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// quoteList renders names as “A”、“B” for a message.
func quoteList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString("、")
		}
		b.WriteString("“" + n + "”")
	}
	return b.String()
}

// byteSize renders n bytes for a message: "10 MB", "512 KB", "300 字节".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d 字节", n)
}
