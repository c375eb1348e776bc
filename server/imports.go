package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/sheets"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Limits of an import.
const (
	importMaxBytes = 10 << 20
	importMaxRows  = 5000
	// importTimeout is the deadline of an import: each of up to 10,000
	// rows is committed on its own.
	importTimeout = 10 * time.Minute
	mimeXLSX      = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	// mimeODS is taken too, so that sheets.Read can say how to save it as
	// .xlsx rather than a 415 saying only that it is not one.
	mimeODS = "application/vnd.oasis.opendocument.spreadsheet"
)

// importMessage names a text of the import shown to its user; the texts
// are in one table, importMessages, so that a translation is one more
// column. (sheets has its own for the workbook as a whole: sheets/messages.go.)
// The server has no language choice yet: they are Chinese, the default.
type importMessage int

const (
	imForbidden             importMessage = iota //
	imDryRun                                     //
	imTooLarge                                   // the limit in MB
	imEmptyBody                                  //
	imNoFileField                                //
	imMediaType                                  // the .xlsx media type
	imNoImportSheet                              // the two sheets, the workbook's sheets
	imInSheet                                    // the sheet, what sheets.Read said
	imRequired                                   // the column
	imKind                                       // the cell
	imCodeRequired                               //
	imCodeDuplicate                              // the code, the first row
	imCodeRegistered                             // the code, the registered name, its code or unit
	imCodeElsewhere                              // the code (registered outside the administrator's scope)
	imCodeLength                                 //
	imCodeChar                                   //
	imCodeDivision                               //
	imCodeCheck                                  //
	imCodeBecameNumber                           // the cell as shown
	imLikeRow                                    // the row, its name
	imLikeRegistered                             // the registered name, its code or unit
	imOnePrimary                                 //
	imNotDate                                    // the cell
	imEndsBeforeStarts                           // the end, the start
	imStatus                                     // the cell
	imUnitNotFound                               // the cell
	imUnitAmbiguous                              // the cell
	imCounterpartyAmbiguous                      // the cell
	imCounterpartyFailed                         // the cell, its row
	imCounterpartyNotFound                       // the cell
	imNumberNotFound                             // the cell as shown
	imUserLookup                                 //
	imUserNotFound                               // the user name
	imUserDisabled                               // the user name
	imUserRole                                   // the user name, their role, the role wanted
	imSaveFailed                                 //
)

// importMessages are the Chinese texts, with fmt verbs for their arguments.
// Each says what is wrong and what to do next.
var importMessages = map[importMessage]string{
	imForbidden:      "只有管理员可以导入共建单位和结对，请联系您的管理员",
	imDryRun:         "dry_run 应为 true 或 false",
	imTooLarge:       "文件超过 %d MB 的上限，请分成多个文件导入",
	imEmptyBody:      "请上传 .xlsx 文件（请求体为空）",
	imNoFileField:    "请在 multipart/form-data 的 file 字段上传 .xlsx 文件",
	imMediaType:      "请上传 .xlsx 文件：请求体为文件本身（Content-Type: %s），或 multipart/form-data 的 file 字段",
	imNoImportSheet:  "工作簿中没有“%s”或“%s”工作表（工作簿中有：%s），请使用导入模板",
	imInSheet:        "工作表“%s”：%s",
	imRequired:       "“%s”为必填项",
	imKind:           "类型应为“企业”或“社区”，不是“%s”",
	imCodeRequired:   "企业须填写统一社会信用代码",
	imCodeDuplicate:  "统一社会信用代码 %s 与第 %d 行重复",
	imCodeRegistered: "统一社会信用代码 %s 已登记为“%s”（%s）",
	imCodeElsewhere:  "统一社会信用代码 %s 已由您管理范围以外的单位登记，不能重复导入；如需与这家企业结对，请联系上级管理员办理",
	imCodeLength:     "统一社会信用代码应为 18 位",
	imCodeChar:       "统一社会信用代码含有无效字符（只用数字和除 I、O、S、V、Z 以外的大写字母）",
	imCodeDivision:   "统一社会信用代码第 3 至 8 位（行政区划码）应为数字",
	imCodeCheck:      "统一社会信用代码校验位不符，可能有字符输错",
	imCodeBecameNumber: "统一社会信用代码“%s”在表格中变成了数字，末几位已丢失。" +
		"请把该列的单元格格式设为“文本”后重新输入代码，或输入时先打一个英文单引号（'）再输入代码",
	imLikeRow:               "与第 %d 行的“%s”名称相近，请确认不是同一单位",
	imLikeRegistered:        "与已登记的“%s”（%s）名称相近，请确认不是同一单位",
	imOnePrimary:            "主联络员只填一人，其他人请填在“副联络员”",
	imNotDate:               "“%s”不是日期，请写成 2026-03-01，或把单元格设为日期格式后重新输入",
	imEndsBeforeStarts:      "结束日期 %s 早于开始日期 %s",
	imStatus:                "状态应为“草稿”或“进行中”，不是“%s”",
	imUnitNotFound:          "未找到单位“%s”（应为您管辖范围内的单位编号或完整名称）",
	imUnitAmbiguous:         "有多个单位名为“%s”，请改填单位编号",
	imCounterpartyAmbiguous: "有多个共建单位名为“%s”，请改填统一社会信用代码",
	imCounterpartyFailed:    "共建单位“%s”（共建单位表第 %d 行）未能导入",
	imCounterpartyNotFound:  "未找到共建单位“%s”（应为统一社会信用代码或完整名称）",
	imNumberNotFound: "“%s”在表格中变成了数字，末几位已丢失，找不到对应的共建单位。" +
		"请把该列的单元格格式设为“文本”后重新输入统一社会信用代码，或输入时先打一个英文单引号（'），也可改填单位全称",
	imUserLookup:   "暂时无法查询用户，请稍后重新导入本行",
	imUserNotFound: "未找到用户名为“%s”的用户",
	imUserDisabled: "用户“%s”已停用",
	imUserRole:     "用户“%s”是%s，不是%s",
	imSaveFailed:   "保存失败，请稍后重新导入本行",
}

// importText renders an import message with its arguments.
func importText(m importMessage, args ...any) string {
	return fmt.Sprintf(importMessages[m], args...)
}

// numberLostDigits reports whether a cell holds what a spreadsheet made of
// a long code typed into a General cell: a number in scientific notation
// (9.1110108E+17), or 16 to 20 digits past the 15 significant ones a
// spreadsheet keeps, all zero (911101080000000000). A 统一社会信用代码 has
// neither a '.' nor a '+', and 18 digits ending in 000 would still be read
// as typed (the code is validated first; this only words the refusal).
func numberLostDigits(cell string) bool {
	mant, exp, sci := strings.Cut(strings.ToUpper(cell), "E+")
	if sci {
		whole, frac, _ := strings.Cut(mant, ".")
		return len(whole) >= 1 && allDigits(whole) && allDigits(frac) && len(exp) > 0 && allDigits(exp)
	}
	return len(cell) >= 16 && len(cell) <= 20 && allDigits(cell) && strings.Trim(cell[15:], "0") == ""
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// The sheets of the import workbook.
const (
	sheetCounterparties = "共建单位"
	sheetPairings       = "结对"
)

// fieldLabel is the label of a field of the schema (pairing.Schema).
func fieldLabel(collection, field string) pairing.Label {
	spec, _ := pairing.Spec(collection)
	f, _ := spec.Field(field)
	return f.Label
}

// importColumn is a column of an import sheet whose headers are a field's
// labels (Chinese first: the template shows it) and other spellings.
func importColumn(key, collection, field string, required bool, note string, more ...string) sheets.SchemaColumn {
	l := fieldLabel(collection, field)
	return sheets.SchemaColumn{Key: key, Headers: append([]string{l.ZH, l.EN}, more...), Required: required, Note: note}
}

// counterpartySchema is the 共建单位 sheet.
var counterpartySchema = sheets.Schema{Sheet: sheetCounterparties, Columns: []sheets.SchemaColumn{
	importColumn("kind", pairing.CollCounterparties, "kind", true, "企业 或 社区", "Type"),
	importColumn("name", pairing.CollCounterparties, "name", true, "单位全称，与营业执照或登记证书一致", "单位名称"),
	importColumn("credit_code", pairing.CollCounterparties, "credit_code", false, "18 位，企业必填；同一代码只登记一次", "信用代码", "Credit code", "USCC"),
	importColumn("org_unit", pairing.CollCounterparties, "org_unit", true, "您管辖范围内的单位编号或完整名称", "Org unit"),
	importColumn("address", pairing.CollCounterparties, "address", false, ""),
	importColumn("industry", pairing.CollCounterparties, "industry", false, ""),
	importColumn("contacts", pairing.CollCounterparties, "contacts", false, "姓名，可在括号内写职务，如 张三（总经理）；多人用、或；分隔。不要填写电话号码"),
	importColumn("note", pairing.CollCounterparties, "note", false, ""),
}}

// pairingSchema is the 结对 sheet.
var pairingSchema = sheets.Schema{Sheet: sheetPairings, Columns: []sheets.SchemaColumn{
	importColumn("name", pairing.CollPairings, "name", true, ""),
	importColumn("branches", pairing.CollPairings, "branches", true, "单位编号或完整名称，多个用、；; , 分隔", "Branch"),
	importColumn("counterparties", pairing.CollPairings, "counterparties", true, "统一社会信用代码或完整名称，多个用、；; , 分隔；可引用本工作簿“共建单位”表中的单位", "Counterparty"),
	{Key: "primary", Headers: []string{"主联络员", "Primary officer"}, Note: "联络员的用户名（一人）"},
	{Key: "backups", Headers: []string{"副联络员", "Backup officers"}, Note: "联络员的用户名，多个用、；; , 分隔"},
	importColumn("contacts", pairing.CollPairings, "contacts", false, "联系人的用户名，多个用、；; , 分隔", "Contacts"),
	importColumn("starts_on", pairing.CollPairings, "starts_on", false, "如 2026-03-01", "Start date"),
	importColumn("ends_on", pairing.CollPairings, "ends_on", false, "如 2027-02-28", "End date"),
	importColumn("status", pairing.CollPairings, "status", false, "草稿 或 进行中，不填为草稿"),
	importColumn("description", pairing.CollPairings, "description", false, "", "共建事项"),
}}

// importReport is the answer of POST /v1/pairings/import: per sheet, what
// was imported and what was not, and why.
type importReport struct {
	DryRun bool          `json:"dry_run"`
	Sheets []sheetReport `json:"sheets"`
}

// sheetReport is the outcome of one sheet of an import.
type sheetReport struct {
	Sheet string `json:"sheet"`
	// Rows is the number of data rows read; Imported those imported (in a
	// dry run: those that would be).
	Rows     int `json:"rows"`
	Imported int `json:"imported"`
	// Errors are why rows were not imported; Warnings are things to look
	// at in rows that were (a likely duplicate).
	Errors   []rowProblem `json:"errors"`
	Warnings []rowProblem `json:"warnings"`
	// IDs are the ids of the records imported (none in a dry run).
	IDs []importedRow `json:"ids"`
}

// rowProblem points at a row (as Excel numbers it) and a column (its
// header as the template shows it; "" for the whole row).
type rowProblem struct {
	Row     int    `json:"row"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

// importedRow is the id of the record a row became.
type importedRow struct {
	Row int    `json:"row"`
	ID  string `json:"id"`
}

// importTemplate: GET /v1/pairings/import-template.
func (s *Server) importTemplate(c *fiber.Ctx) error {
	var buf bytes.Buffer
	if err := sheets.Template(&buf, counterpartySchema, pairingSchema); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeXLSX)
	c.Set(fiber.HeaderContentDisposition, attachmentHeader("结对共建导入模板.xlsx", "pairsync-import-template.xlsx"))
	return c.Send(buf.Bytes())
}

// importDirectory: POST /v1/pairings/import. The 共建单位 sheet is imported
// first, then 结对 (whose rows may name the former's). Each row is written
// on its own through putCounterparty / putPairing, so it is imported whole
// or not at all; rows that cannot be are reported and the others imported.
func (s *Server) importDirectory(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	if p.Role != pairing.Admin {
		return errorf(http.StatusForbidden, syncproto.CodeForbidden, "%s", importText(imForbidden))
	}
	dryRun := false
	if v := c.Query("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("dry_run", "%s", importText(imDryRun))
		}
		dryRun = b
	}
	body, err := uploadedWorkbook(c)
	if err != nil {
		return err
	}
	// Read every sheet before writing anything: a sheet that cannot be read
	// stops the import before any row of another is imported.
	schemas, err := importSheets(body)
	if err != nil {
		return err
	}
	rows := make([][]sheets.Row, len(schemas))
	for i, schema := range schemas {
		if rows[i], err = sheets.Read(bytes.NewReader(body), schema, importMaxRows, importMaxBytes); err != nil {
			var bad *sheets.Error
			if errors.As(err, &bad) {
				return &Error{Status: http.StatusBadRequest, Cause: err, Wire: syncproto.Error{Code: syncproto.CodeValidation,
					Message: importText(imInSheet, schema.Sheet, bad.Error())}}
			}
			return err
		}
	}

	im, err := s.newImporter(ctx, p, dryRun)
	if err != nil {
		return err
	}
	out := importReport{DryRun: dryRun, Sheets: []sheetReport{}}
	for i, schema := range schemas {
		rep := sheetReport{Sheet: schema.Sheet, Rows: len(rows[i]), Errors: []rowProblem{}, Warnings: []rowProblem{}, IDs: []importedRow{}}
		for _, r := range rows[i] {
			if schema.Sheet == sheetCounterparties {
				im.counterparty(r, &rep)
			} else {
				im.pairing(r, &rep)
			}
		}
		out.Sheets = append(out.Sheets, rep)
	}

	detail := make([]string, 0, len(out.Sheets)+1)
	for _, rep := range out.Sheets {
		detail = append(detail, fmt.Sprintf("%s: %d of %d rows imported, %d errors", rep.Sheet, rep.Imported, rep.Rows, len(rep.Errors)))
	}
	action := "directory.import"
	if dryRun {
		action += ".dry_run"
	}
	s.audit(c, storage.AuditEvent{Action: action, Object: "import", Result: "ok", Detail: strings.Join(detail, "; "), OrgPath: p.OrgPath})
	return c.JSON(out)
}

// uploadedWorkbook returns the uploaded file: the body itself, or the
// multipart field "file".
func uploadedWorkbook(c *fiber.Ctx) ([]byte, error) {
	tooLarge := errorf(http.StatusRequestEntityTooLarge, syncproto.CodeTooLarge, "%s", importText(imTooLarge, importMaxBytes>>20))
	media, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	switch media {
	case mimeXLSX, mimeODS, "application/octet-stream":
		body := c.Body()
		if len(body) > importMaxBytes {
			return nil, tooLarge
		}
		if len(body) == 0 {
			return nil, badRequest("file", "%s", importText(imEmptyBody))
		}
		return body, nil
	case fiber.MIMEMultipartForm:
		fh, err := c.FormFile("file")
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Cause: err, Wire: syncproto.Error{Code: syncproto.CodeValidation, Field: "file",
				Message: importText(imNoFileField)}}
		}
		if fh.Size > importMaxBytes {
			return nil, tooLarge
		}
		f, err := fh.Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, importMaxBytes+1))
		if err != nil {
			return nil, err
		}
		if len(b) > importMaxBytes {
			return nil, tooLarge
		}
		return b, nil
	}
	return nil, errorf(http.StatusUnsupportedMediaType, syncproto.CodeUnsupportedMedia,
		"%s", importText(imMediaType, mimeXLSX))
}

// importSheets returns the schemas of the import sheets the workbook has,
// in import order; at least one.
func importSheets(body []byte) ([]sheets.Schema, error) {
	names, ok := sheetNames(body)
	if !ok {
		// Not a workbook: let sheets say why, in its words.
		_, err := sheets.Read(bytes.NewReader(body), counterpartySchema, importMaxRows, importMaxBytes)
		var bad *sheets.Error
		if errors.As(err, &bad) {
			return nil, &Error{Status: http.StatusBadRequest, Cause: err, Wire: syncproto.Error{Code: syncproto.CodeValidation, Message: bad.Error()}}
		}
		if err != nil {
			return nil, err
		}
		return []sheets.Schema{counterpartySchema, pairingSchema}, nil // an unusual layout: Read finds the sheets
	}
	var out []sheets.Schema
	for _, schema := range []sheets.Schema{counterpartySchema, pairingSchema} {
		if slices.ContainsFunc(names, func(n string) bool {
			return n == schema.Sheet || strings.EqualFold(strings.TrimSpace(n), schema.Sheet)
		}) {
			out = append(out, schema)
		}
	}
	if len(out) == 0 {
		return nil, badRequest("file", "%s", importText(imNoImportSheet, sheetCounterparties, sheetPairings, strings.Join(names, "、")))
	}
	return out, nil
}

// sheetNames lists the worksheets of an .xlsx workbook; ok is false when b
// is not one (sheets.Read then says why). It belongs in package sheets,
// which has no way yet to ask whether a sheet is there (Read falls back to
// the only sheet of a one-sheet workbook).
func sheetNames(b []byte) (names []string, ok bool) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, false
	}
	f, err := zr.Open("xl/workbook.xml")
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := xml.NewDecoder(io.LimitReader(f, 4<<20)).Decode(&wb); err != nil || len(wb.Sheets) == 0 {
		return nil, false
	}
	for _, sh := range wb.Sheets {
		names = append(names, sh.Name)
	}
	return names, true
}

// importer imports the rows of one workbook for one administrator.
type importer struct {
	s      *Server
	ctx    context.Context
	p      pairing.Principal
	dryRun bool
	now    time.Time

	units  map[string]storage.OrgUnit   // the administrator's subtree, by id
	named  map[string][]storage.OrgUnit // … by name
	users  map[string]*storage.User     // by username; nil: no such user
	codes  map[string]int               // credit code → first row of the 共建单位 sheet
	cps    []workbookCounterparty       // the rows of the 共建单位 sheet, in order
	checkW syncproto.Writer             // builds the version a write would leave, for CheckWrite
}

// workbookCounterparty is a row of the 共建单位 sheet, for the pairings
// that name it.
type workbookCounterparty struct {
	row              int
	name, code, kind string
	id               string // the record's id once imported ("" in a dry run, for a community)
	ok               bool   // imported (in a dry run: would be)
}

func (s *Server) newImporter(ctx context.Context, p pairing.Principal, dryRun bool) (*importer, error) {
	if err := s.dir.Refresh(ctx); err != nil {
		return nil, err
	}
	units, err := s.store.OrgUnits(ctx, p.OrgPath)
	if err != nil {
		return nil, err
	}
	im := &importer{s: s, ctx: ctx, p: p, dryRun: dryRun, now: s.now(),
		units: map[string]storage.OrgUnit{}, named: map[string][]storage.OrgUnit{}, users: map[string]*storage.User{},
		codes: map[string]int{}, checkW: syncproto.Writer{Replica: "import-check"}}
	for _, u := range units {
		if p.OrgPath == "" || !strings.HasPrefix(u.Path, p.OrgPath) {
			continue
		}
		im.units[u.ID] = u
		im.named[u.Name] = append(im.named[u.Name], u)
	}
	return im, nil
}

// rowErrors collects the problems of one row.
type rowErrors struct {
	row  int
	list []rowProblem
}

func (e *rowErrors) add(column, format string, args ...any) {
	e.list = append(e.list, rowProblem{Row: e.row, Column: column, Message: fmt.Sprintf(format, args...)})
}

// columnHeader is the column's header as the template shows it.
func columnHeader(schema sheets.Schema, key string) string {
	for _, c := range schema.Columns {
		if c.Key == key {
			return c.Headers[0]
		}
	}
	return ""
}

// counterpartyKind maps the 类型 cell to a counterparty kind ("" when unknown).
func counterpartyKind(cell string) string {
	for _, ch := range pairing.CounterpartyKinds {
		if cell == ch.Value || cell == ch.Label.ZH || strings.EqualFold(cell, ch.Label.EN) {
			return ch.Value
		}
	}
	return ""
}

// creditCodeMessages say what is wrong with a credit code, in Chinese.
var creditCodeMessages = []struct {
	err error
	msg importMessage
}{
	{pairing.ErrCreditCodeLength, imCodeLength},
	{pairing.ErrCreditCodeChar, imCodeChar},
	{pairing.ErrCreditCodeDivision, imCodeDivision},
	{pairing.ErrCreditCodeCheck, imCodeCheck},
}

func creditCodeMessage(err error) string {
	for _, m := range creditCodeMessages {
		if errors.Is(err, m.err) {
			return importText(m.msg)
		}
	}
	return err.Error()
}

// counterparty imports one row of the 共建单位 sheet.
func (im *importer) counterparty(r sheets.Row, rep *sheetReport) {
	col := func(key string) string { return columnHeader(counterpartySchema, key) }
	errs := &rowErrors{row: r.Number}
	cell := func(key string) string { return r.Cells[key] }
	for _, key := range []string{"kind", "name", "org_unit"} {
		if cell(key) == "" {
			errs.add(col(key), "%s", importText(imRequired, col(key)))
		}
	}
	wb := workbookCounterparty{row: r.Number, name: cell("name"), code: pairing.NormalizeCreditCode(cell("credit_code"))}
	defer func() { im.cps = append(im.cps, wb) }() // as it ends up: imported or not
	if v := cell("kind"); v != "" {
		if wb.kind = counterpartyKind(v); wb.kind == "" {
			errs.add(col("kind"), "%s", importText(imKind, v))
		}
	}
	switch code := wb.code; {
	case code == "" && wb.kind == "enterprise":
		errs.add(col("credit_code"), "%s", importText(imCodeRequired))
	case code == "":
	default:
		if err := pairing.ValidateCreditCode(code); err != nil {
			if numberLostDigits(cell("credit_code")) {
				errs.add(col("credit_code"), "%s", importText(imCodeBecameNumber, cell("credit_code")))
				break
			}
			errs.add(col("credit_code"), "%s", creditCodeMessage(err))
			break
		}
		if first, dup := im.codes[code]; dup {
			errs.add(col("credit_code"), "%s", importText(imCodeDuplicate, code, first))
			break
		}
		im.codes[code] = r.Number
		if other, ok := im.s.dir.ByCreditCode(code); ok && im.s.seesCounterparty(im.p, other) {
			errs.add(col("credit_code"), "%s", importText(imCodeRegistered, code, other.Name, im.counterpartyHint(other)))
		} else if ok { // outside the administrator's scope: never named
			errs.add(col("credit_code"), "%s", importText(imCodeElsewhere, code))
		}
	}
	var unit string
	if v := cell("org_unit"); v != "" {
		u, msg := im.unit(v)
		if msg != "" {
			errs.add(col("org_unit"), "%s", msg)
		}
		unit = u
	}
	if len(errs.list) > 0 {
		rep.Errors = append(rep.Errors, errs.list...)
		return
	}

	fields := map[string]any{"kind": wb.kind, "name": wb.name, "org_unit": unit}
	if wb.code != "" {
		fields["credit_code"] = wb.code
	}
	for _, key := range []string{"address", "industry", "note"} {
		if v := cell(key); v != "" {
			fields[key] = v
		}
	}
	if persons := parsePersons(cell("contacts")); len(persons) > 0 {
		fields["contacts"] = persons
	}
	id := wb.code
	if id == "" || wb.kind != "enterprise" {
		id = fmt.Sprintf("import-row-%d", r.Number) // for the check only; the write makes the id
	}
	fieldColumn := map[string]string{}
	for _, c := range counterpartySchema.Columns {
		fieldColumn[c.Key] = c.Headers[0]
	}
	if p := im.check(pairing.CollCounterparties, id, fields, r.Number, fieldColumn); p != nil {
		rep.Errors = append(rep.Errors, *p)
		return
	}
	warnings := im.likelyDuplicates(wb)
	if !im.dryRun {
		values, _ := jsonValues(fields)
		v, _, err := im.s.putCounterparty(im.ctx, im.p, "", fieldsRequest{Fields: values})
		if err != nil {
			rep.Errors = append(rep.Errors, im.writeProblem(err, r.Number, fieldColumn))
			return
		}
		wb.id = v.ID
		rep.IDs = append(rep.IDs, importedRow{Row: r.Number, ID: v.ID})
	} else if wb.kind == "enterprise" {
		wb.id = wb.code
	}
	wb.ok = true
	rep.Imported++
	rep.Warnings = append(rep.Warnings, warnings...)
}

// counterpartyHint tells a registered counterparty apart from others of
// its name, in words a person knows: its credit code, else its managing
// unit (a community's id is a uuid, which no one should be shown).
func (im *importer) counterpartyHint(cp pairing.Counterparty) string {
	if cp.CreditCode != "" {
		return cp.CreditCode
	}
	if u, ok := im.units[cp.OrgUnit]; ok {
		return u.Name
	}
	if u, err := im.s.store.OrgUnit(im.ctx, cp.OrgUnit); err == nil && u.Name != "" {
		return u.Name
	}
	return "另一管辖范围"
}

// likelyDuplicates warns of counterparties with a similar name: earlier
// rows of the sheet, and those already registered (not imported by this
// workbook), the same in a dry run as in a real one.
func (im *importer) likelyDuplicates(wb workbookCounterparty) []rowProblem {
	col := columnHeader(counterpartySchema, "name")
	var out []rowProblem
	key := pairing.NameKey(wb.name)
	for _, o := range im.cps {
		if o.ok && pairing.NameKey(o.name) == key {
			out = append(out, rowProblem{Row: wb.row, Column: col, Message: importText(imLikeRow, o.row, o.name)})
		}
	}
	for _, d := range im.s.dir.LikelyDuplicates(wb.name, "", "") {
		if !im.s.seesCounterparty(im.p, d) {
			continue // outside the administrator's scope: never named
		}
		if slices.ContainsFunc(im.cps, func(o workbookCounterparty) bool { return o.ok && o.id == d.ID }) {
			continue
		}
		out = append(out, rowProblem{Row: wb.row, Column: col, Message: importText(imLikeRegistered, d.Name, im.counterpartyHint(d))})
	}
	return out
}

// pairing imports one row of the 结对 sheet.
func (im *importer) pairing(r sheets.Row, rep *sheetReport) {
	col := func(key string) string { return columnHeader(pairingSchema, key) }
	errs := &rowErrors{row: r.Number}
	cell := func(key string) string { return r.Cells[key] }
	for _, key := range []string{"name", "branches", "counterparties"} {
		if cell(key) == "" {
			errs.add(col(key), "%s", importText(imRequired, col(key)))
		}
	}
	var branches, cps, contacts []string
	for _, v := range splitList(cell("branches")) {
		id, msg := im.unit(v)
		if msg != "" {
			errs.add(col("branches"), "%s", msg)
			continue
		}
		if !slices.Contains(branches, id) {
			branches = append(branches, id)
		}
	}
	for _, v := range splitList(cell("counterparties")) {
		id, msg := im.counterpartyRef(v)
		if msg != "" {
			errs.add(col("counterparties"), "%s", msg)
			continue
		}
		if !slices.Contains(cps, id) {
			cps = append(cps, id)
		}
	}
	type officerRef struct {
		UserID  string `json:"user_id"`
		Primary bool   `json:"primary"`
	}
	var officers []officerRef
	if v := cell("primary"); v != "" {
		if list := splitList(v); len(list) > 1 {
			errs.add(col("primary"), "%s", importText(imOnePrimary))
		} else if id, msg := im.user(v, pairing.Officer); msg != "" {
			errs.add(col("primary"), "%s", msg)
		} else {
			officers = append(officers, officerRef{UserID: id, Primary: true})
		}
	}
	for _, v := range splitList(cell("backups")) {
		id, msg := im.user(v, pairing.Officer)
		if msg != "" {
			errs.add(col("backups"), "%s", msg)
			continue
		}
		if !slices.ContainsFunc(officers, func(o officerRef) bool { return o.UserID == id }) {
			officers = append(officers, officerRef{UserID: id})
		}
	}
	for _, v := range splitList(cell("contacts")) {
		id, msg := im.user(v, pairing.Contact)
		if msg != "" {
			errs.add(col("contacts"), "%s", msg)
			continue
		}
		if !slices.Contains(contacts, id) {
			contacts = append(contacts, id)
		}
	}
	dates := map[string]string{}
	for _, key := range []string{"starts_on", "ends_on"} {
		if v := cell(key); v != "" {
			d, ok := parseImportDate(v)
			if !ok {
				errs.add(col(key), "%s", importText(imNotDate, v))
				continue
			}
			dates[key] = d
		}
	}
	if dates["starts_on"] != "" && dates["ends_on"] != "" && dates["ends_on"] < dates["starts_on"] {
		errs.add(col("ends_on"), "%s", importText(imEndsBeforeStarts, dates["ends_on"], dates["starts_on"]))
	}
	status := pairing.StatusDraft
	if v := cell("status"); v != "" {
		switch {
		case v == pairing.StatusDraft || v == "草稿" || strings.EqualFold(v, "draft"):
		case v == pairing.StatusActive || v == "进行中" || strings.EqualFold(v, "active"):
			status = pairing.StatusActive
		default:
			errs.add(col("status"), "%s", importText(imStatus, v))
		}
	}
	if len(errs.list) > 0 {
		rep.Errors = append(rep.Errors, errs.list...)
		return
	}

	fields := map[string]any{"name": cell("name"), "status": status, "branches": branches, "counterparties": cps}
	if len(officers) > 0 {
		fields["officers"] = officers
	}
	if len(contacts) > 0 {
		fields["contacts"] = contacts
	}
	for k, d := range dates {
		fields[k] = d
	}
	if v := cell("description"); v != "" {
		fields["description"] = v
	}
	fieldColumn := map[string]string{"officers": col("primary")}
	for _, c := range pairingSchema.Columns {
		fieldColumn[c.Key] = c.Headers[0]
	}
	if p := im.check(pairing.CollPairings, fmt.Sprintf("import-row-%d", r.Number), fields, r.Number, fieldColumn); p != nil {
		rep.Errors = append(rep.Errors, *p)
		return
	}
	if !im.dryRun {
		values, _ := jsonValues(fields)
		v, err := im.s.putPairing(im.ctx, im.p, "", fieldsRequest{Fields: values})
		if err != nil {
			rep.Errors = append(rep.Errors, im.writeProblem(err, r.Number, fieldColumn))
			return
		}
		rep.IDs = append(rep.IDs, importedRow{Row: r.Number, ID: v.ID})
	}
	rep.Imported++
}

// unit resolves an org unit of the administrator's subtree by id or exact
// name; msg says why it cannot.
func (im *importer) unit(v string) (id, msg string) {
	if u, ok := im.units[v]; ok {
		return u.ID, ""
	}
	switch list := im.named[v]; len(list) {
	case 1:
		return list[0].ID, ""
	case 0:
		return "", importText(imUnitNotFound, v)
	}
	return "", importText(imUnitAmbiguous, v)
}

// counterpartyRef resolves a counterparty named by credit code or exact
// name: a row of the 共建单位 sheet, or one already registered that the
// administrator may see.
func (im *importer) counterpartyRef(v string) (id, msg string) {
	code := pairing.NormalizeCreditCode(v)
	byCode := pairing.ValidateCreditCode(code) == nil
	match := func(name, c string) bool {
		if byCode {
			return c == code
		}
		return name == v
	}
	var ids []string
	failed := 0
	for _, wb := range im.cps {
		if !match(wb.name, wb.code) {
			continue
		}
		if !wb.ok {
			if failed == 0 {
				failed = wb.row
			}
			continue
		}
		id := wb.id
		if id == "" {
			id = fmt.Sprintf("import-row-%d", wb.row) // a community of a dry run
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var registered []pairing.Counterparty
	if byCode {
		// One the administrator may see, as by name: one outside their
		// scope reads as a code nobody registered.
		if cp, ok := im.s.dir.ByCreditCode(code); ok && im.s.seesCounterparty(im.p, cp) {
			registered = append(registered, cp)
		}
	} else {
		registered = im.s.dir.Counterparties(func(cp pairing.Counterparty) bool {
			return cp.Name == v && pairing.Policy(im.p, pairing.Read, im.s.counterpartyObject(im.p, cp)) == nil
		})
	}
	for _, cp := range registered {
		if !slices.Contains(ids, cp.ID) {
			ids = append(ids, cp.ID)
		}
	}
	switch {
	case len(ids) == 1:
		return ids[0], ""
	case len(ids) > 1:
		return "", importText(imCounterpartyAmbiguous, v)
	case failed > 0:
		return "", importText(imCounterpartyFailed, v, failed)
	case numberLostDigits(v):
		return "", importText(imNumberNotFound, v)
	}
	return "", importText(imCounterpartyNotFound, v)
}

// roleNames are the roles in Chinese.
var roleNames = map[pairing.Role]string{pairing.Admin: "管理员", pairing.Viewer: "领导", pairing.Officer: "联络员", pairing.Contact: "联系人"}

// user resolves a username to a user id of the role.
func (im *importer) user(name string, role pairing.Role) (id, msg string) {
	u, ok := im.users[name]
	if !ok {
		got, err := im.s.store.UserByLogin(im.ctx, name)
		switch {
		case err == nil && got.Username == name: // a phone number is not a username
			u = &got
		case err == nil, errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrAmbiguous):
		default:
			im.s.log.Warn("import: look up user", "err", err)
			return "", importText(imUserLookup)
		}
		if u != nil {
			// Outside the administrator's scope (CheckRefs' rule for a
			// pairing's people): read as a name nobody has, never with its
			// role or state.
			path, err := im.s.orgPath(im.ctx, u.OrgUnit)
			if err != nil {
				im.s.log.Warn("import: look up user's unit", "err", err)
				return "", importText(imUserLookup)
			}
			if pairing.Policy(im.p, pairing.Read, pairing.Object{Kind: pairing.KindUser, ID: u.ID, OrgPath: path, Owner: u.ID}) != nil {
				u = nil
			}
		}
		im.users[name] = u
	}
	switch {
	case u == nil:
		return "", importText(imUserNotFound, name)
	case u.Disabled:
		return "", importText(imUserDisabled, name)
	case pairing.Role(u.Role) != role:
		return "", importText(imUserRole, name, roleNames[pairing.Role(u.Role)], roleNames[role])
	}
	return u.ID, ""
}

// check applies the domain's field rules (pairing.CheckWrite) to the
// record the row would create, as writeAs will: a dry run reports what a
// real import would.
func (im *importer) check(collection, id string, fields map[string]any, row int, column map[string]string) *rowProblem {
	values, err := jsonValues(fields)
	if err != nil {
		return &rowProblem{Row: row, Message: err.Error()}
	}
	cur := syncproto.NewRecord(collection, id, pairing.DirectoryScope)
	next, _, err := im.checkW.Set(cur, values, im.now)
	if err != nil {
		return &rowProblem{Row: row, Message: err.Error()}
	}
	if e := pairing.CheckWrite(pairing.Write{Principal: im.p, Pairing: pairing.Pairing{ID: pairing.DirectoryScope}, Stored: cur,
		Op: syncproto.OpSet, Values: values, Merged: next, Now: im.now}); e != nil {
		return &rowProblem{Row: row, Column: column[e.Field], Message: e.Message}
	}
	return nil
}

// writeProblem reports a row whose write failed.
func (im *importer) writeProblem(err error, row int, column map[string]string) rowProblem {
	e, known := classify(err)
	if !known || e.Status >= 500 {
		im.s.log.Warn("import: write a row", "row", row, "err", err)
		return rowProblem{Row: row, Message: importText(imSaveFailed)}
	}
	return rowProblem{Row: row, Column: column[e.Wire.Field], Message: e.Wire.Message}
}

// splitList splits a cell listing several values: 、；; , ， or new lines.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune("、；;,，\n\r", r) }) {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// parsePersons reads 联系人: names, each optionally with a title in
// brackets: 张三（总经理）、李四.
func parsePersons(s string) []map[string]string {
	var out []map[string]string
	for _, v := range splitList(s) {
		person := map[string]string{"name": v}
		for _, b := range [][2]string{{"（", "）"}, {"(", ")"}} {
			if name, rest, ok := strings.Cut(v, b[0]); ok && strings.HasSuffix(rest, b[1]) && strings.TrimSpace(name) != "" {
				person["name"] = strings.TrimSpace(name)
				if title := strings.TrimSpace(strings.TrimSuffix(rest, b[1])); title != "" {
					person["title"] = title
				}
				break
			}
		}
		out = append(out, person)
	}
	return out
}

// dateLayouts are the ways people write a date in a sheet, and (2006-1-2
// 15:04) how sheets.Read gives a date cell whose format shows a time.
var dateLayouts = []string{"2006-1-2", "2006/1/2", "2006.1.2", "2006年1月2日", "20060102", "01-02-06", "2006-1-2 15:04"}

// parseImportDate reads a date typed as text (2026-03-01, 2026/3/1,
// 2026年3月1日), a date cell (sheets.Read gives its value as 2026-03-01
// whatever pattern shows it; with a time of day, the day is taken), or an
// Excel date serial; it returns YYYY-MM-DD.
func parseImportDate(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(time.DateOnly), true
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 20000 && n <= 100000 { // 1954 … 2173
		return time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n).Format(time.DateOnly), true
	}
	return "", false
}

// attachmentHeader is a Content-Disposition naming the file, in UTF-8 (RFC 5987)
// and in ASCII for older clients.
func attachmentHeader(name, ascii string) string {
	const attrChar = "!#$&+-.^_`|~"
	var b strings.Builder
	for _, c := range []byte(name) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(attrChar, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + b.String()
}
