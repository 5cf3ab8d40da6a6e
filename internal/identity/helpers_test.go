package identity_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/crypto"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/geo"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/mailtest"
	"github.com/portico/portico/internal/notify"
	"github.com/portico/portico/internal/password"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/session"
)

// Client details the tests sign in from. The address is public, so it has
// a country; the user agent is a real browser's.
const (
	testIP = "81.2.69.160"
	testUA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	// strong passwords (zxcvbn score 4, in no list)
	pwA = "violet tractor membrane quay 93"
	pwB = "saffron glacier pinwheel oboe 17"
	pwC = "tundra lantern biscuit harbour 58"
)

// clock is a test clock that moves only when told to. Its start is a few
// seconds into a TOTP step, so that codes computed by the test and by the
// service agree.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var clockStart = time.Date(2031, 3, 4, 10, 0, 5, 0, time.UTC)

func newClock() *clock { return &clock{t: clockStart} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = clockStart
}

// options adjust an env.
type options struct {
	profile  string                // built-in profile; "" is customer-portal
	tweak    func(*policy.Profile) // changes after the test defaults
	breached string                // Pwned-format file for the checker
	keyset   string                // master keyset to share (another node); "" makes one
	mail     *mailtest.Server      // SMTP server to share; nil starts one
	// ownAudit: the test verifies the audit chain itself (it closes
	// the database before the end).
	ownAudit bool
	// gate is the hashing gate; nil gives the service one of the
	// default size.
	gate *identity.HashGate
	// detect connects sign-in to behavioural analytics (internal/detect)
	// as the app does, so that sign-ins are scored.
	detect bool
}

// env is one Portico node's identity service with real parts: database,
// keyring, audit log, sessions, notices (inbox and outbox) delivered to a
// real SMTP server.
type env struct {
	t        *testing.T
	ctx      context.Context
	d        *db.DB
	clk      *clock
	svc      *identity.Service
	log      *audit.Log
	keys     *crypto.Keyring
	sessions *session.Store
	notices  *notify.Service
	mail     *mailtest.Server
	keyset   string
	profile  policy.Profile
}

// newEnv builds a node over d. clk (may be nil) is the clock d was opened
// with; it is reset to its start. Argon2 is cheap and the rate limits high
// unless tweak says otherwise. At the end of the test the audit chain must
// verify.
func newEnv(t *testing.T, d *db.DB, clk *clock, o options) *env {
	t.Helper()
	if clk != nil {
		clk.reset()
	}
	e := &env{t: t, ctx: context.Background(), d: d, clk: clk, keyset: o.keyset, mail: o.mail}
	if e.keyset == "" {
		e.keyset = filepath.Join(t.TempDir(), crypto.KeysetFileName)
		if err := crypto.CreateMasterKeyset(e.keyset); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if e.keys, err = crypto.Open(d, e.keyset); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Builtin(o.profile)
	if err != nil {
		t.Fatal(err)
	}
	p.Password.Argon2 = policy.Argon2{MemoryKiB: cheap.MemoryKiB, Iterations: cheap.Iterations, Parallelism: cheap.Parallelism}
	p.RateLimit.LoginPerIP, p.RateLimit.LoginPerNetwork = 10000, 10000
	p.RateLimit.SignupPerIP, p.RateLimit.ResetPerIP, p.RateLimit.MFAPerIP = 10000, 10000, 10000
	if o.tweak != nil {
		o.tweak(&p)
	}
	e.profile = p
	e.log = audit.New(d)
	if e.mail == nil {
		e.mail = mailtest.Start(t)
	}
	if e.notices, err = notify.New(d, e.keys, e.log, notify.Options{SMTPURL: e.mail.URL(), Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	pw, err := password.New(p.Password, o.breached)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pw.Close() })
	e.sessions = session.NewStore(d, e.keys, e.log, p.Session)
	e.svc, err = identity.New(identity.Deps{ResetFloor: time.Millisecond, DB: d, Keys: e.keys, Audit: e.log, Profile: p, Passwords: pw,
		Sessions: e.sessions, Notifier: notify.ForIdentity(e.notices), PublicURL: "https://portal.example.com", HashGate: o.gate})
	if err != nil {
		t.Fatal(err)
	}
	if o.detect {
		l, err := geo.New("")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		e.svc.SetDetector(detect.New(detect.Deps{DB: d, Audit: e.log, Profile: p, Geo: detect.Places{L: l}, Respond: e.svc.Responder()}))
	}
	if o.keyset == "" && !o.ownAudit {
		// Registered after the database's own cleanup, so it runs first.
		t.Cleanup(func() {
			res, err := e.log.Verify(context.Background(), audit.VerifyOptions{})
			if err != nil || !res.OK {
				t.Errorf("audit chain does not verify (CP-5.3): %+v, %v", res, err)
			}
		})
	}
	return e
}

// node returns another node on the same database and keyset: a second
// `portico serve` process sharing one PostgreSQL (or SQLite file).
func (e *env) node(o options) *env {
	e.t.Helper()
	o.keyset, o.mail = e.keyset, e.mail
	n := newEnv(e.t, e.d, nil, o)
	n.clk = e.clk
	return n
}

func (e *env) tick(d time.Duration) {
	e.t.Helper()
	if e.clk == nil {
		e.t.Fatal("this env has no test clock")
	}
	e.clk.Add(d)
}

// customer creates an active, verified customer account.
func (e *env) customer(email, pw string) identity.Account {
	e.t.Helper()
	return e.account(email, pw, access.RoleCustomer)
}

func (e *env) account(email, pw string, role access.Role) identity.Account {
	e.t.Helper()
	a, err := e.svc.CreateAccount(e.ctx, identity.NewAccount{Email: email, Name: "Pat Tester", Role: role, Password: pw})
	if err != nil {
		e.t.Fatalf("CreateAccount(%s): %v", email, err)
	}
	return a
}

func (e *env) acct(id string) identity.Account {
	e.t.Helper()
	a, err := e.svc.Account(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) login(email, pw string) (identity.SignIn, error) {
	return e.svc.Login(e.ctx, identity.Credentials{Email: email, Password: pw, IP: testIP, UserAgent: testUA})
}

func (e *env) mustLogin(email, pw string) identity.SignIn {
	e.t.Helper()
	si, err := e.login(email, pw)
	if err != nil {
		e.t.Fatalf("Login(%s): %v", email, err)
	}
	return si
}

// mails delivers the outbox and returns the messages sent to to whose
// subject contains subject, oldest first.
func (e *env) mails(to, subject string) []mailtest.Message {
	e.t.Helper()
	if _, _, err := e.notices.DeliverDue(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	var out []mailtest.Message
	for _, m := range e.mail.Messages() {
		if slices.Contains(m.To, to) && strings.Contains(m.Subject, subject) {
			out = append(out, m)
		}
	}
	return out
}

// lastLink returns the newest link under prefix mailed to to, as its token.
func (e *env) lastLink(to, subject, prefix string) string {
	e.t.Helper()
	ms := e.mails(to, subject)
	if len(ms) == 0 {
		e.t.Fatalf("no mail %q to %s", subject, to)
	}
	u := ms[len(ms)-1].URL("https://portal.example.com" + prefix)
	if u == "" {
		e.t.Fatalf("mail %q has no %s link:\n%s", subject, prefix, ms[len(ms)-1].Text)
	}
	return strings.TrimPrefix(u, "https://portal.example.com"+prefix)
}

func (e *env) inbox(accountID string) []notify.InboxItem {
	e.t.Helper()
	items, err := e.notices.Inbox(e.ctx, accountID, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return items
}

// event is an audit event as stored.
type event struct {
	Action, Target, Outcome string
	Details                 map[string]any
}

// events returns the audit events of target ("" for all), oldest first.
func (e *env) events(target string) []event {
	e.t.Helper()
	rows, err := e.d.QueryContext(e.ctx, `SELECT action, target, outcome, details FROM audit_events ORDER BY seq`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var ev event
		var details string
		if err := rows.Scan(&ev.Action, &ev.Target, &ev.Outcome, &details); err != nil {
			e.t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(details), &ev.Details); err != nil {
			e.t.Fatal(err)
		}
		if target == "" || ev.Target == target {
			out = append(out, ev)
		}
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// wantEvent fails unless target has an event of action whose details
// include want (nil: any).
func (e *env) wantEvent(target, action string, want map[string]any) {
	e.t.Helper()
	for _, ev := range e.events(target) {
		if ev.Action != action {
			continue
		}
		ok := true
		for k, v := range want {
			if ev.Details[k] != v {
				ok = false
			}
		}
		if ok {
			return
		}
	}
	e.t.Errorf("no audit event %s on %s with %v; have %v", action, target, want, e.events(target))
}

func (e *env) countEvents(target, action string) int {
	n := 0
	for _, ev := range e.events(target) {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// signIns returns the account's sign-in history, newest first.
func (e *env) signIns(id string) []identity.SignInEvent {
	e.t.Helper()
	h, err := e.svc.RecentSignIns(e.ctx, id, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// enrolTOTP sets up an authenticator app and returns its secret and the
// recovery codes issued with it.
func (e *env) enrolTOTP(id string) (string, []string) {
	e.t.Helper()
	if err := e.svc.StartTOTP(e.ctx, id); err != nil {
		e.t.Fatal(err)
	}
	p, ok, err := e.svc.PendingTOTP(e.ctx, id)
	if err != nil || !ok {
		e.t.Fatalf("PendingTOTP: %v, %v", ok, err)
	}
	k, err := otp.NewKeyFromURL(p.URI)
	if err != nil {
		e.t.Fatal(err)
	}
	if strings.ReplaceAll(p.Secret, " ", "") != k.Secret() {
		e.t.Errorf("shown secret %q is not the URI's %q", p.Secret, k.Secret())
	}
	codes, err := e.svc.ConfirmTOTP(e.ctx, id, e.code(k.Secret(), 0))
	if err != nil {
		e.t.Fatalf("ConfirmTOTP: %v", err)
	}
	// The enrolment code's step is spent; sign-ins use later steps.
	e.tick(30 * time.Second)
	return k.Secret(), codes
}

// code is the TOTP code of secret, steps away from the clock's now.
func (e *env) code(secret string, steps int) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clk.Now().Add(time.Duration(steps)*30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// authenticates reports whether a session token still opens a session.
func (e *env) authenticates(token string) bool {
	e.t.Helper()
	_, err := e.sessions.Authenticate(e.ctx, token)
	if err != nil && err != session.ErrNoSession {
		e.t.Fatal(err)
	}
	return err == nil
}

// wantCode fails unless err has the apperr code c.
func wantCode(t *testing.T, what string, err error, c apperr.Code) {
	t.Helper()
	if apperr.CodeOf(err) != c {
		t.Errorf("%s: %v (code %v), want code %v", what, err, apperr.CodeOf(err), c)
	}
}

// breachedFile writes a Pwned Passwords file (uppercase SHA-1 ":count",
// sorted) listing pws, with some unrelated lines around them.
func breachedFile(t *testing.T, pws ...string) string {
	t.Helper()
	var lines []string
	for _, pw := range append(pws, "password", "123456", "letmein") {
		s := sha1.Sum([]byte(pw))
		lines = append(lines, strings.ToUpper(hex.EncodeToString(s[:]))+":1")
	}
	slices.Sort(lines)
	path := filepath.Join(t.TempDir(), "pwned.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
