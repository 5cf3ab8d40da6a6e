package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
)

// Audit actions whose details carry a member of staff's own words about a
// customer: the reason for unmasking a field, for correcting a detail, for
// restricting processing. The words name the customer's situation ("she
// called about her divorce"), so they are personal data of the customer.
const (
	ActionReveal   = "customer.reveal"
	ActionRectify  = "customer.rectify"
	ActionRestrict = "account.restriction.set"
	// ActionAccountReveal: an administrator unmasks an account's email
	// address (any account, staff included).
	ActionAccountReveal = "account.reveal"
)

// sealedReasons maps each such action to the details key holding the ID
// that the reason's ciphertext is bound to (the grant, the change, the
// request), so that a reason cannot be moved to another event.
var sealedReasons = map[string]string{
	ActionReveal:        "grant",
	ActionRectify:       "change",
	ActionRestrict:      "request",
	ActionAccountReveal: "grant",
}

// ReasonKey is the details key that holds a sealed reason (base64).
const ReasonKey = "reason_enc"

// ErasedReason is what staff see in place of a reason whose customer was
// erased.
const ErasedReason = "(erased with the customer)"

func reasonField(action, ref string) crypto.Field {
	return crypto.Field{Table: "audit_events", Column: action + ".reason", Row: ref}
}

// SealReason encrypts a staff member's reason for the audit event action
// about customer accountID, bound to ref (the details value named in
// sealedReasons), and returns it for the details' ReasonKey.
//
// Enforces CP-5.2, MTL-2.1.3: a reason about a customer is encrypted under
// the customer's key like the rest of their data, so that erasing them
// shreds it in the append-only trail too, where no row can be deleted.
func (s *Service) SealReason(ctx context.Context, tx *db.Tx, accountID, action, ref, reason string) (string, error) {
	if _, ok := sealedReasons[action]; !ok || ref == "" {
		return "", errors.New("identity: no sealed reason for action " + action)
	}
	ct, err := s.keys.Encrypt(ctx, tx, accountID, reasonField(action, ref), []byte(reason))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// ShowDetails returns an audit event's details as staff see them: a sealed
// reason is replaced by "reason", decrypted, or by ErasedReason once the
// customer is erased. Other details, and details that do not parse, come
// back unchanged: the stored bytes stay what the chain hashes.
func (s *Service) ShowDetails(ctx context.Context, action, target string, details json.RawMessage) json.RawMessage {
	refKey, ok := sealedReasons[action]
	if !ok || !bytes.Contains(details, []byte(ReasonKey)) {
		return details
	}
	var m map[string]any
	if err := json.Unmarshal(details, &m); err != nil {
		return details
	}
	sealed, _ := m[ReasonKey].(string)
	ref, _ := m[refKey].(string)
	accountID, isAccount := strings.CutPrefix(target, "account:")
	if sealed == "" || ref == "" || !isAccount {
		return details
	}
	delete(m, ReasonKey)
	m["reason"] = "(cannot be read)"
	if ct, err := base64.StdEncoding.DecodeString(sealed); err == nil {
		pt, err := s.keys.Decrypt(ctx, s.db, accountID, reasonField(action, ref), ct)
		switch {
		case err == nil:
			m["reason"] = string(pt)
		case errors.Is(err, crypto.ErrSubjectKeyDestroyed):
			m["reason"] = ErasedReason
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return details
	}
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}
