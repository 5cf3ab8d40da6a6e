package privacy

import "testing"

// TestAttachmentPath: a file's own name cannot take it out of its
// ticket's folder of the archive, nor hide it (zip slip, dot files).
func TestAttachmentPath(t *testing.T) {
	for name, want := range map[string]string{
		"invoice.pdf":        "attachments/T/A-invoice.pdf",
		"Invoice 42 (2).pdf": "attachments/T/A-Invoice_42__2_.pdf",
		"../../etc/passwd":   "attachments/T/A-_.._etc_passwd",
		"..":                 "attachments/T/A-file",
		".bashrc":            "attachments/T/A-bashrc",
		`C:\Users\x\a.txt`:   "attachments/T/A-C__Users_x_a.txt",
		"résumé.pdf":         "attachments/T/A-r_sum_.pdf",
		"":                   "attachments/T/A-file",
	} {
		if got := attachmentPath("T", "A", name); got != want {
			t.Errorf("attachmentPath(%q) = %q, want %q", name, got, want)
		}
	}
}
