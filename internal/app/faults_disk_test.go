//go:build linux

package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/apitoken"
	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/session"
)

// The storage-fault tests put the data directory on a file system of its
// own and break it under the running server: a small tmpfs filled to the
// last byte, and an ext4 image that the kernel remounts read-only after an
// error (errors=remount-ro), as it does when a disk fails. They need root
// to mount; CI runs as root.

const faultUA = "Mozilla/5.0 (X11; Linux x86_64) portico-fault-test"

// needRoot skips a test that mounts file systems when it cannot.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a file system for the data directory needs root (CI runs as root)")
	}
}

// mountTmpfs mounts a tmpfs of size on a new directory, unmounted when the
// test ends (after the server that uses it has stopped).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the disk-full test needs mount(2)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the file system has no byte left, and
// returns its name: removing it frees the space.
func fill(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 4 << 10, 1} {
		b := make([]byte, chunk)
		for {
			if _, err := f.Write(b); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	return name
}

// faultClient speaks to the server as one browser: same user agent, its
// session cookie, same-origin form posts, redirects not followed.
type faultClient struct {
	t      *testing.T
	base   string
	cookie string
	c      *http.Client
}

func newFaultClient(t *testing.T, base, token string) *faultClient {
	c := insecureClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &faultClient{t: t, base: base, cookie: token, c: c}
}

type faultResponse struct {
	status int
	header http.Header
	body   string
}

func (fc *faultClient) do(method, path string, form url.Values) faultResponse {
	fc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, fc.base+path, body)
	if err != nil {
		fc.t.Fatal(err)
	}
	req.Header.Set("User-Agent", faultUA)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if fc.cookie != "" {
		req.AddCookie(&http.Cookie{Name: session.CookieName, Value: fc.cookie})
	}
	resp, err := fc.c.Do(req)
	if err != nil {
		fc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return faultResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func ticketForm(subject string) url.Values {
	return url.Values{"subject": {subject}, "body": {"The invoice for November shows the wrong address; please correct it."}}
}

// ageSessions moves every session's last-seen mark two minutes back, so
// that the next request of each wants to write it (session touch).
func ageSessions(t *testing.T, d *db.DB) {
	t.Helper()
	if err := d.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE sessions SET last_seen_at = $1`, tx.Now().Add(-2*time.Minute))
		if err == nil {
			_, err = tx.ExecContext(context.Background(), `UPDATE api_tokens SET last_used_at = $1`, tx.Now().Add(-2*time.Minute))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// faultSetup is a customer signed in with a session, and a support agent
// with an API token, on a running server, each with a ticket or a use
// recorded before the fault.
type faultSetup struct {
	customer   *faultClient
	customerID string
	email      string
	agent      *faultClient
	apiToken   string // used before the fault
	newToken   string // never used: its first use records its network
	subject    string // of a ticket opened before the fault
}

func setUpForFault(t *testing.T, r *running, ids *identity.Service) faultSetup {
	t.Helper()
	st := r.Storage()
	s := faultSetup{email: "dora.disk@example.test", subject: "Wrong address on my invoice"}
	tok, custID := signedIn(t, st, ids, s.email, access.RoleCustomer, faultUA)
	s.customer, s.customerID = newFaultClient(t, r.URL(), tok), custID
	if res := s.customer.do("POST", "/tickets", ticketForm(s.subject)); res.status != http.StatusSeeOther {
		t.Fatalf("opening a ticket before the fault: %d", res.status)
	}

	// An agent's API token, used once from here so that its network is
	// known: later uses only want to move its last-use mark.
	agentTok, agentID := signedIn(t, st, ids, "abe.agent@example.test", access.RoleSupport, faultUA)
	s.agent = newFaultClient(t, r.URL(), agentTok)
	if res := s.agent.do("GET", "/desk/customers/"+s.customerID, nil); res.status != http.StatusOK {
		t.Fatalf("the agent's view of the customer before the fault: %d", res.status)
	}
	tokens, err := apitoken.New(apitoken.Deps{DB: st.DB, Keys: st.Keyring, Audit: st.Audit, Profile: st.Profile})
	if err != nil {
		t.Fatal(err)
	}
	sessID, _, _ := strings.Cut(agentTok, ".")
	s.apiToken, _, err = tokens.Create(context.Background(), access.Principal{AccountID: agentID, Role: access.RoleSupport,
		SessionID: sessID, Stage: access.StageDone, ReauthAt: time.Now()}, "fault test", []access.Permission{access.TokenOwn}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res := apiGet(t, r.URL(), s.apiToken, "/api/v1/me"); res.status != http.StatusOK {
		t.Fatalf("API before the fault: %d %s", res.status, res.body)
	}
	s.newToken, _, err = tokens.Create(context.Background(), access.Principal{AccountID: agentID, Role: access.RoleSupport,
		SessionID: sessID, Stage: access.StageDone, ReauthAt: time.Now()}, "fault test, unused", []access.Permission{access.TokenOwn}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func apiGet(t *testing.T, base, token, path string) faultResponse {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return faultResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// checkDuringFault asserts what a storage fault must look like from
// outside: reads go on, every change is refused with 503, the clear
// message and a Retry-After, sign-in fails without a session, and the log
// names the fault without personal data (MTL-1.1).
func checkDuringFault(t *testing.T, r *running, s faultSetup, fault db.Fault) {
	t.Helper()
	c := s.customer

	t.Run("reads go on", func(t *testing.T) {
		// The session wants its last-seen mark moved: best effort.
		for _, path := range []string{"/tickets", "/account"} {
			res := c.do("GET", path, nil)
			if res.status != http.StatusOK {
				t.Fatalf("GET %s during the fault = %d, want 200", path, res.status)
			}
			if path == "/tickets" && !strings.Contains(res.body, s.subject) {
				t.Errorf("the ticket list lacks the ticket opened before the fault")
			}
		}
		// The API too, for a token whose network is known.
		if res := apiGet(t, r.URL(), s.apiToken, "/api/v1/me"); res.status != http.StatusOK {
			t.Errorf("API read during the fault = %d %s, want 200", res.status, res.body)
		}
		if res := c.do("GET", "/readyz", nil); res.status != http.StatusOK {
			t.Errorf("/readyz during the fault = %d: the only node must stay in for reads", res.status)
		}
	})

	t.Run("writes fail clearly", func(t *testing.T) {
		res := c.do("POST", "/tickets", ticketForm("Refused while the disk is broken"))
		if res.status != http.StatusServiceUnavailable {
			t.Fatalf("opening a ticket during the fault = %d, want 503", res.status)
		}
		if !strings.Contains(res.body, "cannot save changes right now") {
			t.Errorf("the 503 page lacks the message; body:\n%s", res.body)
		}
		if ra := res.header.Get("Retry-After"); ra != "60" {
			t.Errorf("Retry-After = %q, want 60", ra)
		}
		for _, leak := range []string{"SQLITE", "disk I/O", "database or disk", "storage fault", "read-only", "portico.db"} {
			if strings.Contains(res.body, leak) {
				t.Errorf("the page shows internals (%q)", leak)
			}
		}
	})

	t.Run("a view that must be audited is refused", func(t *testing.T) {
		// An agent's view of a customer is recorded (customer.view) in
		// the audit trail: with no record, no view. Not made best effort.
		if res := s.agent.do("GET", "/desk/customers/"+s.customerID, nil); res.status != http.StatusServiceUnavailable {
			t.Fatalf("the agent's view of a customer during the fault = %d, want 503", res.status)
		}
	})

	t.Run("a token's use from a new network waits to be recorded", func(t *testing.T) {
		// The networks a token is used from feed detection
		// (token.new_network): not made best effort. The fault is no
		// verdict on the token either: 503, not 401.
		res := apiGet(t, r.URL(), s.newToken, "/api/v1/me")
		if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
			t.Fatalf("a token's first use during the fault = %d (Retry-After %q), want 503 with Retry-After", res.status, res.header.Get("Retry-After"))
		}
	})

	t.Run("sign-in fails without a session", func(t *testing.T) {
		anon := newFaultClient(t, r.URL(), "")
		res := anon.do("POST", "/login", url.Values{"email": {s.email}, "password": {e2ePassword}})
		if res.status != http.StatusServiceUnavailable {
			t.Fatalf("sign-in during the fault = %d, want 503", res.status)
		}
		for _, ck := range (&http.Response{Header: res.header}).Cookies() {
			if ck.Name == session.CookieName && ck.MaxAge >= 0 && ck.Value != "" {
				t.Error("a failed sign-in set a session cookie")
			}
		}
	})

	t.Run("the log names the fault", func(t *testing.T) {
		logs := r.logs.String()
		if !strings.Contains(logs, `"msg":"database cannot save changes"`) || !strings.Contains(logs, `"fault":"`+string(fault)+`"`) {
			t.Errorf("no log line naming the fault %q", fault)
		}
		for _, personal := range []string{s.email, "Refused while the disk is broken", e2ePassword} {
			if strings.Contains(logs, personal) {
				t.Errorf("the log holds personal data (%q)", personal)
			}
		}
		// And the metric to alert on, since /readyz stays ready.
		resp, err := http.Get(r.MetricsURL())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `portico_storage_faults_total{fault="` + string(fault) + `"}`; !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	})
}

// checkRecovered asserts that after the fault the database is intact, the
// audit chain verifies and changes are saved again, and that nothing
// refused during the fault was half saved (MTL-1.1).
func checkRecovered(t *testing.T, r *running, c *faultClient) {
	t.Helper()
	ctx := context.Background()
	st := r.Storage()
	var check string
	if err := st.DB.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	if res, err := st.Audit.Verify(ctx, audit.VerifyOptions{}); err != nil || !res.OK {
		t.Fatalf("audit verify: %v %+v", err, res)
	}
	if res := c.do("POST", "/tickets", ticketForm("Saved after the fault")); res.status != http.StatusSeeOther {
		t.Fatalf("opening a ticket after the fault = %d, want 303", res.status)
	}
	list := c.do("GET", "/tickets", nil)
	if list.status != http.StatusOK || !strings.Contains(list.body, "Saved after the fault") {
		t.Fatalf("the ticket saved after the fault is not listed (%d)", list.status)
	}
	if strings.Contains(list.body, "Refused while the disk is broken") {
		t.Error("a ticket refused during the fault was saved")
	}
	if res := c.do("POST", "/login", url.Values{"email": {"dora.disk@example.test"}, "password": {e2ePassword}}); res.status != http.StatusSeeOther {
		t.Errorf("sign-in after the fault = %d, want 303", res.status)
	}
}

// TestDiskFull (MTL-1.1): with the data directory's file system full, a
// signed-in customer still reads their pages, every change is refused with
// a 503 that says so and a Retry-After, the log names the disk as full;
// once space is freed the same change is saved, without a restart, and
// the database and the audit chain are intact.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "64m")
	cfg := testConfig(t, filepath.Join(dir, "data"), "--metrics-addr", "127.0.0.1:0")
	r := startApp(t, cfg)
	s := setUpForFault(t, r, identityFor(t, r, cfg))
	ageSessions(t, r.Storage().DB)
	// An empty log, so that the next change must grow it (a log with room
	// left would take a small change even on a full disk).
	if err := r.Storage().DB.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	// An operator cannot remount the file system read-only under the
	// server: its files are open for writing (hence TestReadOnlyFileSystem
	// goes through the kernel's own remount).
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, "size=64m,mode=0700"); !errors.Is(err, syscall.EBUSY) {
		if err == nil {
			syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=64m,mode=0700")
		}
		t.Errorf("remounting read-only under the server: %v, want EBUSY", err)
	}
	filler := fill(t, dir)

	checkDuringFault(t, r, s, db.FaultDiskFull)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	checkRecovered(t, r, s.customer)
}

// ext4Disk is an ext4 image on a loop device, mounted with
// errors=remount-ro: the kernel turns it read-only on an error, under the
// server's open files. (An operator's "mount -o remount,ro" is refused
// while SQLite holds its files open for writing, so that is how a running
// server meets a read-only file system.)
type ext4Disk struct {
	img, loop, dir string
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mountExt4(t *testing.T) *ext4Disk {
	t.Helper()
	needRoot(t)
	for _, tool := range []string{"losetup", "mkfs.ext4", "e2fsck"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/test.sh installs it)", tool)
		}
	}
	d := &ext4Disk{img: filepath.Join(t.TempDir(), "disk.img"), dir: t.TempDir()}
	if err := os.WriteFile(d.img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(d.img, 64<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "mkfs.ext4", "-q", "-F", d.img); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	loop, err := run(t, "losetup", "-f", "--show", d.img)
	if err != nil {
		t.Skipf("no loop device here (%v: %s): the read-only test needs one", err, loop)
	}
	d.loop = loop
	t.Cleanup(func() {
		if out, err := run(t, "losetup", "-d", d.loop); err != nil {
			t.Errorf("losetup -d %s: %v: %s", d.loop, err, out)
		}
	})
	d.mount(t)
	t.Cleanup(func() { syscall.Unmount(d.dir, 0) }) // already unmounted when the test went well
	return d
}

func (d *ext4Disk) mount(t *testing.T) {
	t.Helper()
	if err := syscall.Mount(d.loop, d.dir, "ext4", 0, "errors=remount-ro"); err != nil {
		t.Fatalf("mount %s: %v", d.loop, err)
	}
}

// fail makes the kernel meet an ext4 error, which remounts the file system
// read-only (emergency_ro), as a failing disk does.
func (d *ext4Disk) fail(t *testing.T) {
	t.Helper()
	trigger := "/sys/fs/ext4/" + filepath.Base(d.loop) + "/trigger_fs_error"
	if err := os.WriteFile(trigger, []byte("portico storage fault test"), 0o200); err != nil {
		t.Skipf("cannot trigger an ext4 error (%v)", err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "probe"), nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("the file system is not read-only after the error: %v", err)
	}
}

// repair is what an operator does with a file system the kernel turned
// read-only: unmount it, check it, mount it again. The database files
// are left as they were.
func (d *ext4Disk) repair(t *testing.T) {
	t.Helper()
	if err := syscall.Unmount(d.dir, 0); err != nil {
		t.Fatalf("unmount: %v", err)
	}
	out, err := run(t, "e2fsck", "-f", "-y", d.loop)
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() <= 2) { // 1, 2: errors corrected
		t.Fatalf("e2fsck: %v: %s", err, out)
	}
	d.mount(t)
}

// TestReadOnlyFileSystem (MTL-1.1): when the kernel turns the data
// directory's file system read-only under the running server, a
// signed-in customer still reads their pages, every change is refused
// with a 503 that says so and a Retry-After, and the log names the file
// system as read-only. A file system in that state must be unmounted and
// checked, so recovery means a restart: after it the database and the
// audit chain are intact, without any repair of the database, and
// changes are saved again.
func TestReadOnlyFileSystem(t *testing.T) {
	disk := mountExt4(t)
	cfg := testConfig(t, filepath.Join(disk.dir, "data"), "--metrics-addr", "127.0.0.1:0")
	r := startApp(t, cfg)
	s := setUpForFault(t, r, identityFor(t, r, cfg))
	// What was written before the fault has reached the disk, as on a
	// server that has run for more than a few seconds. (Without this the
	// kernel drops what was still in its cache when the journal aborts:
	// here the whole data directory, written a second before, certificate
	// included. SQLite's commits since its last sync are lost the same way,
	// as in a power cut: synchronous=NORMAL.)
	syscall.Sync()
	ageSessions(t, r.Storage().DB)
	disk.fail(t)

	checkDuringFault(t, r, s, db.FaultReadOnly)

	// The server stops with errors (its stop event and final checkpoint
	// cannot be written) and leaves its files as they are.
	err := r.stop(t)
	t.Logf("stop on the read-only file system: %v", err)
	for _, f := range []string{"portico.db", "portico.db-wal", "portico.db-shm"} {
		if fi, err := os.Stat(filepath.Join(disk.dir, "data", f)); err == nil {
			t.Logf("left behind: %s, %d bytes", f, fi.Size())
		}
	}
	disk.repair(t)
	r2 := startApp(t, cfg)
	c := newFaultClient(t, r2.URL(), s.customer.cookie)
	before := c.do("GET", "/tickets", nil)
	t.Logf("after the restart: the session from before the fault answers %d; the ticket from before is listed: %v",
		before.status, strings.Contains(before.body, s.subject))
	if before.status != http.StatusOK {
		t.Fatalf("the session from before the fault is gone after the restart (%d)", before.status)
	}
	checkRecovered(t, r2, c)
}
