package app

import (
	"bufio"
	"bytes"
	"io/fs"
	"log/slog"
	"math"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// Garbage-collector settings `portico serve` chooses when the operator has
// not (see GCSettings).
const (
	// GCPercent is the GOGC Portico runs with. Each password sign-in
	// allocates the argon2id memory (19 MiB by default), which with Go's
	// default of 100 starts a collection on almost every sign-in; at 400
	// they come several times less often, for a heap that peaks at about
	// five times the live data (a few megabytes when idle) plus the hashes
	// in flight.
	GCPercent = 400
	// memoryLimitShare is the share of the machine's or container's memory
	// given to the Go heap as a soft limit (GOMEMLIMIT): near it the
	// collector runs as often as it must, whatever GCPercent says, so the
	// higher GOGC cannot push a small container into the OOM killer. The
	// rest is headroom for the binary, stacks and SQLite.
	memoryLimitShare = 0.75
)

// GCSettings is what TuneGC decided.
type GCSettings struct {
	GCPercent      int   // -1 when left to GOGC
	MemoryLimit    int64 // bytes; 0 when left to GOMEMLIMIT or no memory size is known
	AvailableBytes int64 // the memory the limit was derived from (0 if unknown)
}

// TuneGC sets Portico's garbage-collector settings for a long-running
// server unless the operator chose their own: GOGC unset gives GCPercent,
// GOMEMLIMIT unset gives a soft memory limit of 3/4 of the cgroup's memory
// limit or, without one, of the machine's memory. Explicit GOGC and
// GOMEMLIMIT (including "off") are left to the Go runtime, which has
// already applied them. getenv is os.LookupEnv outside tests.
func TuneGC(getenv func(string) (string, bool), logger *slog.Logger) GCSettings {
	s := decideGC(getenv, availableMemory())
	if s.GCPercent > 0 {
		debug.SetGCPercent(s.GCPercent)
	}
	if s.MemoryLimit > 0 {
		debug.SetMemoryLimit(s.MemoryLimit)
	}
	logger.Debug("garbage collector", "gogc", s.GCPercent, "memory_limit", s.MemoryLimit, "memory_available", s.AvailableBytes)
	return s
}

// decideGC is TuneGC's decision, without its effects.
func decideGC(getenv func(string) (string, bool), available int64) GCSettings {
	s := GCSettings{GCPercent: -1, AvailableBytes: available}
	if _, set := getenv("GOGC"); !set {
		s.GCPercent = GCPercent
	}
	if _, set := getenv("GOMEMLIMIT"); !set && available > 0 {
		s.MemoryLimit = int64(float64(available) * memoryLimitShare)
	}
	return s
}

// cgroupMemoryLimit returns the memory limit of the cgroup that
// procSelfCgroup (the text of /proc/self/cgroup) names, read from sys (the
// /sys/fs/cgroup tree), or 0 when there is none. For cgroup v2 it takes the
// smallest memory.max of the group and its ancestors; for v1, the memory
// controller's memory.limit_in_bytes (a huge value meaning no limit).
func cgroupMemoryLimit(sys fs.FS, procSelfCgroup []byte) int64 {
	var limit int64
	consider := func(file string) {
		b, err := fs.ReadFile(sys, file)
		if err != nil {
			return
		}
		v := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= math.MaxInt64/2 { // "max", or v1's "unlimited"
			return
		}
		if limit == 0 || n < limit {
			limit = n
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(procSelfCgroup))
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		dir := strings.TrimPrefix(path.Clean(parts[2]), "/")
		switch {
		case parts[0] == "0" && parts[1] == "": // v2
			for {
				consider(path.Join(dir, "memory.max"))
				if dir == "" || dir == "." {
					break
				}
				dir = path.Dir(dir)
				if dir == "." {
					dir = ""
				}
			}
		case strings.Contains(","+parts[1]+",", ",memory,"): // v1
			consider(path.Join("memory", dir, "memory.limit_in_bytes"))
			consider("memory/memory.limit_in_bytes") // a container sees its own group at the root
		}
	}
	return limit
}
