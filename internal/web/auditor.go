package web

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/approval"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/policy"
)

// auditorRoutes are the read-only views of the trail for auditors, the
// policy profile, undelivered mail and the master key (CP-5.3, MTL-3.2.2,
// MTL-7.2).
func (s *Server) auditorRoutes() []route {
	var rs []route
	if s.audit != nil {
		rs = append(rs,
			route{"GET /admin/audit", access.AuditRead, s.auditPage},
			route{"POST /admin/audit/export", access.AuditExport, s.auditExport},
			route{"GET /admin/policy", access.PolicyRead, s.policyPage},
			route{"POST /admin/policy", access.PolicyEdit, s.policySave},
		)
	}
	if s.notices != nil {
		rs = append(rs, route{"GET /admin/outbox", access.OutboxRead, s.outboxPage})
	}
	if s.keys != nil && s.audit != nil {
		rs = append(rs,
			route{"GET /admin/keys", access.KeysRotate, s.keysPage},
			route{"POST /admin/keys/rotate", access.KeysRotate, s.keysRotate},
		)
	}
	return rs
}

// record appends an audit event of the web layer's own (the actor comes
// from the request).
func (s *Server) record(ctx context.Context, action, target string, details map[string]any) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		_, err := s.audit.Append(ctx, tx, audit.Event{Action: action, Target: target, Outcome: audit.Success, Details: details})
		return err
	})
}

// auditQuery is the search form as typed, to show it back.
type auditQuery struct {
	Actor, Action, Target, From, To string
}

// maxAuditField bounds each text field of the search form.
const maxAuditField = 200

// auditFilter reads the search form. Dates are days in UTC; "to" includes
// its whole day.
//
// Actors and targets are opaque IDs (account:01J…, ticket:…, cli) and
// actions are dotted names, so the fields take only the characters of
// those: an email address or a name typed into them is refused rather than
// searched for and written, with the export's filter, into the trail,
// which must hold no personal data (CP-5.3).
func auditFilter(r *http.Request) (audit.Filter, auditQuery, error) {
	q := r.URL.Query()
	aq := auditQuery{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target")), From: q.Get("from"), To: q.Get("to")}
	f := audit.Filter{Actor: aq.Actor, Action: aq.Action, Target: aq.Target}
	for _, v := range []string{aq.Actor, aq.Action, aq.Target} {
		if len(v) > maxAuditField || strings.IndexFunc(v, notIDRune) >= 0 {
			return f, aq, apperr.New(apperr.Invalid, "Search by IDs such as account:01J… and actions such as account.role, not by names or addresses.")
		}
	}
	if v := aq.From; v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return f, aq, apperr.New(apperr.Invalid, "Give the dates as YYYY-MM-DD.")
		}
		f.From = t
	}
	if v := aq.To; v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return f, aq, apperr.New(apperr.Invalid, "Give the dates as YYYY-MM-DD.")
		}
		f.To = t.Add(24 * time.Hour)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, aq, apperr.New(apperr.Invalid, "The end date is before the start date.")
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, aq, apperr.New(apperr.Invalid, "That page of results does not exist.")
		}
		f.Before = n
	}
	return f, aq, nil
}

// notIDRune reports a character that no actor, action or target holds.
func notIDRune(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return false
	}
	return !strings.ContainsRune(".:_-", c)
}

// chainStatus is the head of the chain and the last verification run.
type chainStatus struct {
	Head       int64
	HeadHash   string // the first 16 hex digits
	LastVerify *audit.ExportLine
}

type auditPage struct {
	Page
	Events    []audit.ExportLine
	Q         auditQuery
	Next      string
	ExportURL string
	CanExport bool
	Chain     chainStatus
}

// auditPage searches the trail, newest first, 50 events a page.
//
// Enforces CP-5.3, MTL-7.2: auditors read the trail, search it by actor,
// action, target and time, and see the chain's head and its last
// verification; nothing here changes it.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	page := auditPage{Page: s.page(w, r, "Audit trail"), CanExport: access.Allowed(access.PrincipalFrom(ctx), access.AuditExport)}
	head, err := s.audit.Head(ctx)
	if err != nil {
		return err
	}
	page.Chain.Head = head.Seq
	page.Chain.HeadHash = hex.EncodeToString(head.Hash)[:16]
	if v, err := s.audit.Search(ctx, audit.Filter{Action: "audit.verify", Limit: 1}); err != nil {
		return err
	} else if len(v) == 1 {
		page.Chain.LastVerify = &v[0]
	}
	f, q, err := auditFilter(r)
	page.Q = q
	if err != nil {
		page.Error = apperr.MessageOf(err)
		return s.renderStatus(w, http.StatusUnprocessableEntity, "audit", page)
	}
	f.Limit = 50
	if page.Events, err = s.audit.Search(ctx, f); err != nil {
		return err
	}
	// A staff member's reason about a customer is sealed under the
	// customer's key (CP-5.2): shown decrypted here, or as erased.
	for i, e := range page.Events {
		page.Events[i].Details = s.identity.ShowDetails(ctx, e.Action, e.Target, e.Details)
	}
	keep := r.URL.Query()
	keep.Del("before")
	page.ExportURL = "/admin/audit/export?" + keep.Encode()
	if len(page.Events) == f.Limit {
		keep.Set("before", strconv.FormatInt(page.Events[len(page.Events)-1].Seq, 10))
		page.Next = "/admin/audit?" + keep.Encode()
	}
	return s.render(w, "audit", page)
}

// auditExport streams the search as JSON Lines, as a download. Its
// permission needs a fresh sign-in (step-up, in wrap).
//
// Enforces CP-5.3, MTL-7.2: the export is recorded in the trail, with its
// filter and its count, before any event leaves: the events that match up
// to the chain's head now are counted, the record is committed, then
// exactly those are written (not the ones appended meanwhile, nor the
// record itself). An export that fails is cut off, never passed off as a
// whole one.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, _, err := auditFilter(r)
	if err != nil {
		return err
	}
	f.Before = 0
	count, head, err := s.audit.ExportScope(ctx, f)
	if err != nil {
		return err
	}
	if err := s.record(ctx, "audit.export", "audit:trail", map[string]any{
		"events": count, "up_to_seq": head, "actor_filter": f.Actor, "action_filter": f.Action, "target_filter": f.Target,
		"from": timeOrEmpty(f.From), "to": timeOrEmpty(f.To)}); err != nil {
		return err
	}
	f.Before = head + 1
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="portico-audit-`+s.db.Now().UTC().Format("20060102-150405")+`.jsonl"`)
	w.Header().Set("Cache-Control", "no-store")
	n, err := s.audit.ExportFiltered(ctx, w, f)
	if err != nil || n != count {
		// Part of the body may be out: cut the connection rather than
		// let a partial export pass for a whole one. (n != count would
		// mean events up to the head changed: Verify will say how.)
		errText := "count mismatch"
		if err != nil {
			errText = err.Error()
		}
		s.logger.Error("audit export failed", "request_id", RequestID(ctx), "events", n, "expected", count, "error", errText)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// policyRow is one setting on the policy page.
type policyRow struct {
	policy.Setting
	FileValue string // the value in the override file now, when it differs from the running one
	Input     string // what the form shows (the admin's input after a refused save)
	Problem   string // why a refused save refused this value
}

type policyPage struct {
	Page
	Profile string // the built-in profile the running one starts from
	Rows    []policyRow
	File    string
	// FileProblem says why the override file does not load now (edited
	// by hand since the start); a save needs it fixed first.
	FileProblem string
	CanEdit     bool
	Pending     bool     // the file differs from the running profile
	Problems    []string // a refused save's reasons, "key: reason"
}

func (s *Server) policyData(w http.ResponseWriter, r *http.Request) policyPage {
	p := access.PrincipalFrom(r.Context())
	page := policyPage{Page: s.page(w, r, "Security policy"), Profile: s.profile.Name, File: s.policyFile,
		CanEdit: s.policyFile != "" && access.Allowed(p, access.PolicyEdit)}
	fileVals := map[string]string{}
	if s.policyFile != "" {
		// A missing file is no problem here: the first save creates it.
		if _, err := os.Stat(s.policyFile); !errors.Is(err, fs.ErrNotExist) {
			fp, err := policy.Load(s.profile.Name, s.policyFile)
			if err != nil {
				page.FileProblem = err.Error()
			} else {
				for _, st := range fp.Settings() {
					fileVals[st.Key] = st.Value
				}
			}
		}
	}
	for _, st := range s.profile.Settings() {
		row := policyRow{Setting: st, Input: st.Value}
		if v, ok := fileVals[st.Key]; ok && v != st.Value {
			row.FileValue, row.Input = v, v
			page.Pending = true
		}
		page.Rows = append(page.Rows, row)
	}
	return page
}

func (s *Server) policyPage(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, "policy", s.policyData(w, r))
}

// errNoPolicyFile: the policy page cannot edit a profile that has no
// override file.
var errNoPolicyFile = apperr.New(apperr.Conflict, "This server runs without a policy file (--policy-file), so there is nothing to edit here.")

// policySave writes the override file from the form. The running server
// keeps its profile until restarted (every service was built with it); the
// page says so.
//
// Enforces MTL-3.2.2: configuration is admin-only (with a fresh step-up),
// validated, and every change is audited with its old and new value before
// it is written. An edit that weakens a control waits for a second
// administrator (approvals.go).
func (s *Server) policySave(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if s.policyFile == "" {
		return errNoPolicyFile
	}
	values := map[string]string{}
	for _, st := range s.profile.Settings() {
		if v, ok := r.PostForm["setting."+st.Key]; ok && st.Key != "name" {
			values[st.Key] = v[0]
		}
	}
	// The changes are recorded, in one transaction, before the new file
	// replaces the old one: no change reaches the file unrecorded. An edit
	// that weakens a control is not written at all: it is filed for a
	// second administrator (Enforces CP-4.2, CP-5.2, CP-5.3, MTL-7.2).
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	var recErr error
	_, _, err := policy.EditRecorded(s.policyFile, s.profile.Name, values, func(changes []policy.Change) error {
		if weak := policy.Weakening(changes); len(weak) > 0 {
			recErr = s.db.Transact(ctx, func(tx *db.Tx) error {
				_, err := s.approvals.File(ctx, tx, approval.PolicyEdit, "policy", p.AccountID, policyPayload(changes))
				return err
			})
			if recErr == nil {
				recErr = errNeedsApproval // filed: the file is not written
			}
			return recErr
		}
		recErr = s.db.Transact(ctx, func(tx *db.Tx) error {
			return s.recordPolicyChanges(ctx, tx, changes, nil)
		})
		return recErr
	})
	if errors.Is(recErr, errNeedsApproval) {
		http.Redirect(w, r, "/admin/approvals?done=policy-requested", http.StatusSeeOther)
		return nil
	}
	if recErr != nil {
		return recErr
	}
	if err != nil {
		// Nothing was written: the form comes back with what was typed
		// and the validator's reasons, by setting.
		page := s.policyData(w, r)
		page.Error = "Nothing was saved. Correct the settings below and save again."
		byKey := map[string]string{}
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, e := range errs {
			var se *policy.SettingError
			if errors.As(e, &se) {
				byKey[se.Key] = se.Reason
				page.Problems = append(page.Problems, se.Key+": "+se.Reason)
			} else {
				page.Problems = append(page.Problems, e.Error())
			}
		}
		for i := range page.Rows {
			if v, ok := values[page.Rows[i].Key]; ok {
				page.Rows[i].Input = v
			}
			page.Rows[i].Problem = byKey[page.Rows[i].Key]
		}
		return s.renderStatus(w, http.StatusUnprocessableEntity, "policy", page)
	}
	http.Redirect(w, r, "/admin/policy?done=policy-saved", http.StatusSeeOther)
	return nil
}

type outboxPage struct {
	Page
	Items []notify.OutboxItem
}

func (s *Server) outboxPage(w http.ResponseWriter, r *http.Request) error {
	items, err := s.notices.Undelivered(r.Context(), 200)
	if err != nil {
		return err
	}
	return s.render(w, "outbox", outboxPage{Page: s.page(w, r, "Outgoing mail"), Items: items})
}

type keysPage struct {
	Page
	Status crypto.Status
	Result *crypto.RotateResult
}

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request) error {
	st, err := s.keys.Status(r.Context())
	if err != nil {
		return err
	}
	return s.render(w, "keys", keysPage{Page: s.page(w, r, "Encryption keys"), Status: st})
}

// keysRotate rotates the master key while the server runs: the keyring
// locks its file and re-wraps in batches; other nodes pick up the new
// keyset when they next read it.
//
// Enforces CP-5.1, MTL-3.2.2: keys are admin-only, rotation needs a
// step-up and is audited.
func (s *Server) keysRotate(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	res, err := s.keys.Rotate(r.Context(), io.Discard)
	if err != nil {
		// A failed rotation is recorded too; it is resumable, and the
		// page then says that it is unfinished. The request's context may
		// be what failed.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		if rerr := s.db.Transact(ctx, func(tx *db.Tx) error {
			_, err := s.audit.Append(ctx, tx, audit.Event{Action: "keys.rotate", Target: "keyring:master", Outcome: audit.Failure,
				Details: map[string]any{"primary": res.PrimaryKeyID, "previous": res.PreviousKeyID, "resumed": res.Resumed,
					"subject_keys": res.SubjectKeys, "secrets": res.Secrets}})
			return err
		}); rerr != nil {
			s.logger.Error("audit of a failed key rotation", "request_id", RequestID(r.Context()), "error", rerr.Error())
		}
		return err
	}
	if err := s.record(r.Context(), "keys.rotate", "keyring:master", map[string]any{
		"primary": res.PrimaryKeyID, "previous": res.PreviousKeyID, "resumed": res.Resumed,
		"subject_keys": res.SubjectKeys, "secrets": res.Secrets}); err != nil {
		return err
	}
	st, err := s.keys.Status(r.Context())
	if err != nil {
		return err
	}
	page := keysPage{Page: s.page(w, r, "Encryption keys"), Status: st, Result: &res}
	page.Flash = "The master key was rotated."
	return s.render(w, "keys", page)
}
