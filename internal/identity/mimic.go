package identity

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// hashPassword is HashPassword with the profile's parameters, through the
// gate (MTL-1.1).
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	p := s.argon2()
	var hash string
	var err error
	if gerr := s.hashes.run(ctx, p.bytes(), false, func() { hash, err = HashPassword(pw, p) }); gerr != nil {
		return "", gerr
	}
	return hash, err
}

// verifyPassword is VerifyPassword through the gate, weighed by the memory
// of the hash it checks against (MTL-1.1). It answers errBusy when the
// gate had no room: then nothing was checked.
func (s *Service) verifyPassword(ctx context.Context, pw, encoded string) (ok, needsRehash bool, err error) {
	if gerr := s.hashes.run(ctx, hashMemory(encoded), false, func() {
		ok, needsRehash, err = VerifyPassword(pw, encoded, s.argon2())
	}); gerr != nil {
		return false, false, gerr
	}
	return ok, needsRehash, err
}

// dummyVerify spends the time of a password check on a check that has no
// account to check against, in the gate's anonymous lane, so that it
// cannot crowd out real accounts (MTL-1.1). It answers errLaneFull when
// the lane has no room (nothing ran), errBusy like a real check when the
// gate had none.
func (s *Service) dummyVerify(ctx context.Context, pw string) error {
	return s.hashes.run(ctx, hashMemory(s.dummyHash), true, func() { VerifyPassword(pw, s.dummyHash, s.argon2()) })
}

// failedCheckWindow is how recent a failed check must be to be replayed:
// long enough that a quiet site usually has one, short enough that it
// reflects the load of now.
const failedCheckWindow = time.Minute

// failedChecks remembers how long the recent failed password sign-ins of
// known accounts took, from the account lookup to the answer, and whether
// the gate turned them away. A sign-in that cannot check a password (the
// address has no account, or the account is refused) answers like one of
// them drawn at random: it takes that time (its own database work
// included) and gives that answer (the generic failure, or busy).
//
// Enforces CP-6.3 and MTL-1.1: an unknown address answers in the same
// time and the same way as a known one, whatever the load, from the
// measured distribution of real checks rather than an assumption; and it
// runs no argon2 while there is a sample, so a flood of unknown addresses
// takes no memory and no slot from real accounts. With no recent sample
// (a quiet site), one dummy check at a time runs in the gate's anonymous
// lane, padded by the measured database overhead of a known failure, and
// is itself recorded; the others wait for it and replay it.
type failedChecks struct {
	mu   sync.Mutex
	ring [256]checkSample
	next int
	// overhead is a moving average of the database part of a known
	// failed check (its time less the argon2 part), kept without a
	// window: it changes with the database, not with the load.
	overhead time.Duration
	// fresh is closed, and replaced, when a sample is recorded.
	fresh chan struct{}
}

// checkSample is one failed check.
type checkSample struct {
	at   time.Time
	took time.Duration
	busy bool
}

func newFailedChecks() *failedChecks { return &failedChecks{fresh: make(chan struct{})} }

// record adds a failed check that took took, of which hashing was the
// argon2 part (gate wait included). known says whether it checked a real
// account's hash (a dummy check does not teach the database overhead).
func (f *failedChecks) record(took, hashing time.Duration, busy, known bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ring[f.next] = checkSample{at: time.Now(), took: took, busy: busy}
	f.next = (f.next + 1) % len(f.ring)
	if known && !busy {
		db := max(took-hashing, 0)
		if f.overhead == 0 {
			f.overhead = db
		} else {
			f.overhead += (db - f.overhead) / 8
		}
	}
	close(f.fresh)
	f.fresh = make(chan struct{})
}

// draw returns one of the recent samples at random, or, when there is
// none, false and a channel closed when one is recorded.
func (f *failedChecks) draw() (checkSample, bool, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	from := time.Now().Add(-failedCheckWindow)
	n := 0
	var pick checkSample
	for _, c := range f.ring {
		// Reservoir sampling: each recent sample is equally likely.
		if c.at.After(from) {
			n++
			if rand.IntN(n) == 0 {
				pick = c
			}
		}
	}
	return pick, n > 0, f.fresh
}

func (f *failedChecks) dbOverhead() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.overhead
}

// failLike answers a sign-in that has no password to check (started at
// start) like a failed check of a known account: see failedChecks. after
// runs the path's own bookkeeping (its audit event) inside the time
// taken; its error wins.
func (s *Service) failLike(ctx context.Context, start time.Time, pw string, after func() error) error {
	until, busy, err := s.failTime(ctx, start, pw)
	if err != nil {
		return err
	}
	if after != nil {
		if err := after(); err != nil {
			return err
		}
	}
	if err := sleepUntil(ctx, until); err != nil {
		return errBusyCause(err)
	}
	if busy {
		return errBusy
	}
	return errSignInFailed
}

// failTime decides when a sign-in without a password to check answers,
// and whether it answers busy.
func (s *Service) failTime(ctx context.Context, start time.Time, pw string) (until time.Time, busy bool, err error) {
	giveUp := time.NewTimer(s.hashes.wait)
	defer giveUp.Stop()
	for {
		c, ok, fresh := s.failed.draw()
		if ok {
			return start.Add(c.took), c.busy, nil
		}
		// A quiet site: one dummy check runs, and is recorded.
		t := time.Now()
		err := s.dummyVerify(ctx, pw)
		if !errors.Is(err, errLaneFull) {
			busy := err != nil
			hashing := time.Since(t)
			took := hashing + max(s.failed.dbOverhead(), t.Sub(start))
			s.failed.record(took, hashing, busy, false)
			return start.Add(took), busy, nil
		}
		// Another is running: wait for its sample, as long as a check
		// would wait for the gate.
		select {
		case <-fresh:
		case <-giveUp.C:
			return time.Now(), true, nil
		case <-ctx.Done():
			return time.Time{}, false, errBusyCause(ctx.Err())
		}
	}
}

// wakeLate is how early sleepUntil sets its timer. Timers fire late, by
// up to a millisecond on Linux, where the poller waits in whole
// milliseconds, which would make a replayed check slower on average than
// the checks it replays: each wait corrects wakeLate by a sixteenth of how
// far from its target it ended (a waiting time too short to set a timer
// for counts as ending early), so the mean error tends to zero.
var wakeLate atomic.Int64

// sleepUntil waits until about t, or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	if time.Until(t) <= 0 {
		return nil // already past: nothing to correct
	}
	late := time.Duration(wakeLate.Load())
	if d := time.Until(t) - late; d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	late += time.Since(t) / 16
	wakeLate.Store(int64(min(max(late, 0), 2*time.Millisecond)))
	return nil
}
