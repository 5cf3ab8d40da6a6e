// Package session holds Portico's server-side sessions: the record behind
// the browser's session cookie, its idle and absolute deadlines, rotation,
// step-up freshness and revocation.
//
// A token is "<id>.<secret>", two independent values of 130 bits from
// crypto/rand. The database keeps the id and the SHA-256 of the secret
// only, so neither a copy of the database nor the session IDs that appear
// in the audit trail and on the "your sessions" page let anyone sign in.
// Authenticate, which runs on every request, reads one row by primary key,
// compares the hash in constant time and writes nothing unless a minute has
// passed since the session was last marked as seen.
//
// Each session records the assurance level it reached (aal: 1 for a
// password alone, 2 for multi-factor) and the methods used, so that the web
// layer can hold a session below the profile's MFA requirement away from
// customer data (CP-4.1). The client's IP address and user agent are
// personal data and are stored encrypted under the account's data key
// (CP-5.1); the coarse device and country next to them are in clear for the
// session list and for detection. Every change of state writes its audit
// event in the same transaction (CP-5.3).
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/policy"
)

// Assurance levels, after NIST SP 800-63B.
const (
	AAL1 = 1 // one factor: a password
	AAL2 = 2 // two factors, or a passkey with user verification
)

// ErrNoSession is the one answer to every token that does not open a live
// session: malformed, unknown, wrong secret, ended, idle or expired. A
// client learns nothing from it but "sign in again", so that it cannot
// probe session IDs or tell a revoked session from a forged one.
var ErrNoSession = apperr.New(apperr.Unauthorized, "You are not signed in, or your session has ended. Please sign in.")

// touchInterval is how stale last_seen_at may get before Authenticate
// writes it: one write a minute per active session instead of one per
// request. The idle timeout can therefore strike up to this much early.
const touchInterval = time.Minute

// Bounds of the client-supplied values that a session stores.
const (
	maxIP        = 64
	maxUserAgent = 512
)

// Session is a live session. IP and UserAgent are decrypted only by List;
// Authenticate leaves them empty because no request needs them.
type Session struct {
	ID        string
	AccountID string
	// Role is the account's role when the session began. A role change
	// ends or rotates the account's sessions, so it stays current.
	Role string
	// AAL is the assurance level reached: AAL1 or AAL2 (CP-4.1).
	AAL int
	// Methods are the authentication methods used, e.g. ["password",
	// "totp"] or ["passkey"].
	Methods    []string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ReauthAt is the last fresh authentication (sign-in or step-up).
	ReauthAt  time.Time
	ExpiresAt time.Time // absolute deadline
	Device    string    // coarse, e.g. "Firefox 140 on Linux"
	Country   string    // ISO 3166 alpha-2, "" when unknown
	IP        string    // decrypted by List and All only
	UserAgent string    // decrypted by List and All only
	// EndedAt and EndReason say when and why the session ended (All
	// only; zero for a live one).
	EndedAt   time.Time
	EndReason string
	// UAHash is the SHA-256 of the full User-Agent the session began
	// with (nil for sessions from before it was recorded).
	UAHash []byte
	// Epoch is the account's credentials epoch the session was issued
	// under; once the account's epoch moves past it, the session is
	// refused (see Authenticate).
	Epoch int64
}

// SameUserAgent reports whether ua is the user agent the session began
// with. Sessions without a recorded hash match anything.
//
// Enforces CP-6.3: a session token replayed from another browser, or a
// browser that changed under the session, is noticed on its next request.
func (s Session) SameUserAgent(ua string) bool {
	if s.UAHash == nil {
		return true
	}
	h := uaHash(truncate(ua, maxUserAgent))
	return subtle.ConstantTimeCompare(s.UAHash, h) == 1
}

func uaHash(ua string) []byte {
	h := sha256.Sum256([]byte(ua))
	return h[:]
}

// Start describes a sign-in that has just succeeded.
type Start struct {
	AccountID string
	Role      string // the account's role now
	AAL       int    // AAL1 or AAL2
	Methods   []string
	IP        string // client address
	UserAgent string // User-Agent header
	// Epoch is the account's credentials epoch as read together with the
	// credential that was just checked (the password hash, say), not
	// after: a reset that lands in between leaves the new session behind
	// the account's epoch, so it is refused.
	Epoch int64
}

// Store keeps sessions in the database. It is safe for concurrent use, and
// several nodes may share one PostgreSQL database.
type Store struct {
	db     *db.DB
	keys   *crypto.Keyring
	audit  *audit.Log
	policy policy.Session
}

// NewStore returns a store whose sessions follow the profile's timeouts.
func NewStore(d *db.DB, keys *crypto.Keyring, log *audit.Log, p policy.Session) *Store {
	return &Store{db: d, keys: keys, audit: log, policy: p}
}

// Token parts are rand.Text() in lower case: 26 base32 characters.
const (
	partLen  = 26
	tokenLen = 2*partLen + 1
)

func newPart() string { return strings.ToLower(rand.Text()) }

// splitToken returns the parts of a well-formed token. It rejects anything
// else before the database is asked.
func splitToken(tok string) (id, secret string, ok bool) {
	if len(tok) != tokenLen || tok[partLen] != '.' {
		return "", "", false
	}
	id, secret = tok[:partLen], tok[partLen+1:]
	if !isPart(id) || !isPart(secret) {
		return "", "", false
	}
	return id, secret, true
}

func isPart(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// ipField and userAgentField are where a session's encrypted context lives;
// the row binds each ciphertext to its session.
func ipField(id string) crypto.Field {
	return crypto.Field{Table: "sessions", Column: "ip_enc", Row: id}
}

func userAgentField(id string) crypto.Field {
	return crypto.Field{Table: "sessions", Column: "user_agent_enc", Row: id}
}

// Create starts a session for a sign-in that has just succeeded, in the
// caller's transaction, and returns the token for the cookie. The sign-in
// counts as a fresh authentication for step-up.
//
// Enforces CP-4.1: the session records the assurance level and methods it
// was authenticated with. Enforces CP-5.1: the client's IP address and user
// agent are stored encrypted under the account's data key. Enforces
// CP-6.3: the session carries an absolute deadline from the profile.
func (s *Store) Create(ctx context.Context, tx *db.Tx, st Start) (string, Session, error) {
	if err := checkStart(st); err != nil {
		return "", Session{}, err
	}
	id, secret := newPart(), newPart()
	now := tx.Now()
	sess := Session{
		ID:         id,
		AccountID:  st.AccountID,
		Role:       st.Role,
		AAL:        st.AAL,
		Methods:    append([]string(nil), st.Methods...),
		CreatedAt:  now,
		LastSeenAt: now,
		ReauthAt:   now,
		ExpiresAt:  now.Add(s.policy.AbsoluteTimeout.Duration),
		Device:     Device(st.UserAgent),
		Country:    Country(st.IP),
		UAHash:     uaHash(truncate(st.UserAgent, maxUserAgent)),
		Epoch:      st.Epoch,
	}
	if err := s.insert(ctx, tx, sess, secret, truncate(st.IP, maxIP), truncate(st.UserAgent, maxUserAgent)); err != nil {
		return "", Session{}, err
	}
	_, err := s.audit.Append(ctx, tx, audit.Event{
		Actor:   "account:" + sess.AccountID,
		Action:  "session.create",
		Target:  "session:" + id,
		Outcome: audit.Success,
		Details: map[string]any{
			"account": sess.AccountID,
			"role":    sess.Role,
			"aal":     sess.AAL,
			"methods": strings.Join(sess.Methods, ","),
			"device":  sess.Device,
			"country": sess.Country,
		},
	})
	if err != nil {
		return "", Session{}, err
	}
	return id + "." + secret, sess, nil
}

// insert stores a new session row with its encrypted context.
func (s *Store) insert(ctx context.Context, tx *db.Tx, sess Session, secret, ip, userAgent string) error {
	ipEnc, err := s.keys.Encrypt(ctx, tx, sess.AccountID, ipField(sess.ID), []byte(ip))
	if err != nil {
		return fmt.Errorf("session: encrypt IP address: %w", err)
	}
	uaEnc, err := s.keys.Encrypt(ctx, tx, sess.AccountID, userAgentField(sess.ID), []byte(userAgent))
	if err != nil {
		return fmt.Errorf("session: encrypt user agent: %w", err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO sessions (id, secret_hash, account_id, role, aal, methods,
		     created_at, last_seen_at, reauth_at, expires_at, ip_enc, user_agent_enc, device, country, ua_hash,
		     credentials_epoch)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		sess.ID, hashSecret(secret), sess.AccountID, sess.Role, sess.AAL, strings.Join(sess.Methods, ","),
		sess.CreatedAt, sess.LastSeenAt, sess.ReauthAt, sess.ExpiresAt, ipEnc, uaEnc, sess.Device, sess.Country,
		uaHash(userAgent), sess.Epoch)
	if err != nil {
		return fmt.Errorf("session: insert: %w", err)
	}
	return nil
}

func checkStart(st Start) error {
	if st.AccountID == "" {
		return errors.New("session: Start without an account ID")
	}
	if _, err := access.ParseRole(st.Role); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	return checkAssurance(st.AAL, st.Methods)
}

// checkAssurance refuses values that a caller could only pass by mistake:
// they decide what the session may reach, so they must be exact.
func checkAssurance(aal int, methods []string) error {
	if aal != AAL1 && aal != AAL2 {
		return fmt.Errorf("session: assurance level %d is not %d or %d", aal, AAL1, AAL2)
	}
	if len(methods) == 0 {
		return errors.New("session: no authentication method given")
	}
	for _, m := range methods {
		if !isMethod(m) {
			return fmt.Errorf("session: authentication method %q: want lower case letters, digits, '_' or '-'", m)
		}
	}
	return nil
}

func isMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func splitMethods(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// truncate cuts s to at most max bytes on a character boundary.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Authenticate returns the live session that token opens, or ErrNoSession.
// It is the hot path of every request: a malformed token is refused without
// a query; otherwise one row is read by primary key (with its account's
// credentials epoch) and the secret's hash is compared in constant time. It
// writes only to end a session that went idle, passed its absolute
// deadline (audited as session.expire) or fell behind its account's
// credentials epoch, and to move last_seen_at forward when it is more than
// a minute old; the last of these is skipped when a storage fault (a full
// disk, a read-only file system) refuses it.
//
// Authenticate runs its own transactions when it writes, so do not call it
// inside Transact. Errors other than ErrNoSession are internal (the
// database failed), not a verdict on the token.
//
// Enforces CP-6.3: every request is authenticated against the server's
// record, so a revoked, idle or expired session stops working at once on
// every node; and a session issued before its account's credentials were
// reset (a password reset, "sign out everywhere", a risk sign-out...) is
// refused even if it was created by a request that raced the reset.
func (s *Store) Authenticate(ctx context.Context, token string) (Session, error) {
	id, secret, ok := splitToken(token)
	if !ok {
		return Session{}, ErrNoSession
	}
	h := hashSecret(secret)
	var (
		sess    = Session{ID: id}
		stored  []byte
		methods string
		ended   int64
		current int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT s.secret_hash, s.account_id, s.role, s.aal, s.methods, s.created_at, s.last_seen_at, s.reauth_at,
		        s.expires_at, s.device, s.country, CASE WHEN s.ended_at IS NULL THEN 0 ELSE 1 END, s.ua_hash,
		        s.credentials_epoch, a.credentials_epoch
		 FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1`, id).
		Scan(&stored, &sess.AccountID, &sess.Role, &sess.AAL, &methods, &sess.CreatedAt, &sess.LastSeenAt,
			&sess.ReauthAt, &sess.ExpiresAt, &sess.Device, &sess.Country, &ended, &sess.UAHash,
			&sess.Epoch, &current)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: read: %w", err)
	}
	// The secret is checked before anything else about the row, so that
	// knowing a session ID (it appears in the audit trail) lets nobody
	// end, extend or learn the state of the session.
	if subtle.ConstantTimeCompare(stored, h) != 1 || ended != 0 {
		return Session{}, ErrNoSession
	}
	sess.Methods = splitMethods(methods)

	now := s.db.Now()
	reason := s.staleReason(sess, now)
	if sess.Epoch < current {
		reason = ReasonSuperseded
	}
	if reason != "" {
		if err := s.expire(ctx, sess, reason); err != nil {
			return Session{}, err
		}
		return Session{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= touchInterval {
		switch err := s.touch(ctx, id); {
		case err == nil:
			sess.LastSeenAt = now
		case db.FaultOf(err) == "":
			return Session{}, err
		default:
			// Enforces MTL-1.1 (availability): while the disk is full
			// or read-only, the last-seen mark is best effort, so that
			// pages that only read go on. Nothing is weakened: the mark
			// stays behind, so the idle timeout can only end the
			// session sooner; ending a stale session still has to be
			// written (expire), and fails the request when it cannot.
		}
	}
	return sess, nil
}

// staleReason says why a session that is not ended may no longer be used:
// "expired" at or after its absolute deadline, "idle" once IdleTimeout has
// passed since it was last seen, "" while it is live.
//
// Enforces CP-6.3: idle and absolute session timeouts from the profile.
func (s *Store) staleReason(sess Session, now time.Time) string {
	switch {
	case !now.Before(sess.ExpiresAt):
		return "expired"
	case !now.Before(sess.LastSeenAt.Add(s.policy.IdleTimeout.Duration)):
		return "idle"
	}
	return ""
}

// expire ends a stale session and records why. Another request may have
// done it first; then nothing is written.
func (s *Store) expire(ctx context.Context, sess Session, reason string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL`,
			tx.Now(), reason, sess.ID)
		if err != nil {
			return fmt.Errorf("session: expire: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return s.auditExpire(ctx, tx, sess.ID, sess.AccountID, reason)
	})
}

func (s *Store) auditExpire(ctx context.Context, tx *db.Tx, id, accountID, reason string) error {
	_, err := s.audit.Append(ctx, tx, audit.Event{
		Actor:   audit.ActorSystem,
		Action:  "session.expire",
		Target:  "session:" + id,
		Outcome: audit.Success,
		Details: map[string]any{"account": accountID, "reason": reason},
	})
	return err
}

// touch moves last_seen_at to now. The condition keeps concurrent requests
// of one session, on any node, from writing more than once a minute.
func (s *Store) touch(ctx context.Context, id string) error {
	return s.db.Transact(ctx, func(tx *db.Tx) error {
		now := tx.Now()
		_, err := tx.ExecContext(ctx,
			`UPDATE sessions SET last_seen_at = $1
			 WHERE id = $2 AND ended_at IS NULL AND last_seen_at <= $3`,
			now, id, now.Add(-touchInterval))
		if err != nil {
			return fmt.Errorf("session: touch: %w", err)
		}
		return nil
	})
}
