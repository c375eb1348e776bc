// Package sheets is the one place that knows spreadsheets: it streams
// exports to .xlsx or CSV, reads .xlsx uploads for imports, and writes the
// import templates. Domain code hands it tables and gets tables back; it
// never sees excelize or encoding/csv.
//
// Exporting, in a handler (the Writer streams: memory stays flat however
// many rows; 100,000 rows of 10 Chinese columns peak at about 60 MB of heap,
// the same at 400,000 rows, most of it excelize's 16 MB row buffer before it
// spills to a temporary file):
//
//	format, err := sheets.ParseFormat(c.Query("format")) // "", "xlsx" or "csv"
//	if err != nil {
//		return err
//	}
//	c.Set(fiber.HeaderContentType, format.ContentType())
//	c.Set(fiber.HeaderContentDisposition, `attachment; filename="visits`+format.Ext()+`"`)
//	w := sheets.NewWriter(format, out) // out: an io.Writer, e.g. a pipe or a temporary file
//	if err := w.Sheet("走访记录", []sheets.Column{{Header: "社区", Width: 20}, {Header: "走访时间", Width: 18}, {Header: "人数"}}); err != nil {
//		return err
//	}
//	for _, v := range visits {
//		if err := w.Row(v.Community, v.At, v.People); err != nil { // string, time.Time, int
//			w.Close()
//			return err
//		}
//	}
//	return w.Close()
//
// Strings are data, never formulas. In xlsx they are written as text cells,
// so "=HYPERLINK(…)" shows as typed and runs nothing. In CSV, which has no
// cell types, a string starting with = + - @ (or tab or CR) gets a leading
// single quote, as OWASP advises against CSV injection; pass numbers as
// numbers so that -5 stays -5. Excel's limits hold: a cell keeps at most
// 32,767 characters (longer strings end in "…"), integers of more than 15
// digits are written as text, and a sheet holds at most 1,048,576 rows.
//
// Importing: a Schema names the sheet and the accepted header spellings of
// each column; Read returns the data rows by column key, or an *Error whose
// text can be shown to the user as is:
//
//	rows, err := sheets.Read(upload, sheets.Schema{Sheet: "企业", Columns: []sheets.SchemaColumn{
//		{Key: "name", Headers: []string{"企业名称", "Name"}, Required: true, Note: "与营业执照一致"},
//		{Key: "code", Headers: []string{"统一社会信用代码", "Credit Code"}, Required: true},
//		{Key: "phone", Headers: []string{"联系电话", "Phone"}},
//	}}, 5000, 10<<20)
//	var bad *sheets.Error
//	if errors.As(err, &bad) {
//		// 400 with bad.Error(), e.g. "第 1 行：缺少必填列“统一社会信用代码”"
//	}
//	for _, r := range rows {
//		// r.Number is the row as Excel numbers it: use it in per-row messages.
//		name, code := r.Cells["name"], r.Cells["code"]
//		...
//	}
//
// Template writes the workbook users fill in for those schemas: one sheet
// per schema and a 说明 sheet describing the columns. Read accepts it as is.
package sheets
