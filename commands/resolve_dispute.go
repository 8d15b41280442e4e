package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/billing"
)

// ResolveDispute closes an open dispute as won or lost. The ReleaseHoldOnDisputeResolved
// policy then releases the dispute's legal hold.
type ResolveDispute struct {
	AccountID uuid.UUID `json:"account_id" validate:"required"`
	Processor string    `json:"processor" validate:"required,processor"`
	DisputeID string    `json:"dispute_id" validate:"required,max=255"`
	Outcome   string    `json:"outcome" validate:"required,dispute_outcome"`
}

func (s *Service) resolveDispute(ctx context.Context, c *ResolveDispute) (Result, error) {
	now := s.clock()
	proc, err := parseProcessor(c.Processor)
	if err != nil {
		return Result{}, err
	}
	outcome, err := billing.ParseDisputeOutcome(c.Outcome)
	if err != nil {
		return Result{}, ruleErr("outcome", "dispute_outcome", enumRules["dispute_outcome"].msg)
	}
	return s.ledgerCommand(ctx, c.AccountID, func(l *billing.Ledger) error {
		return l.ResolveDispute(proc, c.DisputeID, outcome, now)
	})
}
