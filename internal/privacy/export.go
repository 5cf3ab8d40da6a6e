package privacy

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
)

// RequestExport records a request for the customer's data and returns a
// single-use download token (shown once; stored hashed), valid for an
// hour. The web layer asks for a fresh re-authentication first.
//
// Enforces CP-11.1: access and portability from the account itself.
func (s *Service) RequestExport(ctx context.Context, p access.Principal) (string, Request, error) {
	if err := customerOnly(p); err != nil {
		return "", Request{}, err
	}
	token := strings.ToLower(rand32())
	r := Request{ID: newID(), AccountID: p.AccountID, Kind: KindExport, Status: StatusReady}
	err := s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		r.CreatedAt, r.DueAt, r.LinkExpires = now, now.Add(s.d.Profile.Privacy.RequestDeadline.Duration), now.Add(exportLinkLife)
		// An older link that was never used stops working.
		if _, err := tx.ExecContext(ctx,
			`UPDATE privacy_requests SET status = 'cancelled', completed_at = $1 WHERE account_id = $2 AND kind = 'export' AND status = 'ready'`,
			now, p.AccountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO privacy_requests (id, account_id, kind, status, created_at, due_at, token_hash, token_expires_at)
			 VALUES ($1, $2, 'export', 'ready', $3, $4, $5, $6)`,
			r.ID, r.AccountID, r.CreatedAt, r.DueAt, hashToken(token), r.LinkExpires); err != nil {
			return err
		}
		_, err := s.d.Audit.Append(ctx, tx, audit.Event{Action: "privacy.export.request", Target: "account:" + p.AccountID,
			Outcome: audit.Success, Details: map[string]any{"request": r.ID}})
		return err
	})
	if err != nil {
		return "", Request{}, err
	}
	return token, r, nil
}

func rand32() string { return newID() + newID() }

// Download spends an export token of the principal and returns the
// archive (a zip of JSON files with a README) and its file name.
//
// Enforces CP-11.1: the archive holds everything Portico keeps about the
// customer, decrypted; the link works once, for an hour, for its owner
// only, and the download is audited.
func (s *Service) Download(ctx context.Context, p access.Principal, token string) ([]byte, string, error) {
	if err := customerOnly(p); err != nil {
		return nil, "", err
	}
	var reqID string
	err := s.d.DB.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		err := tx.QueryRowContext(ctx,
			`UPDATE privacy_requests SET status = 'done', completed_at = $1
			 WHERE token_hash = $2 AND account_id = $3 AND kind = 'export' AND status = 'ready' AND token_expires_at > $1
			 RETURNING id`, now, hashToken(token), p.AccountID).Scan(&reqID)
		if err != nil {
			return errNoRequest
		}
		_, err = s.d.Audit.Append(ctx, tx, audit.Event{Action: "privacy.export.download", Target: "account:" + p.AccountID,
			Outcome: audit.Success, Details: map[string]any{"request": reqID}})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	b, err := s.Archive(ctx, p.AccountID)
	if err != nil {
		return nil, "", err
	}
	return b, "portico-data-" + s.d.DB.Now().UTC().Format("20060102") + ".zip", nil
}

// Archive builds the export of an account: one JSON file per category of
// the inventory, the files attached to its tickets, the JSON Schema of
// every file (schema.json) and a README that explains them.
//
// Enforces CP-11.1: the archive holds everything Portico keeps about the
// customer, each file in the one documented shape of schema.json.
func (s *Service) Archive(ctx context.Context, accountID string) ([]byte, error) {
	c, err := s.collect(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, body []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: s.d.DB.Now()})
		if err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	}
	if err := add("README.md", s.readme(accountID, c)); err != nil {
		return nil, err
	}
	if err := add("schema.json", exportSchema); err != nil {
		return nil, err
	}
	for _, f := range c.files {
		b, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := add(f.name, append(b, '\n')); err != nil {
			return nil, err
		}
	}
	// One file in memory at a time: read, decrypted, written, dropped.
	for _, a := range c.attachments {
		_, data, err := s.d.Support.Attachment(ctx, c.owner, a.ticketID, a.id)
		if err != nil {
			return nil, err
		}
		if err := add(a.path, data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Service) readme(accountID string, c collected) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Your data in Portico\n\nAccount %s, exported %s.\n\n", accountID, s.d.DB.Now().UTC().Format(time.RFC1123))
	b.WriteString("## Files in this archive\n\n")
	b.WriteString("- README.md: this file.\n")
	b.WriteString("- schema.json: the JSON Schema (draft 2020-12) of every JSON file below, one definition per file under $defs.\n")
	for _, f := range c.files {
		var what []string
		for _, cat := range Inventory(s.d.Profile) {
			if cat.InExport == f.name {
				what = append(what, strings.ToLower(cat.Name[:1])+cat.Name[1:])
			}
		}
		fmt.Fprintf(&b, "- %s: %s.\n", f.name, strings.Join(what, "; "))
	}
	if len(c.attachments) > 0 {
		fmt.Fprintf(&b, "- attachments/: the %d files attached to your tickets, by you or by support, decrypted, as attachments/<ticket id>/<attachment id>-<name>; tickets.json lists each with its name, type and size.\n", len(c.attachments))
		for _, a := range c.attachments {
			fmt.Fprintf(&b, "  - %s\n", a.path)
		}
	}
	b.WriteString("\nEach JSON file uses snake_case keys. Times are in UTC (RFC 3339); a time that is not set (a session still open, a notice not read) is null.\n\n")
	b.WriteString("## What each file holds, why we keep it and for how long\n\n")
	for _, cat := range Inventory(s.d.Profile) {
		fmt.Fprintf(&b, "### %s: %s\n\n- Holds: %s\n- Why: %s\n- Lawful basis: %s\n- Kept: %s\n\n", cat.InExport, cat.Name, cat.Data, cat.Purpose, cat.Basis, cat.Retention)
	}
	b.WriteString("Passwords, authenticator secrets and recovery codes are not included: we keep only hashes or encrypted secrets that are of no use outside Portico. When your password last changed is in account.json.\n")
	return []byte(b.String())
}

type file struct {
	name string
	v    any
}

// attachmentFile is a ticket's attachment to be read into the archive.
type attachmentFile struct {
	ticketID, id string
	path         string // in the archive
}

// collected is what the archive of an account holds.
type collected struct {
	owner       access.Principal // the account, as itself: reads its own tickets' files
	files       []file
	attachments []attachmentFile
}

// attachmentPath is where an attachment goes in the archive:
// attachments/<ticket-id>/<attachment-id>-<safe-name>. The name is the
// customer's own, so it is made safe for any unzip tool: no directory,
// no leading dot, only letters, digits, dots, dashes and underscores.
func attachmentPath(ticketID, id, name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	safe := strings.TrimLeft(b.String(), ".")
	if len(safe) > 100 {
		safe = safe[len(safe)-100:] // keep the extension
	}
	if safe == "" {
		safe = "file"
	}
	return "attachments/" + ticketID + "/" + id + "-" + safe
}

func (s *Service) collect(ctx context.Context, id string) (collected, error) {
	var c collected
	ids := s.d.Identity
	a, err := ids.Account(ctx, id)
	if err != nil {
		return c, apperr.New(apperr.NotFound, "No such account.")
	}
	c.owner = access.Principal{AccountID: id, Role: a.Role, Stage: access.StageDone}
	acc := exportAccount{ID: a.ID, Role: string(a.Role), Status: a.Status, CreatedAt: a.CreatedAt.UTC(),
		EmailVerifiedAt: opt(a.EmailVerifiedAt), LastSignInAt: opt(a.LastSignInAt), PasswordChangedAt: opt(a.PasswordChangedAt),
		AuthenticatorOn: a.TOTPEnabled, Passkeys: []exportPasskey{},
		RestrictedAt: opt(a.RestrictedAt), TrainingCompletedAt: opt(a.TrainingCompletedAt), ContractorUntil: opt(a.ContractorUntil)}
	if acc.Email, err = ids.Email(ctx, id); err != nil {
		return c, err
	}
	if acc.Name, err = ids.Name(ctx, id); err != nil {
		return c, err
	}
	if acc.Phone, err = ids.Phone(ctx, id); err != nil {
		return c, err
	}
	if s.d.Passkeys != nil {
		pks, err := s.d.Passkeys.List(ctx, id)
		if err != nil {
			return c, err
		}
		for _, pk := range pks {
			acc.Passkeys = append(acc.Passkeys, exportPasskey{pk.Name, pk.CreatedAt.UTC(), opt(pk.LastUsedAt)})
		}
	}
	c.files = append(c.files, file{"account.json", acc})

	signIns, err := ids.AllSignIns(ctx, id)
	if err != nil {
		return c, err
	}
	sis := make([]exportSignIn, 0, len(signIns))
	for _, x := range signIns {
		sis = append(sis, exportSignIn{x.ID, x.At.UTC(), x.Success, x.Reason, x.Method, x.Device, x.Country, x.IP, x.UserAgent})
	}
	c.files = append(c.files, file{"sign_ins.json", sis})

	sessions, err := ids.AllSessions(ctx, id) // ended ones too, until the purge
	if err != nil {
		return c, err
	}
	ss := []exportSession{}
	for _, x := range sessions {
		ss = append(ss, exportSession{x.CreatedAt.UTC(), x.LastSeenAt.UTC(), x.ExpiresAt.UTC(), opt(x.EndedAt), x.EndReason, x.Device, x.Country, x.IP, x.UserAgent})
	}
	c.files = append(c.files, file{"sessions.json", ss})

	reports, err := ids.Reports(ctx, id)
	if err != nil {
		return c, err
	}
	rps := []exportReport{}
	for _, r := range reports {
		x := exportReport{ID: r.ID, CreatedAt: r.CreatedAt.UTC(), Source: r.Source, SignInEvent: optString(r.SignInEvent), Details: r.Details,
			Status: r.Status, Messages: []exportReportMessage{}}
		if s.d.Detect != nil {
			// The thread as the customer sees it in the portal.
			rep, err := s.d.Detect.CustomerReport(ctx, id, r.ID)
			if err != nil {
				return c, err
			}
			x.Outcome, x.ClosedAt = optString(rep.Outcome), opt(rep.ClosedAt)
			for _, m := range rep.Thread {
				from := "security team"
				if m.Kind == detect.MessageAnswer {
					from = "you"
				}
				x.Messages = append(x.Messages, exportReportMessage{from, m.Kind, m.CreatedAt.UTC(), m.Body})
			}
		}
		rps = append(rps, x)
	}
	c.files = append(c.files, file{"security_reports.json", rps})

	if s.d.Support != nil {
		all, err := s.d.Support.AllOwn(ctx, c.owner)
		if err != nil {
			return c, err
		}
		ts := []exportTicket{}
		for _, t := range all {
			x := exportTicket{ID: t.ID, Subject: t.Subject, Status: t.Status, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
				ClosedAt: opt(t.ClosedAt), Messages: []exportMessage{}}
			for _, m := range t.Messages {
				from := "you"
				if m.Staff {
					from = "support"
				}
				atts := []exportAttachment{}
				for _, at := range m.Attachments {
					f := attachmentFile{ticketID: t.ID, id: at.ID, path: attachmentPath(t.ID, at.ID, at.Name)}
					c.attachments = append(c.attachments, f)
					atts = append(atts, exportAttachment{at.ID, at.Name, at.ContentType, at.Size, f.path})
				}
				x.Messages = append(x.Messages, exportMessage{from, m.CreatedAt.UTC(), m.Body, atts})
			}
			ts = append(ts, x)
		}
		c.files = append(c.files, file{"tickets.json", ts})
		grants, err := s.d.Support.AccessHistory(ctx, c.owner, id)
		if err != nil {
			return c, err
		}
		gs := []exportGrant{}
		for _, g := range grants {
			gs = append(gs, exportGrant{g.GrantedAt.UTC(), g.StaffLabel, g.Field, g.Reason, g.ExpiresAt.UTC()})
		}
		c.files = append(c.files, file{"access_history.json", gs})
	}
	// Enforces MTL-2.1.1, CP-11.1: every category of the inventory that
	// holds data of the account is in the archive (TestExportCoversTheInventory).
	risks, err := ids.RiskSignals(ctx, id, 1_000_000)
	if err != nil {
		return c, err
	}
	rs := []exportRisk{}
	for _, r := range risks {
		details := r.Detail
		if details == nil {
			details = map[string]string{}
		}
		rs = append(rs, exportRisk{r.CreatedAt.UTC(), r.Kind, details})
	}
	c.files = append(c.files, file{"risk_signals.json", rs})

	reqs, err := s.Requests(ctx, id)
	if err != nil {
		return c, err
	}
	qs := []exportRequest{}
	for _, r := range reqs {
		qs = append(qs, exportRequest{r.Kind, r.Status, r.CreatedAt.UTC(), r.DueAt.UTC(), opt(r.ScheduledFor), opt(r.CompletedAt)})
	}
	c.files = append(c.files, file{"requests.json", qs})

	if s.d.Tokens != nil {
		toks, err := s.d.Tokens.List(ctx, id) // the last address decrypted
		if err != nil {
			return c, err
		}
		ts := []exportToken{}
		for _, t := range toks {
			scopes := []string{}
			for _, sc := range t.Scopes {
				scopes = append(scopes, string(sc))
			}
			ts = append(ts, exportToken{t.Name, scopes, t.CreatedAt.UTC(), t.ExpiresAt.UTC(), opt(t.LastUsedAt), t.LastUsedIP, opt(t.RevokedAt)})
		}
		c.files = append(c.files, file{"api_tokens.json", ts})
	}

	consents, err := s.exportConsents(ctx, id)
	if err != nil {
		return c, err
	}
	c.files = append(c.files, file{"consents.json", consents})

	if s.d.Notices != nil {
		inbox, err := s.d.Notices.AllNotices(ctx, id)
		if err != nil {
			return c, err
		}
		ns := []exportNotice{}
		for _, n := range inbox {
			ns = append(ns, exportNotice{n.Kind, n.Title, n.Body, n.CreatedAt.UTC(), opt(n.ReadAt)})
		}
		c.files = append(c.files, file{"notices.json", ns})
	}
	return c, nil
}

// exportConsents is consents.json: the privacy notice the account
// accepted at sign-up and since, and every change of a consent.
func (s *Service) exportConsents(ctx context.Context, id string) (exportConsents, error) {
	out := exportConsents{Consents: []exportConsent{}, PrivacyNotice: exportPrivacyNotice{Acknowledgements: []exportNoticeAck{}}}
	var version string
	var acceptedAt sql.NullTime
	if err := s.d.DB.QueryRowContext(ctx, `SELECT privacy_version, privacy_accepted_at FROM accounts WHERE id = $1`, id).
		Scan(&version, &acceptedAt); err != nil {
		return out, err
	}
	out.PrivacyNotice.Version, out.PrivacyNotice.AcceptedAt = optString(version), opt(acceptedAt.Time)
	rows, err := s.d.DB.QueryContext(ctx, `SELECT version, at, at_sign_up FROM notice_acks WHERE account_id = $1 ORDER BY at, version`, id)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var a exportNoticeAck
		if err := rows.Scan(&a.Version, &a.AcceptedAt, &a.AtSignUp); err != nil {
			return out, err
		}
		a.AcceptedAt = a.AcceptedAt.UTC()
		if a.AtSignUp {
			out.PrivacyNotice.SignUp = &exportNoticeAccepted{a.Version, a.AcceptedAt}
		}
		out.PrivacyNotice.Acknowledgements = append(out.PrivacyNotice.Acknowledgements, a)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	rows.Close()
	_, history, err := s.Consents(ctx, id)
	if err != nil {
		return out, err
	}
	for _, e := range history {
		out.Consents = append(out.Consents, exportConsent{e.Purpose, e.Granted, e.At.UTC(), e.NoticeVersion})
	}
	return out, nil
}
