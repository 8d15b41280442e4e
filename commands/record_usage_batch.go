package commands

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/eventstore"
)

// MaxUsageBatch is the most records one RecordUsageBatch may carry.
const MaxUsageBatch = 1000

// RecordUsageBatch records many gateway requests at once. Each record is validated on its own:
// invalid records and unknown keys are reported per record while the others are stored, one
// append per (account, day) stream.
type RecordUsageBatch struct {
	Records []RecordUsage `json:"records" validate:"required,min=1,max=1000"`
}

// Per-record outcomes of RecordUsageBatch.
const (
	UsageRecorded   = "recorded"
	UsageDuplicate  = "duplicate"
	UsageInvalid    = "invalid"     // Violations says why
	UsageUnknownKey = "unknown_key" // the key id was never issued
	UsageErased     = "account_erased"
)

// RecordUsageItemResult is the outcome of one record of a batch.
type RecordUsageItemResult struct {
	Index      int              `json:"index"`
	RequestID  string           `json:"request_id"`
	EventID    uuid.UUID        `json:"event_id,omitzero"`
	Status     string           `json:"status"`
	Violations []FieldViolation `json:"violations,omitempty"`
}

// RecordUsageBatchResult is the Data of RecordUsageBatch.
type RecordUsageBatchResult struct {
	Recorded   int                     `json:"recorded"`
	Duplicates int                     `json:"duplicates"`
	Rejected   int                     `json:"rejected"`
	Results    []RecordUsageItemResult `json:"results"`
}

func (s *Service) recordUsageBatch(ctx context.Context, c *RecordUsageBatch) (Result, error) {
	now := s.clock()
	out := RecordUsageBatchResult{Results: make([]RecordUsageItemResult, len(c.Records))}
	type group struct {
		events []eventstore.Event
		index  []int
	}
	groups := map[string]*group{}
	var order []string
	seen := map[uuid.UUID]bool{}
	for i := range c.Records {
		rec := &c.Records[i]
		item := &out.Results[i]
		item.Index, item.RequestID = i, rec.RequestID
		if !rec.plainlyValid() {
			if err := validateCommand("RecordUsage", rec); err != nil {
				if err := s.rejectItem(item, err); err != nil {
					return Result{}, err
				}
				continue
			}
		}
		stream, ev, _, err := s.usageEvent(ctx, rec, now)
		if err != nil {
			if err := s.rejectItem(item, err); err != nil {
				return Result{}, err
			}
			continue
		}
		item.EventID = ev.ID
		if seen[ev.ID] { // the same request twice in one batch
			item.Status = UsageDuplicate
			continue
		}
		seen[ev.ID] = true
		g := groups[stream]
		if g == nil {
			g = &group{}
			groups[stream] = g
			order = append(order, stream)
		}
		g.events = append(g.events, ev)
		g.index = append(g.index, i)
	}

	// The groups go to the store concurrently: the store's group commit then
	// writes them in one transaction instead of one commit per (account, day)
	// stream, one after the other. Each group fills only its own results.
	var (
		pos      positions
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, maxConcurrentGroups)
	)
	for _, stream := range order {
		g := groups[stream]
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			written, err := s.appendUsageGroup(ctx, stream, g.events, g.index, out.Results)
			mu.Lock()
			defer mu.Unlock()
			for _, r := range written {
				pos.add(r)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, firstErr
	}
	for _, it := range out.Results {
		switch it.Status {
		case UsageRecorded:
			out.Recorded++
		case UsageDuplicate:
			out.Duplicates++
		default:
			out.Rejected++
		}
	}
	return Result{Position: uint64(pos), Data: out}, nil
}

// maxConcurrentGroups bounds the appends one batch has in flight.
const maxConcurrentGroups = 64

// appendUsageGroup appends one stream's records and sets their statuses in
// results (indexes given by index); it returns the appends that wrote.
func (s *Service) appendUsageGroup(ctx context.Context, stream string, events []eventstore.Event, index []int,
	results []RecordUsageItemResult) ([]eventstore.AppendResult, error) {
	r, err := s.store.Append(ctx, stream, eventstore.Any, events...)
	switch {
	case err == nil:
		status := UsageRecorded
		if r.Duplicate {
			status = UsageDuplicate
		}
		for _, i := range index {
			results[i].Status = status
		}
		return []eventstore.AppendResult{r}, nil
	case !errors.Is(err, eventstore.ErrDuplicateID):
		return nil, err
	}
	// Some records were stored before: append one by one to tell which.
	var written []eventstore.AppendResult
	for k, ev := range events {
		i := index[k]
		r, err := s.store.Append(ctx, stream, eventstore.Any, ev)
		switch {
		case errors.Is(err, eventstore.ErrDuplicateID):
			results[i].Status = UsageDuplicate
		case err != nil:
			return written, err
		default:
			written = append(written, r)
			results[i].Status = UsageRecorded
			if r.Duplicate {
				results[i].Status = UsageDuplicate
			}
		}
	}
	return written, nil
}

// rejectItem fills a rejected record's outcome; errors that are not about the record itself
// (store down...) are returned to fail the batch.
func (s *Service) rejectItem(item *RecordUsageItemResult, err error) error {
	var ve *ValidationError
	var re *domain.RuleError
	switch {
	case errors.As(err, &ve):
		item.Status, item.Violations = UsageInvalid, ve.Fields
	case errors.As(err, &re):
		item.Status, item.Violations = UsageInvalid, []FieldViolation{{Field: re.Field, Rule: re.Rule, Message: re.Message}}
	case errors.Is(err, domain.ErrNotFound):
		item.Status = UsageUnknownKey
		item.Violations = []FieldViolation{{Field: "key_id", Rule: "known_key", Message: "is not an issued API key"}}
	case errors.Is(err, eventstore.ErrKeyShredded):
		item.Status = UsageErased
		item.Violations = []FieldViolation{{Field: "key_id", Rule: "account_erased", Message: "belongs to an erased account"}}
	default:
		return err
	}
	return nil
}
