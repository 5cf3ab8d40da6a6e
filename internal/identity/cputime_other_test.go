//go:build !unix

package identity_test

import "time"

// cpuTime is not measured here; report then gives wall-clock rates only.
func cpuTime() time.Duration { return 0 }
