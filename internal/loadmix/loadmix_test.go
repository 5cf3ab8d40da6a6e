package loadmix_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico/portico/internal/access"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/loadmix"
)

// cheapPolicy makes argon2 cheap, as the other end-to-end tests do: the
// mix measures the portal, not the password hash.
const cheapPolicy = "[password.argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n"

// TestLoadMix runs the whole mix for 10 s against one `portico serve` and
// checks it against the database: every kind makes progress, no answer is
// a 5xx, and every reply a client was told was saved is in its ticket
// (MTL-1.1: integrity and availability of user data). Then it deletes one
// acknowledged reply from the database, and inflates the sign-ins and
// downloads the clients saw, and watches CheckCommitted report each loss:
// the check that the fault tests of issue 15 rely on is not vacuous.
func TestLoadMix(t *testing.T) {
	wrk, bin := tools(t)
	// Populations smaller than the default's 600: enough for 10 s, and
	// quick to seed under the race detector (which slows the transpiled
	// SQLite down most).
	for _, tc := range []struct {
		name    string
		storage func(t *testing.T, dataDir string) []string
		seed    loadmix.SeedOptions
	}{
		{"postgres", func(t *testing.T, dataDir string) []string {
			return []string{"--database-url", dbtest.PostgresURL(t), "--data-dir", dataDir}
		}, loadmix.SeedOptions{Customers: 200, PageSessions: 20, ReplySessions: 20, Exporters: 10}},
		{"sqlite", func(t *testing.T, dataDir string) []string { return []string{"--data-dir", dataDir} },
			loadmix.SeedOptions{Customers: 100, PageSessions: 10, ReplySessions: 10, Exporters: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			policy := filepath.Join(dir, "policy.toml")
			if err := os.WriteFile(policy, []byte(cheapPolicy), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append(tc.storage(t, filepath.Join(dir, "data")), "--policy-file", policy)
			loadMix(t, wrk, bin, args, tc.seed)
		})
	}
}

func loadMix(t *testing.T, wrk, bin string, args []string, seed loadmix.SeedOptions) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url := serve(t, bin, args)

	target, err := loadmix.Open(ctx, args)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	pop, err := target.Seed(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d customers (%d sessions) in %v", len(pop.Customers), len(pop.Pages)+len(pop.Replies), pop.Took.Round(time.Millisecond))

	res, err := loadmix.Run(ctx, pop, loadmix.Options{BaseURL: url, Duration: 10 * time.Second, Dir: t.TempDir(), Wrk: wrk})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range loadmix.Kinds {
		k := res.Kind(kind)
		if k == nil {
			t.Errorf("%s: did not run", kind)
			continue
		}
		t.Log(k)
		t.Logf("%s counts: %v", kind, k.Counts)
		if k.Succeeded == 0 {
			t.Errorf("%s: no success in %v", kind, k.Duration)
		}
		// One healthy node: nothing may fail. (Read errors are left out:
		// the server closes a connection that stays idle while its
		// thread waits for the next TOTP step; a request cut short
		// counts as lost.)
		if k.Failed5xx+k.FailedOther+k.Lost+k.Connect+k.Write > 0 {
			t.Errorf("%s: failures on a healthy node: 5xx %d, other %d, lost %d, socket errors connect %d, write %d\n%s",
				kind, k.Failed5xx, k.FailedOther, k.Lost, k.Connect, k.Write, k.Output)
		}
	}
	if e := res.Kind(loadmix.KindExports); e != nil && e.Counts["reuse_refused"] != e.Succeeded {
		t.Errorf("exports: %d downloads, %d second uses refused", e.Succeeded, e.Counts["reuse_refused"])
	}
	if len(res.Acked) == 0 {
		t.Fatal("no reply acknowledged")
	}

	rep, err := target.CheckCommitted(ctx, pop, res)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("committed:\n%s", rep)
	if err := rep.Err(); err != nil {
		t.Fatalf("MTL-1.1: what clients were told is not what the database holds: %v", err)
	}

	t.Run("a second run replays no TOTP step", func(t *testing.T) {
		// Right after the first, inside the step its last sign-ins used:
		// a code used twice would be refused (CP-4.1) and count towards
		// the account's lock.
		off := loadmix.KindOptions{Threads: -1}
		again, err := loadmix.Run(ctx, pop, loadmix.Options{BaseURL: url, Duration: 5 * time.Second, Dir: t.TempDir(), Wrk: wrk,
			Pages: off, Replies: off, Exports: off})
		if err != nil {
			t.Fatal(err)
		}
		k := again.Kind(loadmix.KindSignIn)
		t.Log(k)
		// (A pool that the first run used up in this step waits for the
		// next, and may sign nobody in within 5 s: no failure either.)
		if k.FailedOther+k.Failed5xx+k.Lost > 0 {
			t.Errorf("second run: %d sign-ins, %d failed (%v)", k.Succeeded, k.FailedOther+k.Failed5xx+k.Lost, k.Counts)
		}
	})
	t.Run("MTL-1.1 a lost reply is reported", func(t *testing.T) {
		lost := res.Acked[len(res.Acked)/2]
		deleteReply(t, ctx, target, pop, lost)
		rep, err := target.CheckCommitted(ctx, pop, res)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Err() == nil {
			t.Fatalf("reply %v deleted, yet CheckCommitted passes:\n%s", lost, rep)
		}
		c := rep.Checks[0]
		if c.What != "replies" || len(c.Missing) != 1 || c.Missing[0] != lost.TicketID+" "+lost.Token {
			t.Errorf("want the one deleted reply missing, got %s", c)
		}
	})
	t.Run("MTL-1.1 lost sign-ins and downloads are reported", func(t *testing.T) {
		rep, err := target.CheckCommitted(ctx, pop, res)
		if err != nil {
			t.Fatal(err)
		}
		// Clients that saw one more success than the database holds.
		told := res
		told.Kinds = nil
		for _, k := range res.Kinds {
			k.Counts = maps.Clone(k.Counts)
			told.Kinds = append(told.Kinds, k)
		}
		for _, c := range rep.Checks {
			switch c.What {
			case "sign-ins":
				told.Kind(loadmix.KindSignIn).Counts["mfa.303"] += c.Stored - c.Told + 1
			case "export downloads":
				told.Kind(loadmix.KindExports).Counts["download.200"] += c.Stored - c.Told + 1
			}
		}
		rep, err = target.CheckCommitted(ctx, pop, told)
		if err != nil {
			t.Fatal(err)
		}
		failed := map[string]bool{}
		for _, c := range rep.Checks {
			failed[c.What] = !c.OK()
		}
		if !failed["sign-ins"] || !failed["export downloads"] {
			t.Errorf("want sign-ins and export downloads reported short:\n%s", rep)
		}
	})
}

// TestSignInsWaitWithoutIdling: a sign-in thread whose accounts have all
// used the current TOTP step waits for the next one (up to 30 s) without
// leaving its connection idle for long. A server or proxy closes an idle
// keep-alive connection (HAProxy after 10 s in the cluster tests), and
// wrk, when that happens during a delay, sends two requests for one
// answer: flows then count as lost or failed though the server lost
// nothing, which failed TestPostgresRestartUnderLoad once. A server that
// closes idle connections after 3 s must see no such failure, and no read
// error at all.
func TestSignInsWaitWithoutIdling(t *testing.T) {
	wrk, bin := tools(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(policy, []byte(cheapPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data-dir", filepath.Join(dir, "data"), "--policy-file", policy}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url := serve(t, bin, append([]string{"--idle-timeout", "3s"}, args...))
	target, err := loadmix.Open(ctx, args)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	// A pool of a few accounts, used up within seconds of each step.
	pop, err := target.Seed(ctx, loadmix.SeedOptions{Customers: 12, PageSessions: 1, ReplySessions: 1, Exporters: 1})
	if err != nil {
		t.Fatal(err)
	}
	off := loadmix.KindOptions{Threads: -1}
	// 35 s: longer than a step, so that every thread waits for one.
	res, err := loadmix.Run(ctx, pop, loadmix.Options{BaseURL: url, Duration: 35 * time.Second, Dir: t.TempDir(), Wrk: wrk,
		Pages: off, Replies: off, Exports: off})
	if err != nil {
		t.Fatal(err)
	}
	k := res.Kind(loadmix.KindSignIn)
	t.Log(k)
	t.Logf("counts: %v", k.Counts)
	if k.Counts["waits"] == 0 {
		t.Fatalf("no thread waited for a TOTP step: the test did not test the wait (%v)", k.Counts)
	}
	if k.Succeeded == 0 || k.Failed5xx+k.FailedOther+k.Lost+k.Connect+k.Read+k.Write > 0 {
		t.Errorf("sign-ins across waits: %d ok, 5xx %d, other %d, lost %d, socket errors connect %d, read %d, write %d\n%s",
			k.Succeeded, k.Failed5xx, k.FailedOther, k.Lost, k.Connect, k.Read, k.Write, k.Output)
	}
}

// deleteReply deletes the message that holds r's token, as a lost write
// would leave the ticket.
func deleteReply(t *testing.T, ctx context.Context, target *loadmix.Target, pop *loadmix.Population, r loadmix.Reply) {
	t.Helper()
	owner := ""
	for _, s := range pop.Replies {
		if s.TicketID == r.TicketID {
			owner = s.AccountID
		}
	}
	tk, err := target.Support.Get(ctx, access.Principal{AccountID: owner, Role: access.RoleCustomer}, r.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range tk.Messages {
		if strings.HasSuffix(m.Body, " "+r.Token) {
			err := target.Storage.DB.Transact(ctx, func(tx *db.Tx) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM ticket_messages WHERE id = $1`, m.ID)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("reply %v not found to delete", r)
}

// tools finds wrk and builds portico, or skips the test without them.
func tools(t *testing.T) (wrk, bin string) {
	t.Helper()
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install wrk; scripts/test.sh installs it)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build portico with")
	}
	return wrk, portico(t, goBin)
}

// portico builds the binary into a temporary directory.
func portico(t *testing.T, goBin string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portico")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/portico/portico/cmd/portico")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serve starts `portico serve` with the storage and policy args on a free
// loopback port, trusting 127.0.0.1 as a proxy (the sign-ins claim their
// addresses in X-Forwarded-For), and returns its URL. It stops with the
// test.
func serve(t *testing.T, bin string, args []string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--trusted-proxies", "127.0.0.1/32", "--log-level", "warn"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("portico serve's log:\n%s", stderr.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Portico is running at "); ok {
			go io.Copy(io.Discard, stdout)
			return u
		}
	}
	t.Fatalf("portico serve did not start:\n%s", stderr.String())
	return ""
}
