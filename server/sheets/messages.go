package sheets

import "fmt"

// message names a text this package shows to the user of an upload (in an
// *Error). The texts are in one table, messages, so that a translation is
// one more column and not a hunt through the code. The server has no
// language choice yet: they are Chinese, the default of every screen.
type message int

const (
	msgTooLarge        message = iota // the size limit
	msgNotXLSX                        //
	msgOLE2                           //
	msgODS                            //
	msgUnzipTooLarge                  // the unzip limit
	msgSheetUnreadable                // the sheet
	msgNoSheet                        // the sheet wanted, the sheets there
	msgDupHeader                      // the header, the other column's letter, its header
	msgMissingColumns                 // the columns, quoted
	msgTooManyRows                    // the row limit
	msgEmptySheet                     // the sheet
	msgRowBeyondLimit                 // Excel's last row
)

// messages are the Chinese texts, with fmt verbs for their arguments. Each
// says what is wrong and what to do next.
var messages = map[message]string{
	msgTooLarge:        "文件超过大小上限（%s），请分成多个文件导入",
	msgNotXLSX:         "文件不是有效的 Excel 工作簿（.xlsx），请用 Excel 或 WPS 另存为 .xlsx 后重新上传",
	msgOLE2:            "文件是旧版 .xls 或已加密，请用 Excel 另存为未加密的 .xlsx 后重新上传",
	msgODS:             "文件是 OpenDocument 表格（.ods，LibreOffice 或 WPS 的格式），本系统只读取 .xlsx。请在 LibreOffice 中点“文件 → 另存为”，文件类型选“Excel 2007-365 (.xlsx)”；在 WPS 中点“文件 → 另存为”，选“Excel 文件(*.xlsx)”，然后重新上传",
	msgUnzipTooLarge:   "文件解压后超过 %s，不像正常的 Excel 工作簿，请用 Excel 或 WPS 打开后另存为 .xlsx 再上传",
	msgSheetUnreadable: "无法读取工作表“%s”，文件可能已损坏，请用 Excel 或 WPS 打开后另存为 .xlsx 再上传",
	msgNoSheet:         "找不到工作表“%s”（工作簿中有：%s），请使用导入模板",
	msgDupHeader:       "表头“%s”与 %s 列的“%s”重复，请删去其中一列",
	msgMissingColumns:  "缺少必填列%s，请使用导入模板的表头",
	msgTooManyRows:     "数据超过 %d 行的上限，请分成多个文件导入",
	msgEmptySheet:      "工作表“%s”是空的，找不到表头行，请使用导入模板",
	msgRowBeyondLimit:  "工作表中有行号超过 Excel 上限（%d 行）的行，文件已损坏或不是由 Excel、WPS 或 LibreOffice 保存的；请用其中之一打开后另存为 .xlsx 再上传",
}

// text renders message m with its arguments.
func text(m message, args ...any) string {
	return fmt.Sprintf(messages[m], args...)
}
