package thirdparty_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/detect"
	"github.com/portico/portico/internal/policy"
	"github.com/portico/portico/internal/thirdparty"
	"github.com/portico/portico/internal/vendorcheck"
)

// testCA issues the test servers' certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vendor test CA"},
		NotBefore: time.Now().Add(-365 * 24 * time.Hour), NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) leaf(t *testing.T, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "vendor.test"},
		NotBefore: notBefore, NotAfter: notAfter, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serve starts a TLS server that answers with HSTS while hsts holds, and
// a security.txt.
func serve(t *testing.T, cfg *tls.Config, hsts *atomic.Bool) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if hsts.Load() {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		w.Write([]byte("vendor"))
	})
	mux.HandleFunc("GET /.well-known/security.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Contact: mailto:security@vendor.test\n"))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// TestMonitorEndpoints (CP-10.2): each endpoint is checked against a live
// server (good, expired certificate, TLS 1.0 only, no HSTS), the results
// kept as history with their facts; a check worse than the previous one
// appends vendor.check_degraded, once, which detection raises as a
// vendor_degraded alert; retired vendors are not checked; the leased pass
// runs the checks.
func TestMonitorEndpoints(t *testing.T) {
	ca := newCA(t)
	now := time.Now()
	good := ca.leaf(t, now.Add(-24*time.Hour), now.Add(200*24*time.Hour))
	expired := ca.leaf(t, now.Add(-90*24*time.Hour), now.Add(-2*24*time.Hour))
	var on, always, off atomic.Bool // on: the good server's HSTS, dropped later
	on.Store(true)
	always.Store(true)
	goodURL := serve(t, &tls.Config{Certificates: []tls.Certificate{good}, MinVersion: tls.VersionTLS12}, &on)
	expiredURL := serve(t, &tls.Config{Certificates: []tls.Certificate{expired}}, &always)
	tls10URL := serve(t, &tls.Config{Certificates: []tls.Certificate{good}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, &always)
	noHSTSURL := serve(t, &tls.Config{Certificates: []tls.Certificate{good}}, &off)

	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		on.Store(true)
		ctx := context.Background()
		s, _ := setup(t, d, thirdparty.WithCheckOptions(vendorcheck.Options{Roots: ca.pool, Timeout: 5 * time.Second}))
		account(t, d, "sec1", "security")
		v, err := s.Register(ctx, thirdparty.NewVendor{Name: "API Co", Service: "An API", Owner: "sec1",
			Endpoints: []string{goodURL, expiredURL, tls10URL, noHSTSURL}}, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.CheckVendor(ctx, v.ID)
		if err != nil || len(recs) != 4 {
			t.Fatalf("checks %+v, %v", recs, err)
		}
		byURL := map[string]thirdparty.CheckRecord{}
		for _, r := range recs {
			byURL[r.Endpoint] = r
		}
		if r := byURL[goodURL]; r.Status != thirdparty.CheckGood || !r.Reachable || r.TLSVersion == "" || r.Cipher == "" || r.CertExpiry.IsZero() ||
			r.HSTS != "pass: max-age=31536000" || !strings.HasPrefix(r.SecurityTxt, "pass") || r.Findings != "" {
			t.Errorf("good endpoint %+v", r)
		}
		if r := byURL[expiredURL]; r.Status != thirdparty.CheckBad || !strings.Contains(r.Findings, "expired") || r.HSTS != "not checked" {
			t.Errorf("expired certificate %+v", r)
		}
		if r := byURL[tls10URL]; r.Status != thirdparty.CheckBad || r.TLSVersion != "TLS 1.0" || !strings.Contains(r.Findings, "tls_version fail") {
			t.Errorf("TLS 1.0 %+v", r)
		}
		if r := byURL[noHSTSURL]; r.Status != thirdparty.CheckBad || !strings.HasPrefix(r.HSTS, "fail") {
			t.Errorf("no HSTS %+v", r)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'vendor.check_degraded'`); n != 0 {
			t.Fatalf("first checks degraded %d", n)
		}
		if st, _ := s.LastStatus(ctx, v); st != thirdparty.CheckBad {
			t.Errorf("last status %q", st)
		}

		// The good server drops HSTS: the next pass sees it got worse.
		on.Store(false)
		clock.Set(t0.Add(24 * time.Hour))
		if err := s.CheckAll(ctx); err != nil {
			t.Fatal(err)
		}
		var target, details string
		if err := d.QueryRowContext(ctx, `SELECT target, details FROM audit_events WHERE action = 'vendor.check_degraded'`).Scan(&target, &details); err != nil {
			t.Fatalf("no degraded event: %v", err)
		}
		var dd map[string]string
		json.Unmarshal([]byte(details), &dd)
		if target != "vendor:"+v.ID || dd["endpoint"] != goodURL || !strings.Contains(dd["summary"], "hsts") {
			t.Errorf("degraded event %s %s", target, details)
		}
		// Detection raises it as a vendor_degraded alert.
		if rule := alertRules(t, d); !slices.Contains(rule, detect.RuleVendorDegraded) {
			t.Errorf("alerts %v, want vendor_degraded", rule)
		}
		hist, err := s.Checks(ctx, v.ID, 100)
		if err != nil || len(hist) != 8 || !hist[0].CheckedAt.Equal(t0.Add(24*time.Hour)) {
			t.Fatalf("history %d rows, %v", len(hist), err)
		}
		// Still bad, not worse: no second alert.
		clock.Set(t0.Add(48 * time.Hour))
		if err := s.CheckAll(ctx); err != nil {
			t.Fatal(err)
		}
		if ds, _ := db.Strings(ctx, d, `SELECT details FROM audit_events WHERE action = 'vendor.check_degraded'`); len(ds) != 1 {
			t.Logf("%v", ds)
			t.Errorf("degraded events %d, want 1", len(ds))
		}

		// The leased pass checks too; a retired vendor is left alone.
		v2, _ := s.Register(ctx, thirdparty.NewVendor{Name: "Old Co", Service: "Gone", Owner: "sec1", Endpoints: []string{goodURL}}, "sec1")
		if err := s.Retire(ctx, v2.ID, "sec1"); err != nil {
			t.Fatal(err)
		}
		before := count(t, d, `SELECT COUNT(*) FROM vendor_checks`)
		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { s.Run(runCtx, time.Hour, nil) })
		deadline := time.Now().Add(20 * time.Second)
		for count(t, d, `SELECT COUNT(*) FROM vendor_checks`) < before+4 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		if n := count(t, d, `SELECT COUNT(*) FROM vendor_checks`); n != before+4 {
			t.Errorf("the pass made %d checks, want 4", n-before)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM vendor_checks WHERE vendor_id = $1`, v2.ID); n != 0 {
			t.Errorf("a retired vendor was checked %d times", n)
		}
	})
}

// alertRules runs detection over the audit trail and returns the rules of
// the open alerts.
func alertRules(t *testing.T, d *db.DB) []string {
	t.Helper()
	p, _ := policy.Builtin(policy.CustomerPortal)
	det := detect.New(detect.Deps{DB: d, Audit: audit.New(d), Profile: p})
	ctx := context.Background()
	for {
		n, err := det.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	alerts, err := det.Alerts(ctx, detect.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range alerts {
		out = append(out, a.Rule)
	}
	return out
}

func pdf() []byte { return []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n") }

// TestAgreements (MTL-6.2): an agreement is kept with its file and
// SHA-256, its clauses and dates; bad input is refused with nothing
// written; reading the file is audited.
func TestAgreements(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		account(t, d, "sec1", "security")
		v, _ := s.Register(ctx, thirdparty.NewVendor{Name: "Mailer", Service: "Email", Owner: "sec1"}, "sec1")
		ok := thirdparty.NewAgreement{Kind: thirdparty.AgreementDPA, Filename: "dpa.pdf", Body: pdf(),
			Clauses: []string{"breach_notification", "audit_rights", "confidentiality"}, StartsOn: t0, ExpiresOn: t0.AddDate(1, 0, 0)}
		for name, tc := range map[string]func(n *thirdparty.NewAgreement){
			"kind":    func(n *thirdparty.NewAgreement) { n.Kind = "nda" },
			"no file": func(n *thirdparty.NewAgreement) { n.Body = nil },
			"too big": func(n *thirdparty.NewAgreement) {
				n.Body = append(pdf(), bytes.Repeat([]byte("a"), thirdparty.MaxAgreementBytes)...)
			},
			"an executable":  func(n *thirdparty.NewAgreement) { n.Filename = "dpa.exe" },
			"not a PDF":      func(n *thirdparty.NewAgreement) { n.Body = []byte("hello") },
			"expires before": func(n *thirdparty.NewAgreement) { n.ExpiresOn = t0.Add(-time.Hour) },
			"no dates":       func(n *thirdparty.NewAgreement) { n.StartsOn = time.Time{} },
			"unknown clause": func(n *thirdparty.NewAgreement) { n.Clauses = []string{"free_lunch"} },
		} {
			n := ok
			tc(&n)
			if _, err := s.AddAgreement(ctx, v.ID, n, "sec1"); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s: %v, want refused", name, err)
			}
		}
		if n := count(t, d, `SELECT COUNT(*) FROM vendor_agreements`); n != 0 {
			t.Fatalf("%d agreements after refusals", n)
		}
		a, err := s.AddAgreement(ctx, v.ID, ok, "sec1")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(pdf())
		if a.SHA256 != hex.EncodeToString(sum[:]) || a.ContentType != "application/pdf" {
			t.Errorf("agreement %+v", a)
		}
		if m := a.Missing(); len(m) != 2 || m[0] != "subprocessor_approval" || m[1] != "deletion_at_end" {
			t.Errorf("missing clauses %v", m)
		}
		list, err := s.Agreements(ctx, v.ID)
		if err != nil || len(list) != 1 || !list[0].ExpiresOn.Equal(t0.AddDate(1, 0, 0)) || len(list[0].Clauses) != 3 {
			t.Fatalf("list %+v %v", list, err)
		}
		got, body, err := s.AgreementFile(ctx, v.ID, a.ID, "sec1")
		if err != nil || !bytes.Equal(body, pdf()) || got.Filename != "dpa.pdf" {
			t.Fatalf("file %v %q", err, body)
		}
		if _, _, err := s.AgreementFile(ctx, "other", a.ID, "sec1"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("another vendor's agreement: %v", err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action IN ('vendor.agreement_add', 'vendor.agreement_read')`); n != 2 {
			t.Errorf("agreement events %d", n)
		}
	})
}

// TestDueWarnings (CP-10.2, MTL-6.2): a reassessment past due and an
// expired agreement are recorded as governance.overdue once per due date
// (detection raises governance_overdue), an agreement about to expire is
// warned of once, each handed to the hook; a renewed agreement ends the
// warnings of the old one.
func TestDueWarnings(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, p := setup(t, d)
		var got []thirdparty.Warning
		s.SetWarned(func(ctx context.Context, tx *db.Tx, w thirdparty.Warning) error { got = append(got, w); return nil })
		account(t, d, "sec1", "security")
		account(t, d, "sec2", "security")
		v, _ := s.Register(ctx, thirdparty.NewVendor{Name: "Mailer", Service: "Email", Owner: "sec1"}, "sec1")
		a, _ := s.StartAssessment(ctx, v.ID, "sec1")
		if err := s.AnswerAssessment(ctx, a.ID, goodAnswers(), "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.ApproveAssessment(ctx, a.ID, "sec2"); err != nil {
			t.Fatal(err)
		}
		review := p.Governance.VendorReviewInterval.Duration
		warn := p.Governance.ContractExpiryWarning.Duration
		expires := t0.Add(review + 100*24*time.Hour)
		if _, err := s.AddAgreement(ctx, v.ID, thirdparty.NewAgreement{Kind: thirdparty.AgreementContract, Filename: "c.pdf", Body: pdf(),
			StartsOn: t0, ExpiresOn: expires}, "sec1"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.WarnDue(ctx); err != nil || n != 0 {
			t.Fatalf("warnings with nothing due: %d, %v", n, err)
		}
		// The reassessment passes its date.
		clock.Set(t0.Add(review + time.Hour))
		if n, err := s.WarnDue(ctx); err != nil || n != 1 {
			t.Fatalf("review overdue: %d, %v", n, err)
		}
		if n, _ := s.WarnDue(ctx); n != 0 {
			t.Fatalf("review overdue recorded twice")
		}
		var details string
		if err := d.QueryRowContext(ctx, `SELECT details FROM audit_events WHERE action = 'governance.overdue' AND target = $1`, "vendor_review:"+v.ID).Scan(&details); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(details, `"kind":"vendor_review"`) || !strings.Contains(details, `"summary"`) || strings.Contains(details, "Mailer") {
			t.Errorf("overdue details %s", details)
		}
		if rule := alertRules(t, d); !slices.Contains(rule, detect.RuleGovernanceOverdue) {
			t.Errorf("alerts %v, want governance_overdue", rule)
		}
		// The agreement enters its warning period, then expires.
		clock.Set(expires.Add(-warn + time.Hour))
		if n, err := s.WarnDue(ctx); err != nil || n != 1 {
			t.Fatalf("agreement expiring: %d, %v", n, err)
		}
		if n, _ := s.WarnDue(ctx); n != 0 {
			t.Fatal("expiry warned twice")
		}
		clock.Set(expires.Add(time.Hour))
		if n, err := s.WarnDue(ctx); err != nil || n != 1 {
			t.Fatalf("agreement expired: %d, %v", n, err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action = 'governance.overdue' AND details LIKE '%"kind":"agreement"%'`); n != 1 {
			t.Errorf("expired agreement events %d", n)
		}
		if len(got) != 3 || got[0].Kind != "vendor_review" || got[1].Kind != "agreement_expiring" || got[2].Kind != "agreement_expired" {
			t.Errorf("hook got %+v", got)
		}
		// A renewal replaces it: nothing more about the old one.
		if _, err := s.AddAgreement(ctx, v.ID, thirdparty.NewAgreement{Kind: thirdparty.AgreementContract, Filename: "c2.pdf", Body: pdf(),
			StartsOn: expires, ExpiresOn: expires.AddDate(2, 0, 0)}, "sec1"); err != nil {
			t.Fatal(err)
		}
		clock.Set(expires.Add(48 * time.Hour))
		if n, _ := s.WarnDue(ctx); n != 0 {
			t.Errorf("warned %d after renewal", n)
		}
	})
}

// TestPeopleLinked (MTL-1.2): staff accounts are linked to a vendor,
// customers refused, links listed both ways and audited.
func TestPeopleLinked(t *testing.T) {
	clock := dbtest.NewClock(t0)
	dbtest.EachWith(t, dbtest.Options{Now: clock.Now}, func(t *testing.T, d *db.DB) {
		clock.Set(t0)
		ctx := context.Background()
		s, _ := setup(t, d)
		account(t, d, "sec1", "security")
		account(t, d, "sup9", "support")
		account(t, d, "c1", "customer")
		v, _ := s.Register(ctx, thirdparty.NewVendor{Name: "Outsourced desk", Service: "Support agents", Owner: "sec1"}, "sec1")
		if err := s.LinkPerson(ctx, v.ID, "c1", "sec1"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a customer linked: %v", err)
		}
		if err := s.LinkPerson(ctx, v.ID, "sup9", "sec1"); err != nil {
			t.Fatal(err)
		}
		if err := s.LinkPerson(ctx, v.ID, "sup9", "sec1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("linked twice: %v", err)
		}
		ps, err := s.People(ctx, v.ID)
		if err != nil || len(ps) != 1 || ps[0].AccountID != "sup9" || ps[0].Role != "support" {
			t.Fatalf("people %+v %v", ps, err)
		}
		if of, _ := s.VendorsOf(ctx, "sup9"); len(of) != 1 || of[0].VendorID != v.ID || of[0].VendorName != "Outsourced desk" {
			t.Errorf("vendors of %+v", of)
		}
		if err := s.UnlinkPerson(ctx, v.ID, "sup9", "sec1"); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.People(ctx, v.ID); len(ps) != 0 {
			t.Errorf("after unlink %+v", ps)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_events WHERE action IN ('vendor.person_link', 'vendor.person_unlink') AND target = $1`, "vendor:"+v.ID); n != 2 {
			t.Errorf("people events %d", n)
		}
	})
}
