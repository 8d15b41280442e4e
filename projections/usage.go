package projections

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/usage"
)

// UsageDimension is a usage grouping: by day, model, provider or key.
type UsageDimension string

// The usage dimensions.
const (
	ByDay      UsageDimension = "day"
	ByModel    UsageDimension = "model"
	ByProvider UsageDimension = "provider"
	ByKey      UsageDimension = "key"
)

// ParseUsageDimension maps a query parameter to a dimension.
func ParseUsageDimension(s string) (UsageDimension, error) {
	switch d := UsageDimension(s); d {
	case ByDay, ByModel, ByProvider, ByKey:
		return d, nil
	}
	return "", fmt.Errorf("projections: unknown usage grouping %q (want day, model, provider or key)", s)
}

// UsageCounts are the additive usage figures.
type UsageCounts struct {
	Requests     int64 `json:"requests"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	CostMicros   int64 `json:"cost_micros"`
	Errors       int64 `json:"errors"`        // recorded requests whose status is not "ok"
	ErrorReports int64 `json:"error_reports"` // usage.error_reported events
}

// Add adds o to c with checked arithmetic: on int64 overflow it returns
// ErrOverflow and leaves c unchanged. Usage figures are bounded per record
// (usage.MaxTokens, usage.MaxCostMicros), so an overflow needs about 10^9
// maximal records in one sum; a read model that meets one fails loudly
// rather than storing a wrong total.
func (c *UsageCounts) Add(o UsageCounts) error {
	var n UsageCounts
	var err error
	for _, f := range []struct {
		dst  *int64
		a, b int64
	}{
		{&n.Requests, c.Requests, o.Requests}, {&n.InputTokens, c.InputTokens, o.InputTokens},
		{&n.OutputTokens, c.OutputTokens, o.OutputTokens}, {&n.CostMicros, c.CostMicros, o.CostMicros},
		{&n.Errors, c.Errors, o.Errors}, {&n.ErrorReports, c.ErrorReports, o.ErrorReports},
	} {
		if *f.dst, err = AddInt64(f.a, f.b); err != nil {
			return err
		}
	}
	*c = n
	return nil
}

// UsageKey identifies one stored usage bucket.
type UsageKey struct {
	AccountID uuid.UUID
	KeyID     uuid.UUID
	Model     string
	Provider  string
	Day       time.Time // UTC midnight
}

// UsageFilter selects an account's usage.
type UsageFilter struct {
	AccountID uuid.UUID
	From, To  time.Time // UTC days, inclusive; zero means unbounded
	KeyID     uuid.UUID // optional
	// GroupBy lists the dimensions of the buckets returned by Usage (none:
	// one bucket with the totals).
	GroupBy []UsageDimension
}

// UsageBucket is one group of usage; only the grouped dimensions are set.
type UsageBucket struct {
	Day      *time.Time `json:"day,omitempty"`
	Model    string     `json:"model,omitempty"`
	Provider string     `json:"provider,omitempty"`
	KeyID    *uuid.UUID `json:"key_id,omitempty"`
	UsageCounts
}

// UsageQuery answers usage questions. Safe for concurrent use.
type UsageQuery interface {
	// Usage returns the account's usage grouped as f asks, ordered by the
	// grouped dimensions in the order given.
	Usage(ctx context.Context, f UsageFilter) ([]UsageBucket, error)
	// UsageTotals sums the account's usage within f (GroupBy ignored).
	UsageTotals(ctx context.Context, f UsageFilter) (UsageCounts, error)
}

// FoldUsage adds a batch's usage into deltas. It fails with ErrOverflow when
// a sum would overflow int64 (deltas are then partly updated: discard them).
func FoldUsage(batch []Record, deltas map[UsageKey]*UsageCounts) error {
	for i := range batch {
		k, d, ok := usageDelta(batch[i].Payload)
		if !ok {
			continue
		}
		c := deltas[k]
		if c == nil {
			c = &UsageCounts{}
			deltas[k] = c
		}
		if err := c.Add(d); err != nil {
			return fmt.Errorf("usage sum at position %d: %w", batch[i].Position, err)
		}
	}
	return nil
}

// usageDelta is what one event adds to its usage bucket.
func usageDelta(payload any) (UsageKey, UsageCounts, bool) {
	switch e := payload.(type) {
	case usage.Recorded:
		k := UsageKey{AccountID: e.AccountID, KeyID: e.KeyID, Model: e.Model, Provider: e.Provider, Day: Day(e.OccurredAt)}
		d := UsageCounts{Requests: 1, InputTokens: e.InputTokens, OutputTokens: e.OutputTokens, CostMicros: e.CostMicros}
		if e.Status != usage.StatusOK.String() {
			d.Errors = 1
		}
		return k, d, true
	case usage.ErrorReported:
		k := UsageKey{AccountID: e.AccountID, KeyID: e.KeyID, Model: e.Model, Provider: e.Provider, Day: Day(e.OccurredAt)}
		return k, UsageCounts{ErrorReports: 1}, true
	}
	return UsageKey{}, UsageCounts{}, false
}

// GroupUsage groups rows (already filtered to f's account, days and key)
// as f asks. Both implementations use it for the final shape. A group whose
// sum would overflow int64 is an error (ErrOverflow), never a wrong number.
func GroupUsage(rows map[UsageKey]UsageCounts, f UsageFilter) ([]UsageBucket, error) {
	type gk struct {
		day      time.Time
		model    string
		provider string
		key      uuid.UUID
	}
	has := map[UsageDimension]bool{}
	for _, d := range f.GroupBy {
		has[d] = true
	}
	groups := map[gk]*UsageBucket{}
	for k, c := range rows {
		var g gk
		if has[ByDay] {
			g.day = k.Day
		}
		if has[ByModel] {
			g.model = k.Model
		}
		if has[ByProvider] {
			g.provider = k.Provider
		}
		if has[ByKey] {
			g.key = k.KeyID
		}
		b := groups[g]
		if b == nil {
			b = &UsageBucket{Model: g.model, Provider: g.provider}
			if has[ByDay] {
				d := g.day
				b.Day = &d
			}
			if has[ByKey] {
				id := g.key
				b.KeyID = &id
			}
			groups[g] = b
		}
		if err := b.Add(c); err != nil {
			return nil, err
		}
	}
	out := make([]UsageBucket, 0, len(groups))
	for _, b := range groups {
		out = append(out, *b)
	}
	if len(f.GroupBy) == 0 && len(out) == 0 {
		out = append(out, UsageBucket{})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		for _, d := range f.GroupBy {
			switch d {
			case ByDay:
				if !a.Day.Equal(*b.Day) {
					return a.Day.Before(*b.Day)
				}
			case ByModel:
				if a.Model != b.Model {
					return a.Model < b.Model
				}
			case ByProvider:
				if a.Provider != b.Provider {
					return a.Provider < b.Provider
				}
			case ByKey:
				if *a.KeyID != *b.KeyID {
					return a.KeyID.String() < b.KeyID.String()
				}
			}
		}
		return false
	})
	return out, nil
}

// InUsageFilter reports whether a stored bucket falls within f.
func InUsageFilter(k UsageKey, f UsageFilter) bool {
	if k.AccountID != f.AccountID {
		return false
	}
	if !f.From.IsZero() && k.Day.Before(Day(f.From)) {
		return false
	}
	if !f.To.IsZero() && k.Day.After(Day(f.To)) {
		return false
	}
	return f.KeyID == uuid.Nil || k.KeyID == f.KeyID
}

// MemUsage is the in-memory usage read model.
type MemUsage struct {
	mu        sync.RWMutex
	byAccount map[uuid.UUID]map[UsageKey]*UsageCounts
}

var _ UsageQuery = (*MemUsage)(nil)

// NewMemUsage returns an empty in-memory usage read model.
func NewMemUsage() *MemUsage {
	return &MemUsage{byAccount: map[uuid.UUID]map[UsageKey]*UsageCounts{}}
}

// usageCommit is a checked batch of new bucket values, ready to store.
type usageCommit map[UsageKey]UsageCounts

// prepare computes the buckets batch changes, with checked sums, without
// changing the model: a batch that would overflow is refused whole.
func (m *MemUsage) prepare(batch []Record) (usageCommit, error) {
	deltas := map[UsageKey]*UsageCounts{}
	if err := FoldUsage(batch, deltas); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(usageCommit, len(deltas))
	for k, d := range deltas {
		var c UsageCounts
		if cur := m.byAccount[k.AccountID][k]; cur != nil {
			c = *cur
		}
		if err := c.Add(*d); err != nil {
			return nil, fmt.Errorf("usage sum: %w", err)
		}
		out[k] = c
	}
	return out, nil
}

// commit stores what prepare computed.
func (m *MemUsage) commit(u usageCommit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, c := range u {
		acc := m.byAccount[k.AccountID]
		if acc == nil {
			acc = map[UsageKey]*UsageCounts{}
			m.byAccount[k.AccountID] = acc
		}
		if cur := acc[k]; cur != nil {
			*cur = c
		} else {
			acc[k] = &c
		}
	}
}

func (m *MemUsage) rows(f UsageFilter) map[UsageKey]UsageCounts {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[UsageKey]UsageCounts{}
	for k, c := range m.byAccount[f.AccountID] {
		if InUsageFilter(k, f) {
			out[k] = *c
		}
	}
	return out
}

// Usage implements UsageQuery.
func (m *MemUsage) Usage(_ context.Context, f UsageFilter) ([]UsageBucket, error) {
	return GroupUsage(m.rows(f), f)
}

// UsageTotals implements UsageQuery.
func (m *MemUsage) UsageTotals(_ context.Context, f UsageFilter) (UsageCounts, error) {
	var t UsageCounts
	for _, c := range m.rows(f) {
		if err := t.Add(c); err != nil {
			return UsageCounts{}, err
		}
	}
	return t, nil
}
