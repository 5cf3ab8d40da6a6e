package privacy

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
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
// the inventory, and a README that explains them.
func (s *Service) Archive(ctx context.Context, accountID string) ([]byte, error) {
	files, err := s.collect(ctx, accountID)
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
	if err := add("README.md", s.readme(accountID)); err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := add(f.name, append(b, '\n')); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Service) readme(accountID string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Your data in Portico\n\nAccount %s, exported %s.\n\n", accountID, s.d.DB.Now().UTC().Format(time.RFC1123))
	b.WriteString("Each file is JSON. Times are in UTC (RFC 3339). What each file holds, why we keep it and for how long:\n\n")
	for _, c := range Inventory(s.d.Profile) {
		fmt.Fprintf(&b, "## %s: %s\n\n- Holds: %s\n- Why: %s\n- Lawful basis: %s\n- Kept: %s\n\n", c.InExport, c.Name, c.Data, c.Purpose, c.Basis, c.Retention)
	}
	b.WriteString("Passwords, authenticator secrets and recovery codes are not included: we keep only hashes or encrypted secrets that are of no use outside Portico.\n")
	return []byte(b.String())
}

type file struct {
	name string
	v    any
}

// Exported shapes: stable field names, no internal types.
type exportAccount struct {
	ID              string     `json:"id"`
	Email           string     `json:"email"`
	Name            string     `json:"name"`
	Phone           string     `json:"phone"`
	Role            string     `json:"role"`
	Status          string     `json:"status"`
	CreatedAt       time.Time  `json:"created_at"`
	EmailVerifiedAt *time.Time `json:"email_verified_at"`
	LastSignInAt    *time.Time `json:"last_sign_in_at"`
	AuthenticatorOn bool       `json:"authenticator_app"`
	Passkeys        []string   `json:"passkeys"`
	RestrictedAt    *time.Time `json:"processing_restricted_since"`
	// Staff accounts only.
	TrainingCompletedAt *time.Time `json:"training_completed_at,omitempty"`
	ContractorUntil     *time.Time `json:"contractor_until,omitempty"`
}

func opt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Service) collect(ctx context.Context, id string) ([]file, error) {
	ids := s.d.Identity
	a, err := ids.Account(ctx, id)
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "No such account.")
	}
	acc := exportAccount{ID: a.ID, Role: string(a.Role), Status: a.Status, CreatedAt: a.CreatedAt.UTC(),
		EmailVerifiedAt: opt(a.EmailVerifiedAt), LastSignInAt: opt(a.LastSignInAt), AuthenticatorOn: a.TOTPEnabled, Passkeys: []string{},
		RestrictedAt: opt(a.RestrictedAt), TrainingCompletedAt: opt(a.TrainingCompletedAt), ContractorUntil: opt(a.ContractorUntil)}
	if acc.Email, err = ids.Email(ctx, id); err != nil {
		return nil, err
	}
	if acc.Name, err = ids.Name(ctx, id); err != nil {
		return nil, err
	}
	if acc.Phone, err = ids.Phone(ctx, id); err != nil {
		return nil, err
	}
	if s.d.Passkeys != nil {
		pks, err := s.d.Passkeys.List(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, pk := range pks {
			acc.Passkeys = append(acc.Passkeys, pk.Name)
		}
	}
	files := []file{{"account.json", acc}}

	signIns, err := ids.RecentSignIns(ctx, id, 1_000_000)
	if err != nil {
		return nil, err
	}
	files = append(files, file{"sign_ins.json", nonNil(signIns)})

	sessions, err := ids.AllSessions(ctx, id) // ended ones too, until the purge
	if err != nil {
		return nil, err
	}
	type sess struct {
		CreatedAt  time.Time  `json:"created_at"`
		LastSeenAt time.Time  `json:"last_seen_at"`
		ExpiresAt  time.Time  `json:"expires_at"`
		EndedAt    *time.Time `json:"ended_at"`
		EndReason  string     `json:"end_reason,omitempty"`
		Device     string     `json:"device"`
		Country    string     `json:"country"`
		IP         string     `json:"ip"`
		UserAgent  string     `json:"user_agent"`
	}
	var ss []sess
	for _, x := range sessions {
		ss = append(ss, sess{x.CreatedAt.UTC(), x.LastSeenAt.UTC(), x.ExpiresAt.UTC(), opt(x.EndedAt), x.EndReason, x.Device, x.Country, x.IP, x.UserAgent})
	}
	files = append(files, file{"sessions.json", nonNil(ss)})

	reports, err := ids.Reports(ctx, id)
	if err != nil {
		return nil, err
	}
	files = append(files, file{"security_reports.json", nonNil(reports)})

	if s.d.Support != nil {
		self := access.Principal{AccountID: id, Role: a.Role, Stage: access.StageDone}
		type msg struct {
			From        string    `json:"from"`
			At          time.Time `json:"at"`
			Body        string    `json:"body"`
			Attachments []string  `json:"attachments"`
		}
		type ticket struct {
			ID        string     `json:"id"`
			Subject   string     `json:"subject"`
			Status    string     `json:"status"`
			CreatedAt time.Time  `json:"created_at"`
			ClosedAt  *time.Time `json:"closed_at"`
			Messages  []msg      `json:"messages"`
		}
		var ts []ticket
		if a.Role == access.RoleCustomer {
			own, err := s.d.Support.ListOwn(ctx, self)
			if err != nil {
				return nil, err
			}
			for _, t := range own {
				full, err := s.d.Support.Get(ctx, self, t.ID)
				if err != nil {
					return nil, err
				}
				x := ticket{ID: full.ID, Subject: full.Subject, Status: full.Status, CreatedAt: full.CreatedAt.UTC(), ClosedAt: opt(full.ClosedAt)}
				for _, m := range full.Messages {
					from := "you"
					if m.Staff {
						from = "support"
					}
					names := []string{}
					for _, at := range m.Attachments {
						names = append(names, at.Name)
					}
					x.Messages = append(x.Messages, msg{from, m.CreatedAt.UTC(), m.Body, names})
				}
				ts = append(ts, x)
			}
		}
		files = append(files, file{"tickets.json", nonNil(ts)})
		grants, err := s.d.Support.AccessHistory(ctx, self, id)
		if err != nil {
			return nil, err
		}
		type grant struct {
			At     time.Time `json:"at"`
			Who    string    `json:"who"`
			Field  string    `json:"field"`
			Reason string    `json:"reason"`
			Until  time.Time `json:"until"`
		}
		var gs []grant
		for _, g := range grants {
			gs = append(gs, grant{g.GrantedAt.UTC(), g.StaffLabel, g.Field, g.Reason, g.ExpiresAt.UTC()})
		}
		files = append(files, file{"access_history.json", nonNil(gs)})
	}
	// Enforces MTL-2.1.1, CP-11.1: every category of the inventory that
	// holds data of the account is in the archive (TestExportCoversTheInventory).
	risks, err := ids.RiskSignals(ctx, id, 1_000_000)
	if err != nil {
		return nil, err
	}
	type risk struct {
		At      time.Time         `json:"at"`
		Kind    string            `json:"kind"`
		Details map[string]string `json:"details"`
	}
	var rs []risk
	for _, r := range risks {
		rs = append(rs, risk{r.CreatedAt.UTC(), r.Kind, r.Detail})
	}
	files = append(files, file{"risk_signals.json", nonNil(rs)})

	reqs, err := s.Requests(ctx, id)
	if err != nil {
		return nil, err
	}
	type request struct {
		Kind         string     `json:"kind"`
		Status       string     `json:"status"`
		CreatedAt    time.Time  `json:"created_at"`
		DueAt        time.Time  `json:"due_at"`
		ScheduledFor *time.Time `json:"scheduled_for"`
		CompletedAt  *time.Time `json:"completed_at"`
	}
	var qs []request
	for _, r := range reqs {
		qs = append(qs, request{r.Kind, r.Status, r.CreatedAt.UTC(), r.DueAt.UTC(), opt(r.ScheduledFor), opt(r.CompletedAt)})
	}
	files = append(files, file{"requests.json", nonNil(qs)})

	if s.d.Tokens != nil {
		toks, err := s.d.Tokens.List(ctx, id) // the last address decrypted
		if err != nil {
			return nil, err
		}
		type token struct {
			Name       string     `json:"name"`
			Scopes     []string   `json:"scopes"`
			CreatedAt  time.Time  `json:"created_at"`
			ExpiresAt  time.Time  `json:"expires_at"`
			LastUsedAt *time.Time `json:"last_used_at"`
			LastUsedIP string     `json:"last_used_ip"`
			RevokedAt  *time.Time `json:"revoked_at"`
		}
		var ts []token
		for _, t := range toks {
			scopes := []string{}
			for _, sc := range t.Scopes {
				scopes = append(scopes, string(sc))
			}
			ts = append(ts, token{t.Name, scopes, t.CreatedAt.UTC(), t.ExpiresAt.UTC(), opt(t.LastUsedAt), t.LastUsedIP, opt(t.RevokedAt)})
		}
		files = append(files, file{"api_tokens.json", nonNil(ts)})
	}
	_, history, err := s.Consents(ctx, id)
	if err != nil {
		return nil, err
	}
	files = append(files, file{"consents.json", nonNil(history)})
	if s.d.Notices != nil {
		inbox, err := s.d.Notices.Inbox(ctx, id, 100_000)
		if err != nil {
			return nil, err
		}
		files = append(files, file{"notices.json", nonNil(inbox)})
	}
	return files, nil
}

// nonNil makes an empty list export as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
