package projections

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
)

// A batch that would overflow a usage sum is refused whole, on the staged
// path; batches that fit beside the largest bucket take the direct path
// and sum exactly as the staged one would.
func TestMemUsageOverflow(t *testing.T) {
	ctx := context.Background()
	acct, key := uuid.New(), uuid.New()
	at := Day(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	// tokens, not cost: the balances model sums costs per account
	rec := func(pos uint64, model string, tokens int64) Record {
		return Record{Event: eventstore.Event{ID: uuid.New(), Position: pos, Type: usage.TypeRecorded, Schema: 1, RecordedAt: at},
			Payload: usage.Recorded{RequestID: "r", KeyID: key, AccountID: acct, Provider: "p", Model: model,
				InputTokens: tokens, CostMicros: 1, Status: "ok", OccurredAt: at}}
	}
	s := NewMemSet(nil, MemSetOptions{})
	if err := s.ApplyBatch(ctx, []Record{rec(1, "m", math.MaxInt64-10), rec(2, "n", 5)}); err != nil {
		t.Fatal(err)
	}
	// fits in its own bucket, but not beside the largest: staged, accepted
	if err := s.ApplyBatch(ctx, []Record{rec(3, "n", 20), rec(4, "m", 3)}); err != nil {
		t.Fatalf("a batch that fits every bucket was refused: %v", err)
	}
	before, err := s.Usage().UsageTotals(ctx, UsageFilter{AccountID: acct, KeyID: key})
	if err == nil {
		t.Fatalf("totals over both buckets should overflow, got %+v", before)
	}
	err = s.ApplyBatch(ctx, []Record{rec(5, "n", 1), rec(6, "m", 8)})
	if !errors.Is(err, ErrOverflow) {
		t.Fatalf("overflowing batch: %v, want ErrOverflow", err)
	}
	if s.Position() != 4 {
		t.Fatalf("position %d after a refused batch, want 4", s.Position())
	}
	rows := s.usage.rows(UsageFilter{AccountID: acct})
	var m, n UsageCounts
	for k, c := range rows {
		switch k.Model {
		case "m":
			m = c
		case "n":
			n = c
		}
	}
	if m.InputTokens != math.MaxInt64-7 || m.Requests != 2 || n.InputTokens != 25 || n.Requests != 2 {
		t.Fatalf("buckets changed by a refused batch or summed wrong: m %+v, n %+v", m, n)
	}
}
