package identity

import (
	"bufio"
	"context"
	"errors"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/portico/portico/internal/apperr"
	"github.com/portico/portico/internal/policy"
)

// HashGate bounds the memory that argon2id checks hold at once in the
// process. Each check weighs its argon2 memory (19 MiB at the default
// parameters); a check that finds no room waits a short while, then is
// turned away with errBusy (503 and Retry-After), so that a burst of
// sign-ins slows down instead of exhausting memory.
//
// A quarter of the capacity is the most that anonymous checks (the dummy
// verification of a refused account or an unknown address, see mimic.go)
// may hold: they need room in their own lane first, so no set of requests
// for addresses without an account can take every slot from real
// accounts.
//
// Enforces MTL-1.1: availability; password checks cannot exhaust memory.
type HashGate struct {
	capacity, anonCapacity int64
	wait                   time.Duration
	all, anon              *semaphore.Weighted

	// What runs, counted around the argon2 call itself (not by the
	// semaphores), so that tests see a gate that lets too much through.
	inUse, peak, anonInUse, anonPeak atomic.Int64
	runs, anonRuns, turnedAway       atomic.Int64
}

// DefaultHashWait is how long a password check waits for room in the
// gate before it is turned away.
const DefaultHashWait = 2 * time.Second

// retryAfter is what a check turned away tells the client.
const retryAfter = 5 * time.Second

// errBusy answers a password check that found no room in the gate. It
// says nothing about any account: known and unknown addresses get it alike
// (see mimic.go).
var errBusy = &apperr.Error{Code: apperr.Unavailable, RetryAfter: retryAfter,
	Message: "Portico is busy checking passwords right now. Nothing was changed; please try again in a few seconds."}

// NewHashGate returns a gate that lets at most capacity bytes of argon2
// memory run at once; a check waits at most wait for room (0: two
// seconds). Size it with HashGateCapacity.
func NewHashGate(capacity int64, wait time.Duration) *HashGate {
	if capacity < 1 {
		capacity = 1
	}
	if wait <= 0 {
		wait = DefaultHashWait
	}
	anon := max(capacity/4, 1)
	return &HashGate{capacity: capacity, anonCapacity: anon, wait: wait,
		all: semaphore.NewWeighted(capacity), anon: semaphore.NewWeighted(anon)}
}

// HashGateCapacity is the gate's size: setting (bytes, from
// --password-hash-memory) or, when it is 0, DefaultHashMemory; never less
// than two checks at the profile's argon2 memory, so that one slow check
// cannot stop all sign-ins.
func HashGateCapacity(setting int64, p policy.Profile) int64 {
	c := setting
	if c <= 0 {
		c = DefaultHashMemory()
	}
	return max(c, 2*int64(p.Password.Argon2.MemoryKiB)*1024)
}

// DefaultHashMemory is the gate's capacity when the operator sets none: a
// quarter of the Go memory limit (GOMEMLIMIT) when one is set, otherwise
// an eighth of the memory the process may use (the cgroup limit, else the
// machine's), and at most 512 MiB, which is 26 checks at the default
// parameters: far more than the processors can run at once, so the cap
// costs no throughput. Argon2's memory is garbage as soon as a check ends,
// and the collector lets the heap grow to about twice what is live: the
// fractions leave room for that and for everything else.
func DefaultHashMemory() int64 {
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		return min(limit/4, 512<<20)
	}
	return min(availableMemory()/8, 512<<20)
}

// availableMemory is the cgroup (v2) memory limit when there is one, else
// the machine's memory, else 2 GiB when neither can be read.
func availableMemory() int64 {
	mem := int64(2 << 30)
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil && kb > 0 {
					mem = kb * 1024
				}
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && n < mem {
			mem = n
		}
	}
	return mem
}

// Capacity is the most argon2 memory the gate lets run at once, in bytes.
func (g *HashGate) Capacity() int64 { return g.capacity }

// Acquire holds bytes of the gate for work of the caller's own (a tool
// that hashes outside this package, or a test that fills the gate),
// waiting as a password check would. Call release when done.
func (g *HashGate) Acquire(ctx context.Context, bytes int64) (release func(), err error) {
	w := g.weigh(bytes)
	ctx, cancel := context.WithTimeout(ctx, g.wait)
	defer cancel()
	if err := g.all.Acquire(ctx, w); err != nil {
		g.turnedAway.Add(1)
		return nil, errBusyCause(err)
	}
	return func() { g.all.Release(w) }, nil
}

// weigh is the weight of a check of bytes: a check bigger than the whole
// gate (an old hash with more memory) runs alone rather than never.
func (g *HashGate) weigh(bytes int64) int64 { return min(max(bytes, 1), g.capacity) }

// run runs fn, an argon2 computation of bytes, when the gate has room,
// and returns errBusy when no room was found within the wait or ctx ended
// first. An anonymous check needs room in its own lane at once, or gets
// errLaneFull: it never queues there (see failLike).
func (g *HashGate) run(ctx context.Context, bytes int64, anonymous bool, fn func()) error {
	w := g.weigh(bytes)
	var aw int64
	if anonymous {
		aw = min(w, g.anonCapacity)
		if !g.anon.TryAcquire(aw) {
			return errLaneFull
		}
		defer g.anon.Release(aw)
	}
	wctx, cancel := context.WithTimeout(ctx, g.wait)
	defer cancel()
	if err := g.all.Acquire(wctx, w); err != nil {
		g.turnedAway.Add(1)
		return errBusyCause(err)
	}
	defer g.all.Release(w)
	// Count what actually runs, around the computation itself.
	raise(&g.peak, g.inUse.Add(w))
	defer g.inUse.Add(-w)
	g.runs.Add(1)
	if anonymous {
		raise(&g.anonPeak, g.anonInUse.Add(aw))
		defer g.anonInUse.Add(-aw)
		g.anonRuns.Add(1)
	}
	fn()
	return nil
}

// errLaneFull says that the anonymous lane had no room.
var errLaneFull = errors.New("identity: the anonymous lane of the hashing gate is full")

// errBusyCause is errBusy with the reason the wait ended, for the log.
func errBusyCause(cause error) error {
	e := *errBusy
	e.Err = cause
	return &e
}

// raise sets peak to v if v is higher.
func raise(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// GateUsage is what a HashGate has let run since it was made: its
// capacity and the most it held at once, overall and in the anonymous
// lane, in bytes; how many checks ran; how many it turned away.
type GateUsage struct {
	Capacity, Peak, InUse  int64
	AnonCapacity, AnonPeak int64
	Runs, AnonRuns         int64
	TurnedAway             int64
}

// Usage reports what the gate has let run since it was made.
func (g *HashGate) Usage() GateUsage {
	return GateUsage{Capacity: g.capacity, Peak: g.peak.Load(), InUse: g.inUse.Load(),
		AnonCapacity: g.anonCapacity, AnonPeak: g.anonPeak.Load(),
		Runs: g.runs.Load(), AnonRuns: g.anonRuns.Load(), TurnedAway: g.turnedAway.Load()}
}
