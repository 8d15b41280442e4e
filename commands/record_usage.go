package commands

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
)

// MaxUsageClockSkew is how far in the future a reported occurred_at may lie.
const MaxUsageClockSkew = 5 * time.Minute

// RecordUsage records one gateway request. It is idempotent by (key_id, request_id): the event
// id is derived from them, so a repeat, at any age, is reported as Duplicate and changes nothing.
// The account is the key's owner. OccurredAt defaults to now and picks the day stream.
type RecordUsage struct {
	KeyID        uuid.UUID  `json:"key_id" validate:"required"`
	RequestID    string     `json:"request_id" validate:"required,max=128"`
	Provider     string     `json:"provider" validate:"required,max=64"`
	Model        string     `json:"model" validate:"required,max=128"`
	InputTokens  int64      `json:"input_tokens" validate:"gte=0,max=1000000000"`
	OutputTokens int64      `json:"output_tokens" validate:"gte=0,max=1000000000"`
	CostMicros   int64      `json:"cost_micros" validate:"gte=0,max=10000000000"`
	Status       string     `json:"status" validate:"required,usage_status"`
	LatencyMs    int64      `json:"latency_ms" validate:"gte=0,max=86400000"`
	OccurredAt   *time.Time `json:"occurred_at,omitempty"`
	ClientIP     string     `json:"client_ip,omitempty" validate:"omitempty,ip"`
	UserAgent    string     `json:"user_agent,omitempty" validate:"max=512"`
}

// RecordUsageResult is the Data of RecordUsage.
type RecordUsageResult struct {
	EventID   uuid.UUID `json:"event_id"`
	AccountID uuid.UUID `json:"account_id"`
	Duplicate bool      `json:"duplicate"`
}

// usageEvent validates one record and returns its stream and envelope.
func (s *Service) usageEvent(ctx context.Context, c *RecordUsage, now time.Time) (string, eventstore.Event, uuid.UUID, error) {
	at := now
	if c.OccurredAt != nil {
		if c.OccurredAt.After(now.Add(MaxUsageClockSkew)) {
			return "", eventstore.Event{}, uuid.Nil, ruleErr("occurred_at", "not_future", "must not be in the future")
		}
		at = c.OccurredAt.UTC().Truncate(time.Microsecond)
	}
	accountID, err := s.keyAccount(ctx, c.KeyID)
	if err != nil {
		return "", eventstore.Event{}, uuid.Nil, err
	}
	rec, err := usage.Record(usage.RecordParams{
		RequestID: c.RequestID, KeyID: c.KeyID, AccountID: accountID, Provider: c.Provider, Model: c.Model,
		InputTokens: c.InputTokens, OutputTokens: c.OutputTokens, CostMicros: c.CostMicros, Status: c.Status,
		LatencyMs: c.LatencyMs, ClientIP: c.ClientIP, UserAgent: c.UserAgent,
	}, at)
	if err != nil {
		return "", eventstore.Event{}, uuid.Nil, err
	}
	ev, err := s.encodeWithID(ctx, rec.EventID(), rec)
	if err != nil {
		return "", eventstore.Event{}, uuid.Nil, err
	}
	return usage.Stream(accountID, at), ev, accountID, nil
}

func (s *Service) recordUsage(ctx context.Context, c *RecordUsage) (Result, error) {
	stream, ev, accountID, err := s.usageEvent(ctx, c, s.clock())
	if err != nil {
		return Result{}, err
	}
	r, err := s.store.Append(ctx, stream, eventstore.Any, ev)
	out := RecordUsageResult{EventID: ev.ID, AccountID: accountID}
	switch {
	case errors.Is(err, eventstore.ErrDuplicateID):
		// Stored before in another day's stream (a late repeat without occurred_at).
		out.Duplicate = true
		return Result{Data: out}, nil
	case err != nil:
		return Result{}, err
	}
	out.Duplicate = r.Duplicate
	return Result{Position: r.LastPosition, Data: out}, nil
}
