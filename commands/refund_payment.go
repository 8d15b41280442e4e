package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/billing"
)

// RefundPayment returns part or all of a payment: never more than paid minus refunded minus
// lost in disputes, and not while a dispute on it is open.
type RefundPayment struct {
	AccountID    uuid.UUID `json:"account_id" validate:"required"`
	Processor    string    `json:"processor" validate:"required,processor"`
	PaymentRef   string    `json:"payment_ref" validate:"required,max=255"`
	RefundRef    string    `json:"refund_ref" validate:"required,max=255"`
	AmountMicros int64     `json:"amount_micros" validate:"gt=0,max=1000000000000"`
}

func (s *Service) refundPayment(ctx context.Context, c *RefundPayment) (Result, error) {
	now := s.clock()
	proc, err := parseProcessor(c.Processor)
	if err != nil {
		return Result{}, err
	}
	return s.ledgerCommand(ctx, c.AccountID, func(l *billing.Ledger) error {
		return l.Refund(billing.RefundParams{Processor: proc, PaymentRef: c.PaymentRef, RefundRef: c.RefundRef,
			AmountMicros: c.AmountMicros}, now)
	})
}
