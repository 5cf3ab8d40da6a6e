//go:build !linux

package app

// availableMemory is unknown outside Linux: Portico then sets GOGC only.
func availableMemory() int64 { return 0 }
