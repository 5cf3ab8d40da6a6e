package identity_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/db"
	"github.com/portico/portico/internal/dbtest"
	"github.com/portico/portico/internal/identity"
	"github.com/portico/portico/internal/policy"
)

// slowArgon2 makes each check take a few milliseconds, so that checks
// started together overlap unless something keeps them apart.
var slowArgon2 = policy.Argon2{MemoryKiB: 2048, Iterations: 2, Parallelism: 1}

const slowSlot = int64(2048 * 1024) // bytes of one slowArgon2 check

func withSlowArgon2(p *policy.Profile) { p.Password.Argon2 = slowArgon2 }

// TestHashGateBoundsConcurrentChecks covers MTL-1.1 (availability): however
// many password checks arrive at once, the argon2 memory running at any
// moment never exceeds the gate's capacity. The gate counts what runs
// around the computation itself, so a gate that lets too much through
// fails here.
func TestHashGateBoundsConcurrentChecks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		gate := identity.NewHashGate(2*slowSlot, 10*time.Second)
		e := newEnv(t, d, nil, options{gate: gate, tweak: withSlowArgon2})
		// One sign-in per account: two at once on one account can meet its
		// back-off for parallel guesses (CP-8.2), which is not what this
		// test is about.
		const n = 32
		var emails []string
		for i := range n {
			emails = append(emails, fmt.Sprintf("user%d@example.com", i))
			e.customer(emails[i], pwA)
		}
		before := gate.Usage()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				_, err := e.login(emails[i%len(emails)], pwA)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("sign-in: %v", err)
			}
		}
		u := gate.Usage()
		if u.Runs-before.Runs < n {
			t.Errorf("%d checks went through the gate, want %d", u.Runs-before.Runs, n)
		}
		if u.Peak > u.Capacity {
			t.Errorf("argon2 held %d bytes at once, over the gate's %d (MTL-1.1)", u.Peak, u.Capacity)
		}
		if u.InUse != 0 {
			t.Errorf("%d bytes still held after every check ended", u.InUse)
		}
	})
}

// TestSaturatedGateAnswersBusy covers MTL-1.1 and CP-6.3: when the gate has
// no room within the wait, a sign-in gets the busy answer (Unavailable,
// with a time to retry) instead of queueing without bound; nothing was
// checked, so nothing counts towards the lock; and an unknown address
// gets the same busy answer, not a different one.
func TestSaturatedGateAnswersBusy(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		gate := identity.NewHashGate(4*slowSlot, 100*time.Millisecond)
		e := newEnv(t, d, clk, options{gate: gate, tweak: withSlowArgon2})
		e.customer("known@example.com", pwA)

		release, err := gate.Acquire(e.ctx, gate.Capacity())
		if err != nil {
			t.Fatal(err)
		}
		// More busy answers than the back-off allows failures: none of
		// them may count.
		var known error
		for range 4 {
			if _, known = e.login("known@example.com", pwA); apperr.CodeOf(known) != apperr.Unavailable || apperr.RetryAfterOf(known) <= 0 {
				t.Fatalf("known address, full gate: %v (retry after %v)", known, apperr.RetryAfterOf(known))
			}
		}
		_, unknown := e.login("nobody@example.com", pwA)
		if apperr.CodeOf(unknown) != apperr.CodeOf(known) || apperr.MessageOf(unknown) != apperr.MessageOf(known) ||
			apperr.RetryAfterOf(unknown) != apperr.RetryAfterOf(known) {
			t.Errorf("full gate: known %v, unknown %v", known, unknown)
		}
		if _, err := gate.Acquire(e.ctx, 1); apperr.CodeOf(err) != apperr.Unavailable {
			t.Errorf("Acquire on a full gate: %v", err)
		}
		release()
		if u := gate.Usage(); u.TurnedAway < 5 {
			t.Errorf("gate turned away %d checks, want at least 5", u.TurnedAway)
		}
		e.mustLogin("known@example.com", pwA)
	})
}

// TestUnknownAddressesCannotTakeEverySlot covers MTL-1.1 and CP-6.3: a
// flood of sign-ins for addresses without an account, on a quiet site
// (no failed check to replay yet), runs at most the anonymous lane's
// share of the gate, answers every one of them like a wrong password, and
// real accounts signing in meanwhile all get through. Once a known
// account has failed, unknown addresses replay it and run no argon2 at
// all.
func TestUnknownAddressesCannotTakeEverySlot(t *testing.T) {
	clk := newClock()
	dbtest.EachWith(t, dbtest.Options{Now: clk.Now}, func(t *testing.T, d *db.DB) {
		gate := identity.NewHashGate(4*slowSlot, 2*time.Second)
		// Slower still: the first dummy check must outlast the arrival
		// of the flood, whatever the database's pace.
		e := newEnv(t, d, clk, options{gate: gate, tweak: func(p *policy.Profile) {
			withSlowArgon2(p)
			p.Password.Argon2.Iterations = 8
		}})
		accounts := []string{"r1@example.com", "r2@example.com", "r3@example.com", "r4@example.com"}
		for _, m := range accounts {
			e.customer(m, pwA)
		}

		const flood = 48
		var wg sync.WaitGroup
		var mu sync.Mutex
		var realErrs, unknownErrs []error
		for i := range flood {
			wg.Go(func() {
				_, err := e.login("nobody"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", pwB)
				mu.Lock()
				unknownErrs = append(unknownErrs, err)
				mu.Unlock()
			})
			if i%6 == 0 {
				wg.Go(func() {
					_, err := e.login(accounts[i/6%len(accounts)], pwA)
					mu.Lock()
					realErrs = append(realErrs, err)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		for _, err := range realErrs {
			if err != nil {
				t.Errorf("a real account, during the flood: %v", err)
			}
		}
		_, wrong := e.login(accounts[0], pwB)
		for _, err := range unknownErrs {
			if apperr.CodeOf(err) != apperr.CodeOf(wrong) || apperr.MessageOf(err) != apperr.MessageOf(wrong) {
				t.Errorf("unknown address: %v; a wrong password: %v", err, wrong)
				break
			}
		}
		u := gate.Usage()
		if u.AnonRuns == 0 {
			t.Error("no dummy check ran on a quiet site")
		}
		if u.AnonPeak > u.AnonCapacity || u.AnonCapacity >= u.Capacity {
			t.Errorf("unknown addresses held %d bytes at once; their lane is %d of %d (MTL-1.1)", u.AnonPeak, u.AnonCapacity, u.Capacity)
		}

		// The wrong password above is a sample: unknown addresses now
		// replay it, without argon2.
		for i := range 10 {
			if _, err := e.login("later"+string(rune('a'+i))+"@example.com", pwB); apperr.CodeOf(err) != apperr.Unauthorized {
				t.Fatalf("unknown address after a known failure: %v", err)
			}
		}
		if after := gate.Usage(); after.AnonRuns != u.AnonRuns {
			t.Errorf("unknown addresses ran %d dummy checks with a sample to replay", after.AnonRuns-u.AnonRuns)
		}
	})
}

// TestDefaultHashMemory: the default gate has room for at least two checks
// at the production parameters and never more than 512 MiB.
func TestDefaultHashMemory(t *testing.T) {
	p, err := policy.Builtin(policy.CustomerPortal)
	if err != nil {
		t.Fatal(err)
	}
	slot := int64(p.Password.Argon2.MemoryKiB) * 1024
	if c := identity.HashGateCapacity(0, p); c < 2*slot || c > max(512<<20, 2*slot) {
		t.Errorf("default capacity %d, slot %d", c, slot)
	}
	if c := identity.HashGateCapacity(1, p); c != 2*slot {
		t.Errorf("a tiny setting gives %d, want two checks (%d)", c, 2*slot)
	}
	if c := identity.HashGateCapacity(300<<20, p); c != 300<<20 {
		t.Errorf("setting 300 MiB gives %d", c)
	}
}
