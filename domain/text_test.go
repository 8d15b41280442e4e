package domain

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// CheckText's ASCII short path gives the general path's answer, error for
// error: controls (DEL included), spaces at either end, lengths at the
// bounds, and strings that leave ASCII or UTF-8 part way.
func TestCheckTextShortPath(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	parts := []string{"a", "Z", "0", " ", "-", "\t", "\n", "\x00", "\x7f", "\x1f", "é", "\u0085", "\u00a0", "\xff", "\xc3", "~"}
	for range 100_000 {
		var b []byte
		for n := r.IntN(8); n > 0; n-- {
			b = append(b, parts[r.IntN(len(parts))]...)
		}
		s := string(b)
		min, max := r.IntN(3), r.IntN(8)
		got, want := CheckText("f", s, min, max), checkTextSlow("f", s, min, max)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("CheckText(%q, %d, %d) = %v, general path %v", s, min, max, got, want)
		}
	}
}
