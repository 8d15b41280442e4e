package billing

import (
	"time"

	"github.com/google/uuid"
)

// Stable event type names.
const (
	TypeCreditsGranted    = "billing.credits_granted"
	TypePaymentSucceeded  = "billing.payment_succeeded"
	TypeRefunded          = "billing.refunded"
	TypeDisputeOpened     = "billing.dispute_opened"
	TypeDisputeResolved   = "billing.dispute_resolved"
	TypePaymentRefClaimed = "billing.payment_ref_claimed"
)

// Events returns one zero value of every event type of this package, for the registry.
func Events() []any {
	return []any{CreditsGranted{}, PaymentSucceeded{}, Refunded{}, DisputeOpened{}, DisputeResolved{}, PaymentRefClaimed{}}
}

// CreditsGranted: free credit added to the account.
type CreditsGranted struct {
	AccountID    uuid.UUID `json:"account_id"`
	AmountMicros int64     `json:"amount_micros"`
	Reason       string    `json:"reason"`
	EmailHash    string    `json:"email_hash,omitempty"` // for new_user: the hash that was first claimed
	GrantedAt    time.Time `json:"granted_at"`
}

// PaymentSucceeded: the processor confirmed a payment.
type PaymentSucceeded struct {
	AccountID    uuid.UUID `json:"account_id"`
	Processor    string    `json:"processor"`
	ProcessorRef string    `json:"processor_ref"`
	AmountMicros int64     `json:"amount_micros"`
	Currency     string    `json:"currency"`
	SucceededAt  time.Time `json:"succeeded_at"`
}

// Refunded: part or all of a payment was returned.
type Refunded struct {
	AccountID    uuid.UUID `json:"account_id"`
	Processor    string    `json:"processor"`
	PaymentRef   string    `json:"payment_ref"`
	RefundRef    string    `json:"refund_ref"`
	AmountMicros int64     `json:"amount_micros"`
	Currency     string    `json:"currency"`
	RefundedAt   time.Time `json:"refunded_at"`
}

// DisputeOpened: a chargeback or dispute was opened on a payment. A policy places a legal hold
// on the account's payment records when it sees this event.
type DisputeOpened struct {
	AccountID    uuid.UUID `json:"account_id"`
	Processor    string    `json:"processor"`
	PaymentRef   string    `json:"payment_ref"`
	DisputeID    string    `json:"dispute_id"`
	AmountMicros int64     `json:"amount_micros"`
	Currency     string    `json:"currency"`
	OpenedAt     time.Time `json:"opened_at"`
}

// DisputeResolved: the dispute closed; "lost" means the disputed amount went back to the payer.
type DisputeResolved struct {
	AccountID  uuid.UUID `json:"account_id"`
	Processor  string    `json:"processor"`
	PaymentRef string    `json:"payment_ref"`
	DisputeID  string    `json:"dispute_id"`
	Outcome    string    `json:"outcome"`
	ResolvedAt time.Time `json:"resolved_at"`
}

// PaymentRefClaimed is the only event of PaymentRefStream(processor, ref): it makes a processor
// reference globally unique across accounts.
type PaymentRefClaimed struct {
	Processor    string    `json:"processor"`
	ProcessorRef string    `json:"processor_ref"`
	AccountID    uuid.UUID `json:"account_id"`
	ClaimedAt    time.Time `json:"claimed_at"`
}

func (CreditsGranted) EventType() string    { return TypeCreditsGranted }
func (PaymentSucceeded) EventType() string  { return TypePaymentSucceeded }
func (Refunded) EventType() string          { return TypeRefunded }
func (DisputeOpened) EventType() string     { return TypeDisputeOpened }
func (DisputeResolved) EventType() string   { return TypeDisputeResolved }
func (PaymentRefClaimed) EventType() string { return TypePaymentRefClaimed }
