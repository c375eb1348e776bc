package sheets

import "fmt"

// Format is the file format of an export: xlsx or csv.
type Format string

// The formats.
const (
	XLSX Format = "xlsx" // Office Open XML workbook, the default
	CSV  Format = "csv"  // UTF-8 with a byte-order mark, one sheet only
)

// ParseFormat parses a format as given in a query string: "" and "xlsx" give
// XLSX, "csv" gives CSV; anything else is an error naming the allowed values.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", string(XLSX):
		return XLSX, nil
	case string(CSV):
		return CSV, nil
	}
	return "", fmt.Errorf("sheets: unknown format %q (want %q or %q)", s, XLSX, CSV)
}

// ContentType is the MIME type to send in a Content-Type header.
func (f Format) ContentType() string {
	if f == CSV {
		return "text/csv; charset=utf-8"
	}
	return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
}

// Ext is the file name extension, with its dot: ".xlsx" or ".csv".
func (f Format) Ext() string {
	if f == CSV {
		return ".csv"
	}
	return ".xlsx"
}
