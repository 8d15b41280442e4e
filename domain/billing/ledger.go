package billing

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// Sentinels.
var (
	ErrDuplicatePayment     = domain.StateError("processor reference already paid")
	ErrDuplicateRefund      = domain.StateError("refund reference already recorded")
	ErrDuplicateDispute     = domain.StateError("dispute already recorded")
	ErrNewUserCreditsGiven  = domain.StateError("new-user credits already granted")
	ErrDisputeOpen          = domain.StateError("payment has an open dispute")
	ErrDisputeNotOpen       = domain.StateError("dispute is not open")
	ErrUnknownPayment       = fmt.Errorf("payment: %w", domain.ErrNotFound)
	ErrUnknownDispute       = fmt.Errorf("dispute: %w", domain.ErrNotFound)
	ErrRefundExceedsPayment = errors.New("refund exceeds the refundable amount")
)

// MaxAmountMicros is the largest amount of one credit grant, payment, refund or
// dispute: 1,000,000 currency units. It keeps every balance sum far from int64
// overflow (about 9.2×10^6 maximal movements of one account would be needed);
// the API's validation tags carry the same number.
const MaxAmountMicros int64 = 1_000_000_000_000

// checkAmount enforces 0 < amount ≤ MaxAmountMicros.
func checkAmount(amount int64) error {
	if amount <= 0 {
		return domain.NewRuleError("amount_micros", "positive", "must be greater than zero")
	}
	if amount > MaxAmountMicros {
		return domain.NewRuleError("amount_micros", "max", "must be 1000000000000 or less")
	}
	return nil
}

// Stream is the name of an account's ledger stream.
func Stream(accountID uuid.UUID) string { return "ledger-" + accountID.String() }

// PaymentRefStream is the stream that makes a processor reference unique across all accounts;
// commands append PaymentRefClaimed to it with expected version "no stream".
func PaymentRefStream(processor, ref string) string { return "paymentref-" + processor + "-" + ref }

type payment struct {
	amount, refunded, lost int64
	currency               string
	openDisputes           int
}

// refundable is what may still be refunded or disputed.
func (p *payment) refundable() int64 { return p.amount - p.refunded - p.lost }

type dispute struct {
	paymentKey string
	amount     int64
	open       bool
}

// Ledger is the per-account billing aggregate.
type Ledger struct {
	id           uuid.UUID
	version      uint64
	changes      []any
	newUserGiven bool
	payments     map[string]*payment // by processor/ref
	refunds      map[string]bool     // by processor/refund ref
	disputes     map[string]*dispute // by processor/dispute id
}

// Rehydrate rebuilds an account's ledger from its stream (empty history: an empty ledger).
func Rehydrate(accountID uuid.UUID, history []any) *Ledger {
	l := &Ledger{id: accountID, payments: map[string]*payment{}, refunds: map[string]bool{}, disputes: map[string]*dispute{}}
	for _, e := range history {
		l.Apply(e)
		l.version++
	}
	return l
}

func key(processor, ref string) string { return processor + "/" + ref }

// Apply changes state for one event; unknown events are ignored.
func (l *Ledger) Apply(e any) {
	switch e := domain.Deref(e).(type) {
	case CreditsGranted:
		if e.Reason == NewUser.String() {
			l.newUserGiven = true
		}
	case PaymentSucceeded:
		l.payments[key(e.Processor, e.ProcessorRef)] = &payment{amount: e.AmountMicros, currency: e.Currency}
	case Refunded:
		l.refunds[key(e.Processor, e.RefundRef)] = true
		if p := l.payments[key(e.Processor, e.PaymentRef)]; p != nil {
			p.refunded += e.AmountMicros
		}
	case DisputeOpened:
		pk := key(e.Processor, e.PaymentRef)
		l.disputes[key(e.Processor, e.DisputeID)] = &dispute{paymentKey: pk, amount: e.AmountMicros, open: true}
		if p := l.payments[pk]; p != nil {
			p.openDisputes++
		}
	case DisputeResolved:
		d := l.disputes[key(e.Processor, e.DisputeID)]
		if d == nil || !d.open {
			return
		}
		d.open = false
		if p := l.payments[d.paymentKey]; p != nil {
			p.openDisputes--
			if e.Outcome == Lost.String() {
				p.lost += d.amount
			}
		}
	}
}

func (l *Ledger) record(e any) {
	l.Apply(e)
	l.changes = append(l.changes, e)
}

// ID returns the account id.
func (l *Ledger) ID() uuid.UUID { return l.id }

// Version is the number of events applied from history.
func (l *Ledger) Version() uint64 { return l.version }

// Changes returns the events recorded since load, in order.
func (l *Ledger) Changes() []any { return l.changes }

// ClearChanges forgets recorded events once they are stored.
func (l *Ledger) ClearChanges() { l.changes = nil }

// NewUserCreditsGranted reports whether this account already had new-user credits.
func (l *Ledger) NewUserCreditsGranted() bool { return l.newUserGiven }

// Refundable is what may still be refunded on a payment (paid − refunded − lost in disputes).
func (l *Ledger) Refundable(processor Processor, ref string) (int64, bool) {
	p := l.payments[key(processor.String(), ref)]
	if p == nil {
		return 0, false
	}
	return p.refundable(), true
}

// GrantParams are the inputs of GrantCredits. EmailHash is required for NewUser credits: the
// caller grants them only after its claim of EmailHashStream(hash) succeeded.
type GrantParams struct {
	AmountMicros int64
	Reason       CreditReason
	EmailHash    string
}

// GrantCredits adds free credit. New-user credits are granted at most once per ledger.
func (l *Ledger) GrantCredits(p GrantParams, now time.Time) error {
	if err := checkAmount(p.AmountMicros); err != nil {
		return err
	}
	if p.Reason == (CreditReason{}) {
		return domain.NewRuleError("reason", "required", "is required")
	}
	hash := ""
	if p.Reason == NewUser {
		if !domain.IsSHA256Hex(p.EmailHash) {
			return domain.NewRuleError("email_hash", "sha256_hex", "new-user credits need the claimed email hash")
		}
		if l.newUserGiven {
			return ErrNewUserCreditsGiven
		}
		hash = p.EmailHash
	}
	l.record(CreditsGranted{AccountID: l.id, AmountMicros: p.AmountMicros, Reason: p.Reason.String(), EmailHash: hash, GrantedAt: now})
	return nil
}

// PaymentParams are the inputs of RecordPayment.
type PaymentParams struct {
	Processor    Processor
	Reference    string
	AmountMicros int64
	Currency     string // ISO 4217, e.g. "EUR"
}

// RecordPayment records a payment the processor confirmed; a reference is paid once per account.
func (l *Ledger) RecordPayment(p PaymentParams, now time.Time) error {
	if p.Processor == (Processor{}) {
		return domain.NewRuleError("processor", "required", "is required")
	}
	if err := checkRef("processor_ref", p.Reference); err != nil {
		return err
	}
	if err := checkAmount(p.AmountMicros); err != nil {
		return err
	}
	cur, err := checkCurrency(p.Currency)
	if err != nil {
		return err
	}
	if l.payments[key(p.Processor.String(), p.Reference)] != nil {
		return ErrDuplicatePayment
	}
	l.record(PaymentSucceeded{AccountID: l.id, Processor: p.Processor.String(), ProcessorRef: p.Reference,
		AmountMicros: p.AmountMicros, Currency: cur, SucceededAt: now})
	return nil
}

// RefundParams are the inputs of Refund.
type RefundParams struct {
	Processor    Processor
	PaymentRef   string
	RefundRef    string
	AmountMicros int64
}

// Refund returns part or all of a payment: at most paid − already refunded − lost in disputes,
// and not while a dispute on the payment is open.
func (l *Ledger) Refund(p RefundParams, now time.Time) error {
	if p.Processor == (Processor{}) {
		return domain.NewRuleError("processor", "required", "is required")
	}
	if err := checkRef("payment_ref", p.PaymentRef); err != nil {
		return err
	}
	if err := checkRef("refund_ref", p.RefundRef); err != nil {
		return err
	}
	if err := checkAmount(p.AmountMicros); err != nil {
		return err
	}
	pay := l.payments[key(p.Processor.String(), p.PaymentRef)]
	if pay == nil {
		return ErrUnknownPayment
	}
	if l.refunds[key(p.Processor.String(), p.RefundRef)] {
		return ErrDuplicateRefund
	}
	if pay.openDisputes > 0 {
		return ErrDisputeOpen
	}
	if p.AmountMicros > pay.refundable() {
		return &domain.RuleError{Field: "amount_micros", Rule: "max_refundable",
			Message: "exceeds the amount paid and not yet refunded", Err: ErrRefundExceedsPayment}
	}
	l.record(Refunded{AccountID: l.id, Processor: p.Processor.String(), PaymentRef: p.PaymentRef, RefundRef: p.RefundRef,
		AmountMicros: p.AmountMicros, Currency: pay.currency, RefundedAt: now})
	return nil
}

// DisputeParams are the inputs of OpenDispute.
type DisputeParams struct {
	Processor    Processor
	PaymentRef   string
	DisputeID    string
	AmountMicros int64
}

// OpenDispute records a dispute on a payment. Its event makes the legal-hold policy place a hold.
func (l *Ledger) OpenDispute(p DisputeParams, now time.Time) error {
	if p.Processor == (Processor{}) {
		return domain.NewRuleError("processor", "required", "is required")
	}
	if err := checkRef("payment_ref", p.PaymentRef); err != nil {
		return err
	}
	if err := checkRef("dispute_id", p.DisputeID); err != nil {
		return err
	}
	if err := checkAmount(p.AmountMicros); err != nil {
		return err
	}
	pay := l.payments[key(p.Processor.String(), p.PaymentRef)]
	if pay == nil {
		return ErrUnknownPayment
	}
	if l.disputes[key(p.Processor.String(), p.DisputeID)] != nil {
		return ErrDuplicateDispute
	}
	if p.AmountMicros > pay.amount {
		return domain.NewRuleError("amount_micros", "max_payment", "exceeds the payment amount")
	}
	l.record(DisputeOpened{AccountID: l.id, Processor: p.Processor.String(), PaymentRef: p.PaymentRef,
		DisputeID: p.DisputeID, AmountMicros: p.AmountMicros, Currency: pay.currency, OpenedAt: now})
	return nil
}

// ResolveDispute closes an open dispute as won or lost.
func (l *Ledger) ResolveDispute(processor Processor, disputeID string, outcome DisputeOutcome, now time.Time) error {
	if processor == (Processor{}) {
		return domain.NewRuleError("processor", "required", "is required")
	}
	if outcome == (DisputeOutcome{}) {
		return domain.NewRuleError("outcome", "required", "is required")
	}
	d := l.disputes[key(processor.String(), disputeID)]
	if d == nil {
		return ErrUnknownDispute
	}
	if !d.open {
		return ErrDisputeNotOpen
	}
	_, ref, _ := strings.Cut(d.paymentKey, "/")
	l.record(DisputeResolved{AccountID: l.id, Processor: processor.String(), PaymentRef: ref, DisputeID: disputeID,
		Outcome: outcome.String(), ResolvedAt: now})
	return nil
}

// ClaimPaymentRef returns the event that claims a processor reference for an account, to be
// appended to PaymentRefStream with expected version "no stream".
func ClaimPaymentRef(processor Processor, ref string, accountID uuid.UUID, now time.Time) (PaymentRefClaimed, error) {
	if processor == (Processor{}) {
		return PaymentRefClaimed{}, domain.NewRuleError("processor", "required", "is required")
	}
	if err := checkRef("processor_ref", ref); err != nil {
		return PaymentRefClaimed{}, err
	}
	if accountID == uuid.Nil {
		return PaymentRefClaimed{}, domain.NewRuleError("account_id", "required", "is required")
	}
	return PaymentRefClaimed{Processor: processor.String(), ProcessorRef: ref, AccountID: accountID, ClaimedAt: now}, nil
}

// checkRef accepts processor identifiers: 1–255 of [A-Za-z0-9_.:-].
func checkRef(field, s string) error {
	if s == "" {
		return domain.NewRuleError(field, "required", "is required")
	}
	if len(s) > 255 || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:-", r))
	}) >= 0 {
		return domain.NewRuleError(field, "reference_format", "must be 1-255 letters, digits or _ . : -")
	}
	return nil
}

func checkCurrency(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return "", domain.NewRuleError("currency", "required", "is required")
	}
	if len(s) != 3 || strings.IndexFunc(s, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return "", domain.NewRuleError("currency", "iso4217", "must be a three-letter ISO 4217 code")
	}
	return s, nil
}
