package app

import (
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/thirdparty"
)

// TestVendorWarningText (CP-10.2, MTL-6.2): each warning's email says
// what fell due and when, and links to the vendor.
func TestVendorWarningText(t *testing.T) {
	due := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	for kind, want := range map[string]string{
		"agreement_expiring": "expires on 1 Mar 2027",
		"agreement_expired":  "expired on 1 Mar 2027",
		"vendor_review":      "was due on 1 Mar 2027",
	} {
		title, body := vendorWarningText(thirdparty.Warning{VendorID: "v1", VendorName: "Mailer Ltd", Kind: kind, Due: due}, "https://portal.example")
		if title == "" || strings.Contains(title, "Mailer") || !strings.Contains(body, want) || !strings.Contains(body, "Mailer Ltd") ||
			!strings.Contains(body, "https://portal.example/vendors/v1") {
			t.Errorf("%s: %q\n%s", kind, title, body)
		}
	}
}
