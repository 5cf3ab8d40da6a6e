package web

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/approval"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// approvalRoutes are the four-eyes requests: changes that one administrator
// may not make alone (CP-4.2, CP-5.2, CP-5.3, MTL-7.2).
func (s *Server) approvalRoutes() []route {
	return []route{
		{"GET /admin/approvals", access.UserRead, s.approvalsPage},
		{"POST /admin/approvals/{id}/approve", access.ApprovalDecide, s.approvalDecide},
		{"POST /admin/approvals/{id}/reject", access.ApprovalDecide, s.approvalDecide},
	}
}

// approvalRow is a request as the page shows it: who asked, for what.
type approvalRow struct {
	approval.Request
	What        string   // "Make j***@example.com an administrator"
	Settings    []string // a policy edit's settings, "key: old → new"
	Account     string   // the account concerned, masked ("" for a policy edit)
	RequestedBy string   // masked
	Mine        bool
}

type approvalsPage struct {
	Page
	Requests  []approvalRow
	CanDecide bool
}

func (s *Server) approvalsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	reqs, err := s.identity.Approvals(ctx, p)
	if err != nil {
		return err
	}
	label := func(id string) string {
		if a, err := s.identity.AdminAccount(ctx, p, id); err == nil {
			return a.EmailMasked
		}
		return "(an account no longer here)"
	}
	page := approvalsPage{Page: s.page(w, r, "Approvals"), CanDecide: access.Allowed(p, access.ApprovalDecide)}
	for _, q := range reqs {
		row := approvalRow{Request: q, RequestedBy: label(q.RequestedBy), Mine: q.RequestedBy == p.AccountID}
		switch q.Kind {
		case approval.RoleChange:
			row.Account = label(q.Target)
			row.What = "Change the role of " + row.Account + " from " + q.Payload["old_role"] + " to " + q.Payload["role"]
		case approval.AccountDisable:
			row.Account = label(q.Target)
			row.What = "Disable the administrator " + row.Account
		case approval.PolicyEdit:
			row.What = "Change the security policy"
			row.Settings = policySettings(q.Payload)
		}
		page.Requests = append(page.Requests, row)
	}
	return s.render(w, "approvals", page)
}

// policyPayload and policySettings store a policy edit's changes in a
// request's payload: each setting's new text under its key, and its old
// text under "was:" + key, for the page.
const wasPrefix = "was:"

func policyPayload(changes []policy.Change) map[string]string {
	m := map[string]string{}
	for _, c := range changes {
		m[c.Key], m[wasPrefix+c.Key] = c.New, c.Old
	}
	return m
}

func policyValues(payload map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range payload {
		if !strings.HasPrefix(k, wasPrefix) {
			m[k] = v
		}
	}
	return m
}

func policySettings(payload map[string]string) []string {
	var out []string
	for k, v := range policyValues(payload) {
		out = append(out, k+": "+payload[wasPrefix+k]+" → "+v)
	}
	sort.Strings(out)
	return out
}

// approvalDecide approves, rejects or cancels a request. A role change or
// an administrator's disabling is carried out by internal/identity; a
// policy edit is written here, in the transaction that records the
// decision, so that an edit that no longer validates (the file changed
// since) leaves the request open.
func (s *Server) approvalDecide(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	id := r.PathValue("id")
	approve := strings.HasSuffix(r.URL.Path, "/approve")
	req, err := s.identity.Approval(ctx, p, id)
	if err != nil {
		return err
	}
	if req.Kind != approval.PolicyEdit {
		err = s.identity.DecideAccountRequest(ctx, p, id, approve)
	} else {
		err = s.decidePolicyEdit(r, p, id, approve)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/approvals?done=approval-decided", http.StatusSeeOther)
	return nil
}

// decidePolicyEdit records the decision on a policy edit and, on approval,
// writes the edit with its policy.change events, all in one transaction.
//
// Enforces CP-5.2, CP-5.3, MTL-7.2: a weakening policy edit takes effect
// only with a second administrator's approval.
func (s *Server) decidePolicyEdit(r *http.Request, p access.Principal, id string, approve bool) error {
	ctx := r.Context()
	if !access.Allowed(p, access.PolicyEdit) {
		return errNotFound
	}
	if s.policyFile == "" {
		return errNoPolicyFile
	}
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		req, err := s.approvals.Decide(ctx, tx, approval.PolicyEdit, id, p.AccountID, approve)
		if err != nil || req.Outcome != approval.Approved {
			return err
		}
		_, _, err = policy.EditRecorded(s.policyFile, s.profile.Name, policyValues(req.Payload), func(changes []policy.Change) error {
			return s.recordPolicyChanges(ctx, tx, changes, map[string]any{"request": req.ID, "requested_by": req.RequestedBy})
		})
		return err
	})
}

// recordPolicyChanges audits each changed setting with its old and new
// value, in tx.
func (s *Server) recordPolicyChanges(ctx context.Context, tx *db.Tx, changes []policy.Change, extra map[string]any) error {
	for _, c := range changes {
		details := map[string]any{"setting": c.Key, "old": c.Old, "new": c.New, "clauses": strings.Join(c.Clauses, " ")}
		for k, v := range extra {
			details[k] = v
		}
		if _, err := s.audit.Append(ctx, tx, audit.Event{Action: "policy.change", Target: "policy:" + c.Key, Outcome: audit.Success, Details: details}); err != nil {
			return err
		}
	}
	return nil
}

// errNeedsApproval stops EditRecorded before it writes a weakening edit:
// the edit was filed for a second administrator instead.
var errNeedsApproval = errors.New("web: the policy edit weakens a control and was filed for approval")
