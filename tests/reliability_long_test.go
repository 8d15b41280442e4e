//go:build reliability

package tests

import "time"

// Figures of the long run (`make reliability`, -tags reliability).
const (
	relLong        = true
	relCrashCycles = 10                     // SIGKILL cycles per backend
	relLoadMin     = 400 * time.Millisecond // load before a kill: random in [min, max)
	relLoadMax     = 2500 * time.Millisecond
	relWorkers     = 64
)
