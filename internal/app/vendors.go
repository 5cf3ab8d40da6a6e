package app

import (
	"context"
	"fmt"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/thirdparty"
)

// connectVendorWarnings delivers the vendor register's warnings (a
// reassessment past due, an agreement about to expire or expired) by
// email to every active member of the security team, with a link to the
// vendor. The overdue ones are alerts as well: detection reads
// governance.overdue from the audit trail.
//
// Enforces CP-10.2, MTL-6.2: the security team is warned ahead of an
// agreement's expiry and when a reassessment or agreement is overdue.
func connectVendorWarnings(sv *Services, publicURL string) {
	sv.Vendors.SetWarned(func(ctx context.Context, tx *db.Tx, w thirdparty.Warning) error {
		title, body := vendorWarningText(w, publicURL)
		return sv.Identity.NotifyStaff(ctx, tx, string(access.RoleSecurity), "vendor.warning", title, body)
	})
}

// vendorWarningText is a warning's email to the security team. The
// vendor's name is an organisation's, not a person's; it stays out of the
// subject line all the same.
func vendorWarningText(w thirdparty.Warning, publicURL string) (title, body string) {
	due := w.Due.UTC().Format("2 Jan 2006")
	var what string
	switch w.Kind {
	case "agreement_expiring":
		title = "A vendor agreement expires soon"
		what = fmt.Sprintf("An agreement with %s expires on %s. Renew it, or plan the end of the service.", w.VendorName, due)
	case "agreement_expired":
		title = "A vendor agreement has expired"
		what = fmt.Sprintf("An agreement with %s expired on %s and no later one is recorded.", w.VendorName, due)
	default:
		title = "A vendor reassessment is overdue"
		what = fmt.Sprintf("The reassessment of %s was due on %s. Start an assessment and have it approved.", w.VendorName, due)
	}
	return title, what + "\n\nOpen it at " + publicURL + "/vendors/" + w.VendorID + " ."
}
