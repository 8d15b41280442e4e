//go:build !reliability

package tests

import "time"

// Figures of the default run (`make test`): a short version of every
// reliability test, so CI exercises each path.
const (
	relLong        = false
	relCrashCycles = 2
	relLoadMin     = 300 * time.Millisecond
	relLoadMax     = 900 * time.Millisecond
	relWorkers     = 64
)
