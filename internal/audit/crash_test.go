package audit_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico/portico/internal/audit"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
)

// crashEnv tells the test binary, started again by TestKillLosesNoCommitted
// Event, to append until it is killed. Its value is the database.
const crashEnv = "PORTICO_AUDIT_CRASH_CHILD"

// TestKillLosesNoCommittedEvent kills a process that appends events, at
// random moments, and checks that every event it saw committed is in the
// chain and that the chain verifies (MTL-1.1 integrity and availability;
// CP-5.3: no gap in the trail after a crash).
func TestKillLosesNoCommittedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	run := func(t *testing.T, opts db.Options) {
		ctx := context.Background()
		d, err := db.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		d.Close()
		target := opts.Path
		if opts.URL != "" {
			target = opts.URL
		}
		for round := range 4 {
			committed := killAppender(t, target, time.Duration(rand.IntN(40))*time.Millisecond)
			d, err := db.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			l := audit.New(d)
			res, err := l.Verify(ctx, audit.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK {
				t.Fatalf("round %d: chain broken after kill: %s", round, res.Reason)
			}
			if res.Head.Seq < committed {
				t.Fatalf("round %d: head is %d but event %d was reported committed", round, res.Head.Seq, committed)
			}
			t.Logf("round %d: killed after commit of event %d; chain of %d events verifies", round, committed, res.Events)
			d.Close()
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, db.Options{Path: filepath.Join(t.TempDir(), "portico.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		run(t, db.Options{URL: dbtest.PostgresURL(t)})
	})
}

// killAppender starts the appender, lets it commit for a while plus
// jitter, kills it with SIGKILL and returns the last seq that it reported
// committed.
func killAppender(t *testing.T, target string, jitter time.Duration) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+target)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan int64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					lines <- n
				}
			}
		}
	}()
	var last int64
	seen := 0
	deadline := time.After(30 * time.Second)
	var kill <-chan time.Time
	for {
		select {
		case n, ok := <-lines:
			if !ok {
				cmd.Wait()
				if kill == nil {
					t.Fatalf("appender exited before it was killed (after %d commits)", seen)
				}
				return last
			}
			last = n
			if seen++; seen == 50 {
				kill = time.After(jitter)
			}
		case <-kill:
			cmd.Process.Kill()
			kill = make(chan time.Time) // never again; drain lines until EOF
		case <-deadline:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("appender made only %d commits in 30s", seen)
		}
	}
}

// TestCrashChild is the appender that TestKillLosesNoCommittedEvent kills.
// It runs only when started by it.
func TestCrashChild(t *testing.T) {
	target := os.Getenv(crashEnv)
	if target == "" {
		t.Skip("run by TestKillLosesNoCommittedEvent")
	}
	opts := db.Options{Path: target}
	if db.IsPostgresURL(target) {
		opts = db.Options{URL: target}
	}
	ctx := context.Background()
	d, err := db.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	l := audit.New(d)
	for i := 0; ; i++ {
		var last audit.Record
		if i%3 == 0 {
			err = d.Transact(ctx, func(tx *db.Tx) error {
				for j := range 5 {
					r, err := l.Append(ctx, tx, event(i*10+j))
					if err != nil {
						return err
					}
					last = r
				}
				return nil
			})
		} else {
			last, err = l.Record(ctx, event(i))
		}
		if err != nil {
			t.Fatal(err)
		}
		// Printed only after the commit returned: the parent treats it as
		// a promise that the event is durable.
		fmt.Printf("committed %d\n", last.Seq)
	}
}
