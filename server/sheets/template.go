package sheets

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// notesSheet is the name of the template's instructions sheet.
const notesSheet = "说明"

// Template writes an .xlsx import template to w: one sheet per schema, in
// order, named schema.Sheet, holding a bold, frozen header row (each
// column's first spelling, "*" after a required one) over columns formatted
// as text, so that long digit strings such as 统一社会信用代码 or phone
// numbers are kept as typed; then a sheet "说明" listing every sheet's
// columns: required (是/否), note and the other accepted spellings.
//
// Each schema needs a Sheet name, distinct and not "说明". Reading the
// template back with the same schemas gives no rows and no error.
func Template(w io.Writer, schemas ...Schema) error {
	if len(schemas) == 0 {
		return errors.New("sheets: template: no schemas")
	}
	names := make(map[string]bool, len(schemas)+1)
	names[notesSheet] = true
	for _, s := range schemas {
		if s.Sheet == "" || names[strings.ToLower(s.Sheet)] {
			return fmt.Errorf("sheets: template: sheet name %q empty, duplicated or reserved", s.Sheet)
		}
		names[strings.ToLower(s.Sheet)] = true
		if _, err := s.spellings(); err != nil {
			return err
		}
	}
	f := excelize.NewFile()
	defer f.Close()
	if err := writeTemplate(f, schemas); err != nil {
		return fmt.Errorf("sheets: template: %w", err)
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("sheets: template: write: %w", err)
	}
	return nil
}

func writeTemplate(f *excelize.File, schemas []Schema) error {
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": text
	if err != nil {
		return err
	}
	wrap, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return err
	}
	for i, s := range schemas {
		headers := make([]string, len(s.Columns))
		widths := make([]float64, len(s.Columns))
		for j, c := range s.Columns {
			headers[j] = c.Headers[0]
			if c.Required {
				headers[j] += "*"
			}
			widths[j] = min(max(displayWidth(headers[j])+4, 12), 40)
		}
		if i == 0 {
			err = f.SetSheetName("Sheet1", s.Sheet)
		} else {
			_, err = f.NewSheet(s.Sheet)
		}
		if err != nil {
			return fmt.Errorf("sheet %q: %w", s.Sheet, err)
		}
		if err := headerRow(f, s.Sheet, headers, widths, bold, text); err != nil {
			return fmt.Errorf("sheet %q: %w", s.Sheet, err)
		}
	}

	if _, err := f.NewSheet(notesSheet); err != nil {
		return err
	}
	if err := headerRow(f, notesSheet, []string{"工作表", "列名", "必填", "说明", "其他可用的表头写法"},
		[]float64{16, 24, 8, 50, 30}, bold, 0); err != nil {
		return err
	}
	if err := f.SetColStyle(notesSheet, "D:E", wrap); err != nil {
		return err
	}
	row := 2
	for _, s := range schemas {
		for _, c := range s.Columns {
			required := "否"
			if c.Required {
				required = "是"
			}
			values := []any{s.Sheet, c.Headers[0], required, c.Note, strings.Join(c.Headers[1:], "、")}
			if err := f.SetSheetRow(notesSheet, fmt.Sprintf("A%d", row), &values); err != nil {
				return err
			}
			row++
		}
	}
	f.SetActiveSheet(0)
	return nil
}

// headerRow writes a bold, frozen header row and sets the column widths and,
// when colStyle is not 0, the columns' style.
func headerRow(f *excelize.File, sheet string, headers []string, widths []float64, bold, colStyle int) error {
	if len(headers) == 0 {
		return nil
	}
	for j, wd := range widths {
		col := columnName(j)
		if err := f.SetColWidth(sheet, col, col, wd); err != nil {
			return err
		}
	}
	last := columnName(len(headers) - 1)
	if colStyle != 0 {
		if err := f.SetColStyle(sheet, "A:"+last, colStyle); err != nil {
			return err
		}
	}
	values := make([]any, len(headers))
	for j, h := range headers {
		values[j] = h
	}
	if err := f.SetSheetRow(sheet, "A1", &values); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A1", last+"1", bold); err != nil {
		return err
	}
	return f.SetPanes(sheet, &excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	})
}

// displayWidth estimates a text's width in Excel's character units: wide
// (CJK) characters count two.
func displayWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		if r >= 0x1100 {
			w += 2
		} else {
			w++
		}
	}
	return w
}
