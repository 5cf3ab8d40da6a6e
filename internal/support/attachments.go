package support

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
)

// Attachment limits.
const (
	MaxAttachmentBytes = 5 << 20 // per file
	MaxAttachments     = 3       // per message
)

// allowedTypes maps each accepted extension to the type its content must
// sniff as. Nothing that a browser could run (HTML, SVG, scripts) is
// accepted, whatever it is called.
var allowedTypes = map[string]string{
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".gif":  "image/gif",
	".pdf":  "application/pdf",
	".txt":  "text/plain",
}

// AllowedExtensions lists the accepted file extensions, for forms.
func AllowedExtensions() string { return ".png, .jpg, .jpeg, .gif, .pdf, .txt" }

// checkAttachments validates uploads and settles each one's type from its
// content: the declared type is not believed.
//
// Enforces CP-6.1, MTL-4.1.1: attachments are limited in type (by content,
// not by name) and size, so a ticket cannot carry active content.
func checkAttachments(atts []NewAttachment) ([]NewAttachment, error) {
	if len(atts) > MaxAttachments {
		return nil, apperr.New(apperr.Invalid, "Attach at most 3 files to one message.")
	}
	out := make([]NewAttachment, 0, len(atts))
	for _, a := range atts {
		name := strings.TrimSpace(filepath.Base(strings.ReplaceAll(a.Name, "\\", "/")))
		if name == "" || name == "." || name == "/" || utf8.RuneCountInString(name) > 120 || !utf8.ValidString(name) {
			return nil, apperr.New(apperr.Invalid, "Each file needs a name of at most 120 characters.")
		}
		if len(a.Data) == 0 {
			return nil, apperr.Errorf(apperr.Invalid, "The file %q is empty.", name)
		}
		if len(a.Data) > MaxAttachmentBytes {
			return nil, apperr.Errorf(apperr.Invalid, "The file %q is larger than 5 MB.", name)
		}
		want, ok := allowedTypes[strings.ToLower(filepath.Ext(name))]
		if !ok {
			return nil, apperr.Errorf(apperr.Invalid, "The file %q is not a type we accept: send %s.", name, AllowedExtensions())
		}
		got, _, _ := strings.Cut(http.DetectContentType(a.Data), ";")
		if got != want {
			return nil, apperr.Errorf(apperr.Invalid, "The file %q does not contain what its name says (%s).", name, strings.TrimPrefix(want, "application/"))
		}
		out = append(out, NewAttachment{Name: name, ContentType: want, Data: a.Data})
	}
	return out, nil
}

// Attachment returns an attachment's description and content if p may see
// its ticket. Downloads by staff are audited (MTL-3.2.1: access to
// customer data is recorded).
func (s *Service) Attachment(ctx context.Context, p access.Principal, ticketID, attID string) (Attachment, []byte, error) {
	t, err := s.head(ctx, s.db, p, ticketID)
	if err != nil {
		return Attachment{}, nil, err
	}
	a := Attachment{ID: attID}
	var nameEnc, dataEnc []byte
	err = s.db.QueryRowContext(ctx,
		`SELECT name_enc, content_type, size, data_enc FROM ticket_attachments WHERE id = $1 AND ticket_id = $2`, attID, ticketID).
		Scan(&nameEnc, &a.ContentType, &a.Size, &dataEnc)
	if err != nil {
		return Attachment{}, nil, apperr.New(apperr.NotFound, "No such file.")
	}
	name, err := s.keys.Decrypt(ctx, s.db, t.AccountID, attachmentNameField(attID), nameEnc)
	if err != nil {
		return Attachment{}, nil, err
	}
	data, err := s.keys.Decrypt(ctx, s.db, t.AccountID, attachmentDataField(attID), dataEnc)
	if err != nil {
		return Attachment{}, nil, err
	}
	a.Name = string(name)
	if p.AccountID != t.AccountID {
		if err := s.db.Transact(ctx, func(tx *db.Tx) error {
			_, err := s.audit.Append(ctx, tx, audit.Event{Action: "attachment.download", Target: "ticket:" + ticketID, Outcome: audit.Success,
				Details: map[string]any{"account": t.AccountID, "attachment": attID}})
			return err
		}); err != nil {
			return Attachment{}, nil, err
		}
	}
	return a, data, nil
}
