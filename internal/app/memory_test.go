package app

import (
	"testing"
	"testing/fstest"
)

func TestDecideGC(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	const gib = 1 << 30
	for _, c := range []struct {
		name      string
		getenv    func(string) (string, bool)
		available int64
		want      GCSettings
	}{
		{"sets both when the operator set neither", env(), 4 * gib, GCSettings{GCPercent: GCPercent, MemoryLimit: 3 * gib, AvailableBytes: 4 * gib}},
		{"leaves an explicit GOGC alone", env("GOGC", "100"), 4 * gib, GCSettings{GCPercent: -1, MemoryLimit: 3 * gib, AvailableBytes: 4 * gib}},
		{"leaves GOGC=off alone", env("GOGC", "off"), 4 * gib, GCSettings{GCPercent: -1, MemoryLimit: 3 * gib, AvailableBytes: 4 * gib}},
		{"leaves an explicit GOMEMLIMIT alone", env("GOMEMLIMIT", "512MiB"), 4 * gib, GCSettings{GCPercent: GCPercent, AvailableBytes: 4 * gib}},
		{"sets no limit when the memory size is unknown", env(), 0, GCSettings{GCPercent: GCPercent}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := decideGC(c.getenv, c.available); got != c.want {
				t.Fatalf("decideGC = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	sys := fstest.MapFS{
		"memory.max":                       {Data: []byte("max\n")},
		"app.slice/memory.max":             {Data: []byte("1073741824\n")},
		"app.slice/portico/memory.max":     {Data: []byte("max\n")},
		"memory/memory.limit_in_bytes":     {Data: []byte("9223372036854771712\n")},
		"memory/ctr/memory.limit_in_bytes": {Data: []byte("536870912\n")},
	}
	for _, c := range []struct {
		name, cgroup string
		want         int64
	}{
		{"v2: the smallest limit among the group and its ancestors", "0::/app.slice/portico\n", 1 << 30},
		{"v2: no limit anywhere", "0::/\n", 0},
		{"v1: the memory controller's group", "4:memory:/ctr\n3:cpu:/\n", 512 << 20},
		{"v1: unlimited", "4:cpuacct,memory:/\n", 0},
		{"nothing readable", "0::/elsewhere\n", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := cgroupMemoryLimit(sys, []byte(c.cgroup)); got != c.want {
				t.Fatalf("cgroupMemoryLimit = %d, want %d", got, c.want)
			}
		})
	}
}
