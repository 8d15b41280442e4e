package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/eventstore"
)

// RecordPayment records a payment the processor confirmed. A processor reference is paid once,
// across all accounts: a retried webhook for the same account reports Duplicate, the same
// reference on another account is a conflict.
type RecordPayment struct {
	AccountID    uuid.UUID `json:"account_id" validate:"required"`
	Processor    string    `json:"processor" validate:"required,processor"`
	ProcessorRef string    `json:"processor_ref" validate:"required,max=255"`
	AmountMicros int64     `json:"amount_micros" validate:"gt=0,max=1000000000000"`
	Currency     string    `json:"currency" validate:"required,len=3,alpha"`
}

func (s *Service) recordPayment(ctx context.Context, c *RecordPayment) (Result, error) {
	now := s.clock()
	proc, err := parseProcessor(c.Processor)
	if err != nil {
		return Result{}, err
	}
	a, err := s.loadAccount(ctx, c.AccountID)
	if err != nil {
		return Result{}, err
	}
	switch {
	case a.Version() == 0:
		return Result{}, account.ErrNotRegistered
	case a.Erased():
		return Result{}, account.ErrErased
	}
	l, err := s.loadLedger(ctx, c.AccountID)
	if err != nil {
		return Result{}, err
	}
	if err := l.RecordPayment(billing.PaymentParams{Processor: proc, Reference: c.ProcessorRef,
		AmountMicros: c.AmountMicros, Currency: c.Currency}, now); err != nil {
		if errors.Is(err, billing.ErrDuplicatePayment) {
			return Result{Data: BillingResult{AccountID: c.AccountID, Duplicate: true}}, nil
		}
		return Result{}, err
	}

	// Claim the reference globally before the ledger records it.
	var pos positions
	claim, err := billing.ClaimPaymentRef(proc, c.ProcessorRef, c.AccountID, now)
	if err != nil {
		return Result{}, err
	}
	stream := billing.PaymentRefStream(proc.String(), c.ProcessorRef)
	r, err := s.save(ctx, stream, eventstore.NoStream, []any{claim})
	switch {
	case errors.Is(err, eventstore.ErrConcurrency):
		owner, err := s.paymentRefOwner(ctx, stream)
		if err != nil {
			return Result{}, err
		}
		if owner != c.AccountID {
			return Result{}, billing.ErrDuplicatePayment
		}
		// Ours: an earlier attempt claimed it and did not reach the ledger.
	case err != nil:
		return Result{}, err
	default:
		pos.add(r)
	}
	if r, err = s.save(ctx, billing.Stream(c.AccountID), eventstore.Exact(l.Version()), l.Changes()); err != nil {
		return Result{}, err
	}
	pos.add(r)
	return Result{Position: uint64(pos), Data: BillingResult{AccountID: c.AccountID}}, nil
}

func (s *Service) paymentRefOwner(ctx context.Context, stream string) (uuid.UUID, error) {
	h, _, err := s.load(ctx, stream)
	if err != nil {
		return uuid.Nil, err
	}
	for _, e := range h {
		if c, ok := e.(billing.PaymentRefClaimed); ok {
			return c.AccountID, nil
		}
	}
	return uuid.Nil, nil
}
