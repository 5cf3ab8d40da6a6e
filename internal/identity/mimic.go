package identity

import (
	"context"
	"math/rand/v2"
	"sync"
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
// account to check against (a refused account, an unconfirmed address's
// link that is locked), in the gate's anonymous lane, so that it cannot
// crowd out real accounts (MTL-1.1). It answers errBusy like a real check.
func (s *Service) dummyVerify(ctx context.Context, pw string) error {
	return s.hashes.run(ctx, hashMemory(s.dummyHash), true, func() { VerifyPassword(pw, s.dummyHash, s.argon2()) })
}

// failedCheckWindow is how recent a failed check of a known account must
// be for an unknown address to replay it: long enough that a quiet site
// usually has one, short enough that it reflects the load of now.
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
// runs no argon2 at all, so a flood of unknown addresses takes no memory
// and no slot from real accounts. With no recent sample (a quiet site),
// it runs a dummy check in the gate's anonymous lane instead, padded by
// the measured database overhead of a known failure.
type failedChecks struct {
	mu   sync.Mutex
	ring [256]checkSample
	next int
	// overhead is a moving average of the database part of a known
	// failed check (its time less the argon2 part), kept without a
	// window: it changes with the database, not with the load.
	overhead time.Duration
}

// checkSample is one failed check of a known account.
type checkSample struct {
	at   time.Time
	took time.Duration
	busy bool
}

// record adds a failed check that took took, of which hashing was the
// argon2 part (gate wait included).
func (f *failedChecks) record(took, hashing time.Duration, busy bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ring[f.next] = checkSample{at: time.Now(), took: took, busy: busy}
	f.next = (f.next + 1) % len(f.ring)
	if !busy {
		db := max(took-hashing, 0)
		if f.overhead == 0 {
			f.overhead = db
		} else {
			f.overhead += (db - f.overhead) / 8
		}
	}
}

// draw returns one of the recent samples at random, and false when there
// is none.
func (f *failedChecks) draw() (checkSample, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	from := time.Now().Add(-failedCheckWindow)
	var recent []checkSample
	for _, c := range f.ring {
		if c.at.After(from) {
			recent = append(recent, c)
		}
	}
	if len(recent) == 0 {
		return checkSample{}, false
	}
	return recent[rand.IntN(len(recent))], true
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
	answer := errSignInFailed
	var until time.Time
	if c, ok := s.failed.draw(); ok {
		until = start.Add(c.took)
		if c.busy {
			answer = errBusy
		}
	} else {
		t := time.Now()
		if err := s.dummyVerify(ctx, pw); err != nil {
			answer = errBusy
		}
		until = time.Now().Add(s.failed.dbOverhead() - t.Sub(start))
	}
	if after != nil {
		if err := after(); err != nil {
			return err
		}
	}
	if err := sleepUntil(ctx, until); err != nil {
		return errBusyCause(err)
	}
	return answer
}

// sleepUntil waits until t, or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
