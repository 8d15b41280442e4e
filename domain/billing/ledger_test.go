package billing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/domaintest"
)

var (
	now  = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	acct = uuid.MustParse("0195f0a0-0000-7000-8000-000000000001")
	hash = strings.Repeat("c", 64)
)

func TestEvents(t *testing.T) { domaintest.CheckEvents(t, billing.Events()) }

func TestLedger(t *testing.T) {
	paid := billing.PaymentSucceeded{AccountID: acct, Processor: "stripe", ProcessorRef: "pi_1", AmountMicros: 10_000_000, Currency: "EUR", SucceededAt: now}
	refund := func(ref string, amt int64) billing.Refunded {
		return billing.Refunded{AccountID: acct, Processor: "stripe", PaymentRef: "pi_1", RefundRef: ref, AmountMicros: amt, Currency: "EUR", RefundedAt: now}
	}
	opened := billing.DisputeOpened{AccountID: acct, Processor: "stripe", PaymentRef: "pi_1", DisputeID: "dp_1", AmountMicros: 4_000_000, Currency: "EUR", OpenedAt: now}
	resolved := func(o string) billing.DisputeResolved {
		return billing.DisputeResolved{AccountID: acct, Processor: "stripe", PaymentRef: "pi_1", DisputeID: "dp_1", Outcome: o, ResolvedAt: now}
	}
	newUser := billing.CreditsGranted{AccountID: acct, AmountMicros: 5_000_000, Reason: "new_user", EmailHash: hash, GrantedAt: now}
	pay := func(p billing.PaymentParams) func(*billing.Ledger) error {
		return func(l *billing.Ledger) error { return l.RecordPayment(p, now) }
	}
	stripePay := billing.PaymentParams{Processor: billing.Stripe, Reference: "pi_1", AmountMicros: 10_000_000, Currency: "eur"}
	with := func(f func(*billing.PaymentParams)) billing.PaymentParams { p := stripePay; f(&p); return p }
	ref := func(refundRef string, amt int64) func(*billing.Ledger) error {
		return func(l *billing.Ledger) error {
			return l.Refund(billing.RefundParams{Processor: billing.Stripe, PaymentRef: "pi_1", RefundRef: refundRef, AmountMicros: amt}, now)
		}
	}
	dispute := func(id string, amt int64) func(*billing.Ledger) error {
		return func(l *billing.Ledger) error {
			return l.OpenDispute(billing.DisputeParams{Processor: billing.Stripe, PaymentRef: "pi_1", DisputeID: id, AmountMicros: amt}, now)
		}
	}
	resolve := func(o billing.DisputeOutcome) func(*billing.Ledger) error {
		return func(l *billing.Ledger) error { return l.ResolveDispute(billing.Stripe, "dp_1", o, now) }
	}
	grant := func(p billing.GrantParams) func(*billing.Ledger) error {
		return func(l *billing.Ledger) error { return l.GrantCredits(p, now) }
	}
	type C = domaintest.Case[*billing.Ledger]
	load := func(h []any) *billing.Ledger { return billing.Rehydrate(acct, h) }
	domaintest.Run(t, load, []C{
		{Name: "GrantNewUserOK", When: grant(billing.GrantParams{AmountMicros: 5_000_000, Reason: billing.NewUser, EmailHash: hash}),
			Then: []any{newUser}},
		{Name: "ErrNewUserTwice", Given: []any{newUser},
			When: grant(billing.GrantParams{AmountMicros: 1, Reason: billing.NewUser, EmailHash: hash}), Err: billing.ErrNewUserCreditsGiven},
		{Name: "ErrNewUserWithoutHash", When: grant(billing.GrantParams{AmountMicros: 1, Reason: billing.NewUser}),
			Err: &domain.RuleError{Field: "email_hash"}},
		{Name: "GrantPromotionAfterNewUserOK", Given: []any{newUser},
			When: grant(billing.GrantParams{AmountMicros: 7, Reason: billing.Promotion, EmailHash: hash}),
			Then: []any{billing.CreditsGranted{AccountID: acct, AmountMicros: 7, Reason: "promotion", GrantedAt: now}}},
		{Name: "ErrGrantZero", When: grant(billing.GrantParams{Reason: billing.Goodwill}),
			Err: &domain.RuleError{Field: "amount_micros", Rule: "positive"}},
		{Name: "ErrGrantNoReason", When: grant(billing.GrantParams{AmountMicros: 1}),
			Err: &domain.RuleError{Field: "reason", Rule: "required"}},

		{Name: "PaymentOK", When: pay(stripePay), Then: []any{paid}},
		{Name: "PaymentSameRefOtherProcessorOK", Given: []any{paid}, When: pay(with(func(p *billing.PaymentParams) { p.Processor = billing.PayPal })),
			Then: []any{billing.PaymentSucceeded{AccountID: acct, Processor: "paypal", ProcessorRef: "pi_1", AmountMicros: 10_000_000, Currency: "EUR", SucceededAt: now}}},
		{Name: "ErrDuplicatePayment", Given: []any{paid}, When: pay(stripePay), Err: billing.ErrDuplicatePayment},
		{Name: "ErrPaymentZero", When: pay(with(func(p *billing.PaymentParams) { p.AmountMicros = 0 })),
			Err: &domain.RuleError{Field: "amount_micros", Rule: "positive"}},
		{Name: "ErrPaymentNegative", When: pay(with(func(p *billing.PaymentParams) { p.AmountMicros = -5 })),
			Err: &domain.RuleError{Field: "amount_micros"}},
		{Name: "ErrPaymentNoProcessor", When: pay(with(func(p *billing.PaymentParams) { p.Processor = billing.Processor{} })),
			Err: &domain.RuleError{Field: "processor", Rule: "required"}},
		{Name: "ErrPaymentRefRequired", When: pay(with(func(p *billing.PaymentParams) { p.Reference = "" })),
			Err: &domain.RuleError{Field: "processor_ref", Rule: "required"}},
		{Name: "ErrPaymentRefFormat", When: pay(with(func(p *billing.PaymentParams) { p.Reference = "pi 1/x" })),
			Err: &domain.RuleError{Field: "processor_ref", Rule: "reference_format"}},
		{Name: "ErrCurrencyFormat", When: pay(with(func(p *billing.PaymentParams) { p.Currency = "EURO" })),
			Err: &domain.RuleError{Field: "currency", Rule: "iso4217"}},
		{Name: "ErrCurrencyRequired", When: pay(with(func(p *billing.PaymentParams) { p.Currency = "" })),
			Err: &domain.RuleError{Field: "currency", Rule: "required"}},

		{Name: "RefundPartOK", Given: []any{paid}, When: ref("re_1", 3_000_000), Then: []any{refund("re_1", 3_000_000)}},
		{Name: "RefundRestOK", Given: []any{paid, refund("re_1", 3_000_000)}, When: ref("re_2", 7_000_000), Then: []any{refund("re_2", 7_000_000)}},
		{Name: "ErrRefundMoreThanPaid", Given: []any{paid}, When: ref("re_1", 10_000_001), Err: billing.ErrRefundExceedsPayment},
		{Name: "ErrRefundMoreThanLeft", Given: []any{paid, refund("re_1", 3_000_000)}, When: ref("re_2", 7_000_001),
			Err: &domain.RuleError{Field: "amount_micros", Rule: "max_refundable"}},
		{Name: "ErrRefundDuplicateRef", Given: []any{paid, refund("re_1", 1)}, When: ref("re_1", 1), Err: billing.ErrDuplicateRefund},
		{Name: "ErrRefundUnknownPayment", When: ref("re_1", 1), Err: domain.ErrNotFound},
		{Name: "ErrRefundZero", Given: []any{paid}, When: ref("re_1", 0), Err: &domain.RuleError{Field: "amount_micros", Rule: "positive"}},
		{Name: "ErrRefundWhileDisputed", Given: []any{paid, opened}, When: ref("re_1", 1), Err: billing.ErrDisputeOpen},
		{Name: "ErrRefundAfterLostDispute", Given: []any{paid, opened, resolved("lost")}, When: ref("re_1", 6_000_001), Err: billing.ErrRefundExceedsPayment},
		{Name: "RefundAfterWonDisputeOK", Given: []any{paid, opened, resolved("won")}, When: ref("re_1", 10_000_000), Then: []any{refund("re_1", 10_000_000)}},

		{Name: "OpenDisputeOK", Given: []any{paid}, When: dispute("dp_1", 4_000_000), Then: []any{opened}},
		{Name: "ErrDisputeDuplicate", Given: []any{paid, opened}, When: dispute("dp_1", 1), Err: billing.ErrDuplicateDispute},
		{Name: "ErrDisputeUnknownPayment", When: dispute("dp_1", 1), Err: billing.ErrUnknownPayment},
		{Name: "ErrDisputeTooLarge", Given: []any{paid}, When: dispute("dp_1", 10_000_001), Err: &domain.RuleError{Field: "amount_micros", Rule: "max_payment"}},
		{Name: "ResolveWonOK", Given: []any{paid, opened}, When: resolve(billing.Won), Then: []any{resolved("won")}},
		{Name: "ResolveLostOK", Given: []any{paid, opened}, When: resolve(billing.Lost), Then: []any{resolved("lost")}},
		{Name: "ErrResolveTwice", Given: []any{paid, opened, resolved("won")}, When: resolve(billing.Lost), Err: billing.ErrDisputeNotOpen},
		{Name: "ErrResolveUnknown", Given: []any{paid}, When: resolve(billing.Won), Err: billing.ErrUnknownDispute},
		{Name: "ErrResolveNoOutcome", Given: []any{paid, opened}, When: resolve(billing.DisputeOutcome{}), Err: &domain.RuleError{Field: "outcome"}},
	})
}

func TestRefundable(t *testing.T) {
	l := billing.Rehydrate(acct, []any{
		billing.PaymentSucceeded{Processor: "paypal", ProcessorRef: "P1", AmountMicros: 100, Currency: "USD"},
		&billing.Refunded{Processor: "paypal", PaymentRef: "P1", RefundRef: "R1", AmountMicros: 30},
	})
	if n, ok := l.Refundable(billing.PayPal, "P1"); !ok || n != 70 || l.Version() != 2 {
		t.Fatalf("refundable = %d, %v", n, ok)
	}
	if _, ok := l.Refundable(billing.Stripe, "P1"); ok {
		t.Fatal("processor is part of the reference")
	}
}

func TestPaymentRefClaim(t *testing.T) {
	if got := billing.PaymentRefStream("stripe", "pi_1"); got != "paymentref-stripe-pi_1" {
		t.Fatal(got)
	}
	e, err := billing.ClaimPaymentRef(billing.Stripe, "pi_1", acct, now)
	if err != nil || e != (billing.PaymentRefClaimed{Processor: "stripe", ProcessorRef: "pi_1", AccountID: acct, ClaimedAt: now}) {
		t.Fatal(e, err)
	}
	if _, err := billing.ClaimPaymentRef(billing.Stripe, "", acct, now); !errors.Is(err, domain.ErrRule) {
		t.Fatal(err)
	}
	if _, err := billing.ClaimPaymentRef(billing.Stripe, "x", uuid.Nil, now); !errors.Is(err, &domain.RuleError{Field: "account_id"}) {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	if p, err := billing.ParseProcessor("paypal"); err != nil || p != billing.PayPal {
		t.Fatal(err)
	}
	if _, err := billing.ParseProcessor("cash"); !errors.Is(err, billing.ErrUnknownValue) {
		t.Fatal(err)
	}
	if r, err := billing.ParseCreditReason("new_user"); err != nil || r != billing.NewUser {
		t.Fatal(err)
	}
	if o, err := billing.ParseDisputeOutcome("lost"); err != nil || o != billing.Lost {
		t.Fatal(err)
	}
}

// Every amount is bounded above (billing.MaxAmountMicros) so balances stay
// far from int64 overflow; the bound itself is accepted.
func TestAmountUpperBound(t *testing.T) {
	paid := func() *billing.Ledger {
		return billing.Rehydrate(acct, []any{billing.PaymentSucceeded{Processor: "stripe", ProcessorRef: "P1",
			AmountMicros: billing.MaxAmountMicros, Currency: "USD"}})
	}
	ops := map[string]func(l *billing.Ledger, amount int64) error{
		"credit": func(l *billing.Ledger, a int64) error {
			return l.GrantCredits(billing.GrantParams{AmountMicros: a, Reason: billing.NewUser, EmailHash: hash}, now)
		},
		"payment": func(l *billing.Ledger, a int64) error {
			return l.RecordPayment(billing.PaymentParams{Processor: billing.Stripe, Reference: "P2", AmountMicros: a, Currency: "USD"}, now)
		},
		"refund": func(l *billing.Ledger, a int64) error {
			return l.Refund(billing.RefundParams{Processor: billing.Stripe, PaymentRef: "P1", RefundRef: "R1", AmountMicros: a}, now)
		},
		"dispute": func(l *billing.Ledger, a int64) error {
			return l.OpenDispute(billing.DisputeParams{Processor: billing.Stripe, PaymentRef: "P1", DisputeID: "D1", AmountMicros: a}, now)
		},
	}
	for name, op := range ops {
		if err := op(paid(), billing.MaxAmountMicros); err != nil {
			t.Errorf("%s at the bound: %v", name, err)
		}
		for _, v := range []int64{billing.MaxAmountMicros + 1, 1<<63 - 1} {
			err := op(paid(), v)
			var re *domain.RuleError
			if !errors.As(err, &re) || re.Field != "amount_micros" || re.Rule != "max" {
				t.Errorf("%s of %d: err = %v, want a max rule on amount_micros", name, v, err)
			}
		}
	}
}
