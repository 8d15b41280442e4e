package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/billing"
)

// OpenDispute records a chargeback or dispute on a payment. The PlaceHoldOnDisputeOpened
// policy then places a legal hold on the account's payment records.
type OpenDispute struct {
	AccountID    uuid.UUID `json:"account_id" validate:"required"`
	Processor    string    `json:"processor" validate:"required,processor"`
	PaymentRef   string    `json:"payment_ref" validate:"required,max=255"`
	DisputeID    string    `json:"dispute_id" validate:"required,max=255"`
	AmountMicros int64     `json:"amount_micros" validate:"gt=0,max=1000000000000"`
}

func (s *Service) openDispute(ctx context.Context, c *OpenDispute) (Result, error) {
	now := s.clock()
	proc, err := parseProcessor(c.Processor)
	if err != nil {
		return Result{}, err
	}
	return s.ledgerCommand(ctx, c.AccountID, func(l *billing.Ledger) error {
		return l.OpenDispute(billing.DisputeParams{Processor: proc, PaymentRef: c.PaymentRef, DisputeID: c.DisputeID,
			AmountMicros: c.AmountMicros}, now)
	})
}
