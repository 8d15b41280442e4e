package commands

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// plainlyValid may only skip the validator for records it accepts: it must
// never accept one the validator refuses. Records are drawn from values at and
// around every rule's edge (lengths in bytes and in runes, bounds, enums, IPs),
// and the plain case must take the short path, or the check is dead weight.
func TestRecordUsagePlainlyValid(t *testing.T) {
	text := func(limit int) []string {
		out := []string{""}
		for _, n := range []int{1, limit - 1, limit, limit + 1} {
			out = append(out, strings.Repeat("a", n), strings.Repeat("é", n), strings.Repeat("é", n/2+1))
		}
		return append(out, " x", "x\x00y")
	}
	ints := func(max int64) []int64 { return []int64{-1, 0, 1, max - 1, max, max + 1} }
	var (
		keys      = []uuid.UUID{uuid.Nil, uuid.New()}
		requests  = text(128)
		providers = text(64)
		models    = text(128)
		tokens    = ints(1_000_000_000)
		costs     = ints(10_000_000_000)
		latencies = ints(86_400_000)
		statuses  = []string{"", "ok", "error", "rate_limited", "timeout", "cancelled", "OK", "done"}
		ips       = []string{"", "203.0.113.7", "2001:db8::1", "::ffff:10.0.0.1", "10.0.0", "localhost", "203.0.113.7:80", "1.2.3.4 "}
		agents    = text(512)
	)
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return r.IntN(n) }
	plain := 0
	for range 50_000 {
		c := RecordUsage{
			KeyID: keys[pick(len(keys))], RequestID: requests[pick(len(requests))], Provider: providers[pick(len(providers))],
			Model: models[pick(len(models))], InputTokens: tokens[pick(len(tokens))], OutputTokens: tokens[pick(len(tokens))],
			CostMicros: costs[pick(len(costs))], Status: statuses[pick(len(statuses))], LatencyMs: latencies[pick(len(latencies))],
			ClientIP: ips[pick(len(ips))], UserAgent: agents[pick(len(agents))],
		}
		if !c.plainlyValid() {
			continue
		}
		plain++
		if err := validateCommand("RecordUsage", &c); err != nil {
			t.Fatalf("plainlyValid accepted a record the validator refuses (%v): %+v", err, c)
		}
	}
	if plain == 0 {
		t.Fatal("no generated record took the short path")
	}
	ok := RecordUsage{KeyID: uuid.New(), RequestID: "req-1", Provider: "openai", Model: "gpt-4o-mini", InputTokens: 12,
		OutputTokens: 34, CostMicros: 56, Status: "ok", LatencyMs: 78, ClientIP: "203.0.113.7", UserAgent: "sdk/1.0"}
	if !ok.plainlyValid() {
		t.Fatal("a plain valid record does not take the short path")
	}
}
