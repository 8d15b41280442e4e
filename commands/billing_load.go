package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/eventstore"
)

// BillingResult is the Data of the billing commands. Duplicate is set when RecordPayment saw
// the same payment recorded before for the same account (a processor webhook retried).
type BillingResult struct {
	AccountID uuid.UUID `json:"account_id"`
	Duplicate bool      `json:"duplicate,omitempty"`
}

func (s *Service) loadLedger(ctx context.Context, id uuid.UUID) (*billing.Ledger, error) {
	h, _, err := s.load(ctx, billing.Stream(id))
	if err != nil {
		return nil, err
	}
	return billing.Rehydrate(id, h), nil
}

// ledgerCommand loads a ledger, runs decide and stores what it recorded.
func (s *Service) ledgerCommand(ctx context.Context, id uuid.UUID, decide func(*billing.Ledger) error) (Result, error) {
	l, err := s.loadLedger(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if err := decide(l); err != nil {
		return Result{}, err
	}
	r, err := s.save(ctx, billing.Stream(id), eventstore.Exact(l.Version()), l.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{Position: r.LastPosition, Data: BillingResult{AccountID: id}}, nil
}

func parseProcessor(s string) (billing.Processor, error) {
	p, err := billing.ParseProcessor(s)
	if err != nil {
		return p, ruleErr("processor", "processor", enumRules["processor"].msg)
	}
	return p, nil
}
