package projections

import (
	"context"
	"fmt"
	"math"
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

// usageCountsOf is what one event adds to its usage bucket (usageDelta
// without the bucket, for prepare's bound).
func usageCountsOf(payload any) (UsageCounts, bool) {
	switch e := payload.(type) {
	case usage.Recorded:
		d := UsageCounts{Requests: 1, InputTokens: e.InputTokens, OutputTokens: e.OutputTokens, CostMicros: e.CostMicros}
		if e.Status != usage.StatusOK.String() {
			d.Errors = 1
		}
		return d, true
	case usage.ErrorReported:
		return UsageCounts{ErrorReports: 1}, true
	}
	return UsageCounts{}, false
}

// usageDelta is what one event adds to its usage bucket, and the bucket.
func usageDelta(payload any) (UsageKey, UsageCounts, bool) {
	d, ok := usageCountsOf(payload)
	switch e := payload.(type) {
	case usage.Recorded:
		return UsageKey{AccountID: e.AccountID, KeyID: e.KeyID, Model: e.Model, Provider: e.Provider, Day: Day(e.OccurredAt)}, d, ok
	case usage.ErrorReported:
		return UsageKey{AccountID: e.AccountID, KeyID: e.KeyID, Model: e.Model, Provider: e.Provider, Day: Day(e.OccurredAt)}, d, ok
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
	// bound holds, per counter, the largest absolute value of any bucket.
	// A batch whose absolute sums fit in int64 beside it cannot overflow
	// any bucket, so it is added in one pass instead of being staged.
	bound UsageCounts
}

var _ UsageQuery = (*MemUsage)(nil)

// NewMemUsage returns an empty in-memory usage read model.
func NewMemUsage() *MemUsage {
	return &MemUsage{byAccount: map[uuid.UUID]map[UsageKey]*UsageCounts{}}
}

// usageCommit is a checked batch, ready to store: the batch itself when no
// bucket can overflow (direct), else the new values of the buckets it
// changes (staged).
type usageCommit struct {
	direct []Record
	staged map[UsageKey]UsageCounts
}

// prepare checks that batch can be added without an overflow, without
// changing the model: a batch that would overflow is refused whole.
//
// Staging every bucket of the batch in maps cost more than all the other
// read models together, for a check that practically always passes (an
// overflow takes about 10^9 maximal records in one bucket). So prepare
// first bounds the batch: the sum of its absolute counts beside the largest
// bucket; only when that bound does not fit does it stage bucket by bucket.
func (m *MemUsage) prepare(batch []Record) (usageCommit, error) {
	var abs UsageCounts
	fits := true
	for i := range batch {
		d, ok := usageCountsOf(batch[i].Payload)
		if !ok {
			continue
		}
		if !d.absInto(&abs) {
			fits = false
			break
		}
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if fits {
		if check := m.bound; check.Add(abs) == nil {
			return usageCommit{direct: batch}, nil
		}
	}
	deltas := map[UsageKey]*UsageCounts{}
	if err := FoldUsage(batch, deltas); err != nil {
		return usageCommit{}, err
	}
	out := make(map[UsageKey]UsageCounts, len(deltas))
	for k, d := range deltas {
		var c UsageCounts
		if cur := m.byAccount[k.AccountID][k]; cur != nil {
			c = *cur
		}
		if err := c.Add(*d); err != nil {
			return usageCommit{}, fmt.Errorf("usage sum: %w", err)
		}
		out[k] = c
	}
	return usageCommit{staged: out}, nil
}

// absInto adds the absolute values of c to sum; false when a sum or an
// absolute value does not fit in int64.
func (c UsageCounts) absInto(sum *UsageCounts) bool {
	for _, f := range [...]struct {
		dst *int64
		v   int64
	}{
		{&sum.Requests, c.Requests}, {&sum.InputTokens, c.InputTokens}, {&sum.OutputTokens, c.OutputTokens},
		{&sum.CostMicros, c.CostMicros}, {&sum.Errors, c.Errors}, {&sum.ErrorReports, c.ErrorReports},
	} {
		v := f.v
		if v < 0 {
			if v == math.MinInt64 {
				return false
			}
			v = -v
		}
		if *f.dst > math.MaxInt64-v {
			return false
		}
		*f.dst += v
	}
	return true
}

// raiseBound makes m.bound cover c.
func (m *MemUsage) raiseBound(c *UsageCounts) {
	for _, f := range [...]struct {
		dst *int64
		v   int64
	}{
		{&m.bound.Requests, c.Requests}, {&m.bound.InputTokens, c.InputTokens}, {&m.bound.OutputTokens, c.OutputTokens},
		{&m.bound.CostMicros, c.CostMicros}, {&m.bound.Errors, c.Errors}, {&m.bound.ErrorReports, c.ErrorReports},
	} {
		v := f.v
		if v < 0 {
			v = -v // never MinInt64: prepare refused such a batch
		}
		*f.dst = max(*f.dst, v)
	}
}

// commit stores what prepare checked.
func (m *MemUsage) commit(u usageCommit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var (
		acc     map[UsageKey]*UsageCounts
		accID   uuid.UUID
		haveAcc bool
	)
	bucket := func(k UsageKey) *UsageCounts {
		if !haveAcc || k.AccountID != accID {
			acc, accID, haveAcc = m.byAccount[k.AccountID], k.AccountID, true
			if acc == nil {
				acc = map[UsageKey]*UsageCounts{}
				m.byAccount[k.AccountID] = acc
			}
		}
		c := acc[k]
		if c == nil {
			c = &UsageCounts{}
			acc[k] = c
		}
		return c
	}
	for i := range u.direct {
		k, d, ok := usageDelta(u.direct[i].Payload)
		if !ok {
			continue
		}
		c := bucket(k)
		// cannot overflow: prepare bounded every sum
		c.Requests += d.Requests
		c.InputTokens += d.InputTokens
		c.OutputTokens += d.OutputTokens
		c.CostMicros += d.CostMicros
		c.Errors += d.Errors
		c.ErrorReports += d.ErrorReports
		m.raiseBound(c)
	}
	for k, v := range u.staged {
		c := bucket(k)
		*c = v
		m.raiseBound(c)
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
