package commands_test

import (
	"testing"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
)

func TestPayments(t *testing.T) {
	f := newFixture(t)
	a := f.register(t, "pay-a@example.com", "EU").AccountID
	b := f.register(t, "pay-b@example.com", "EU").AccountID
	record := func(p commands.RecordPayment) (commands.Result, error) { return f.try(&p) }
	base := commands.RecordPayment{AccountID: a, Processor: "stripe", ProcessorRef: "pi_1", AmountMicros: 10_000_000, Currency: "eur"}

	if _, err := record(base); err != nil {
		t.Fatal(err)
	}
	res, err := record(base)
	if err != nil || !res.Data.(commands.BillingResult).Duplicate {
		t.Fatalf("retried webhook: %v %+v", err, res.Data)
	}
	other := base
	other.AccountID = b
	_, err = record(other)
	wantClass(t, err, commands.ClassConflict) // one payment per processor reference, globally
	if n := f.countType(t, billing.TypePaymentSucceeded); n != 1 {
		t.Fatalf("%d payments", n)
	}
	bad := base
	bad.Processor, bad.ProcessorRef = "cash", "x"
	_, err = record(bad)
	wantViolation(t, err, "processor", "processor")
	bad = base
	bad.AmountMicros = 0
	_, err = record(bad)
	wantViolation(t, err, "amount_micros", "gt")

	refund := commands.RefundPayment{AccountID: a, Processor: "stripe", PaymentRef: "pi_1", RefundRef: "re_1", AmountMicros: 4_000_000}
	f.do(t, &refund)
	_, err = f.try(&refund)
	wantClass(t, err, commands.ClassConflict)
	over := refund
	over.RefundRef, over.AmountMicros = "re_2", 7_000_000
	_, err = f.try(&over)
	wantViolation(t, err, "amount_micros", "max_refundable")

	f.do(t, &commands.OpenDispute{AccountID: a, Processor: "stripe", PaymentRef: "pi_1", DisputeID: "dp_1", AmountMicros: 6_000_000})
	during := refund
	during.RefundRef, during.AmountMicros = "re_3", 1
	_, err = f.try(&during)
	wantClass(t, err, commands.ClassConflict) // no refund while disputed
	f.do(t, &commands.ResolveDispute{AccountID: a, Processor: "stripe", DisputeID: "dp_1", Outcome: "lost"})
	_, err = f.try(&commands.ResolveDispute{AccountID: a, Processor: "stripe", DisputeID: "dp_1", Outcome: "lost"})
	wantClass(t, err, commands.ClassConflict)
	_, err = f.try(&commands.ResolveDispute{AccountID: a, Processor: "stripe", DisputeID: "nope", Outcome: "won"})
	wantClass(t, err, commands.ClassNotFound)
}

func TestConsent(t *testing.T) {
	f := newFixture(t)
	a := f.register(t, "consent@example.com", "EU").AccountID
	res := f.do(t, &commands.GiveConsent{AccountID: a, Purpose: "marketing_email", Method: "settings_page", PolicyVersion: "2026-01"})
	if !res.Data.(commands.ConsentResult).Changed {
		t.Fatal("grant recorded nothing")
	}
	if f.do(t, &commands.GiveConsent{AccountID: a, Purpose: "marketing_email", Method: "settings_page", PolicyVersion: "2026-01"}).Data.(commands.ConsentResult).Changed {
		t.Fatal("repeated grant recorded again")
	}
	f.do(t, &commands.WithdrawConsent{AccountID: a, Purpose: "marketing_email", Method: "settings_page", PolicyVersion: "2026-01"})
	evs := f.stream(t, consent.Stream(a))
	w := evs[len(evs)-1].Payload.(consent.Withdrawn)
	if w.Purpose != "marketing_email" || w.Actor != "staff-1" || w.Method != "settings_page" || w.PolicyVersion != "2026-01" || w.At.IsZero() {
		t.Fatalf("receipt: %+v", w)
	}
	_, err := f.try(&commands.WithdrawConsent{AccountID: a, Purpose: "essential", Method: "api", PolicyVersion: "2026-01"})
	wantViolation(t, err, "purpose", "essential_required")
	_, err = f.try(&commands.GiveConsent{AccountID: a, Purpose: "telepathy", Method: "api", PolicyVersion: "v"})
	wantViolation(t, err, "purpose", "purpose")
	_, err = f.svc.Dispatch(t.Context(), &commands.GiveConsent{AccountID: a, Purpose: "analytics", Method: "api", PolicyVersion: "v"})
	wantViolation(t, err, "actor", "required") // a receipt names who acted

	_, err = f.try(&commands.AcceptPolicy{AccountID: a, PolicyVersion: "2026-02", Method: "settings_page"})
	wantViolation(t, err, "policy_version", "published")
	hash := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	f.do(t, &commands.PublishPolicy{Version: "2026-02", Material: true, ContentHash: hash})
	_, err = f.try(&commands.PublishPolicy{Version: "2026-02", ContentHash: hash})
	wantClass(t, err, commands.ClassConflict)
	_, err = f.try(&commands.PublishPolicy{Version: "2026-03", ContentHash: "xyz"})
	wantViolation(t, err, "content_hash", "len")
	f.do(t, &commands.AcceptPolicy{AccountID: a, PolicyVersion: "2026-02", Method: "settings_page"})
}
