//go:build perf

package eventstore_test

import (
	"sort"
	"testing"
)

// TestSealerOverhead checks the sealing budget: sealed appends at least 0.8x
// and sealed replay at least 0.7x the throughput of the same events with all
// fields public (MemStore, so the sealer's share is as large as it gets).
// Run with: go test -tags perf -run SealerOverhead ./eventstore
func TestSealerOverhead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bench func(*testing.B, bool)
		min   float64
	}{
		{"Append", benchAppend, 0.8},
		{"Replay", benchReplay, 0.7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ratios []float64
			for range 7 {
				plain := testing.Benchmark(func(b *testing.B) { tc.bench(b, false) })
				sealed := testing.Benchmark(func(b *testing.B) { tc.bench(b, true) })
				ratios = append(ratios, float64(plain.NsPerOp())/float64(sealed.NsPerOp()))
			}
			sort.Float64s(ratios)
			median := ratios[len(ratios)/2]
			t.Logf("sealed/plain throughput: %.2f (median %.2f, budget %.2f)", ratios, median, tc.min)
			if median < tc.min {
				t.Fatalf("sealed %s runs at %.2fx plain, budget is %.2fx", tc.name, median, tc.min)
			}
		})
	}
}
