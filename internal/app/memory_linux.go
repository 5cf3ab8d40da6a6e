package app

import (
	"os"
	"syscall"
)

// availableMemory is the memory this process may use: the machine's, or
// its cgroup's limit when that is smaller (containers). 0 if unknown.
func availableMemory() int64 {
	var total int64
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		total = int64(si.Totalram) * int64(si.Unit)
	}
	if self, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		if l := cgroupMemoryLimit(os.DirFS("/sys/fs/cgroup"), self); l > 0 && (total == 0 || l < total) {
			total = l
		}
	}
	return total
}
