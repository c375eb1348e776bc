package sheets

import "testing"

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"", XLSX, false},
		{"xlsx", XLSX, false},
		{"csv", CSV, false},
		{"CSV", "", true},
		{"xls", "", true},
		{"pdf", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseFormat(%q): got %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestFormatContentTypeExt(t *testing.T) {
	tests := []struct {
		f               Format
		wantType, wantE string
	}{
		{XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
		{CSV, "text/csv; charset=utf-8", ".csv"},
	}
	for _, tt := range tests {
		t.Run(string(tt.f), func(t *testing.T) {
			if got := tt.f.ContentType(); got != tt.wantType {
				t.Errorf("ContentType: got %q, want %q", got, tt.wantType)
			}
			if got := tt.f.Ext(); got != tt.wantE {
				t.Errorf("Ext: got %q, want %q", got, tt.wantE)
			}
		})
	}
}
