package billing

import (
	"errors"

	"github.com/ledgerline/ledgerline/domain"
)

// ErrUnknownValue is returned by the parsers for values outside a fixed set.
var ErrUnknownValue = errors.New("unknown value")

// Processor is a payment processor; callers cannot invent processors.
type Processor struct{ s string }

// The fixed processors.
var (
	Stripe = Processor{"stripe"}
	PayPal = Processor{"paypal"}
)

func (p Processor) String() string { return p.s }

// ParseProcessor maps a string to a Processor.
func ParseProcessor(s string) (Processor, error) {
	return domain.ParseEnum(ErrUnknownValue, s, Stripe, PayPal)
}

// CreditReason is why credits were granted.
type CreditReason struct{ s string }

// The fixed credit reasons. NewUser is granted only when the email hash was claimed first.
var (
	NewUser   = CreditReason{"new_user"}
	Promotion = CreditReason{"promotion"}
	Goodwill  = CreditReason{"goodwill"}
)

func (r CreditReason) String() string { return r.s }

// ParseCreditReason maps a string to a CreditReason.
func ParseCreditReason(s string) (CreditReason, error) {
	return domain.ParseEnum(ErrUnknownValue, s, NewUser, Promotion, Goodwill)
}

// DisputeOutcome is how a dispute ended.
type DisputeOutcome struct{ s string }

// The fixed dispute outcomes.
var (
	Won  = DisputeOutcome{"won"}
	Lost = DisputeOutcome{"lost"}
)

func (o DisputeOutcome) String() string { return o.s }

// ParseDisputeOutcome maps a string to a DisputeOutcome.
func ParseDisputeOutcome(s string) (DisputeOutcome, error) {
	return domain.ParseEnum(ErrUnknownValue, s, Won, Lost)
}
