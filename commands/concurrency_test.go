package commands_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/billing"
)

// TestConcurrentCommandsKeepInvariants races 100 goroutines of conflicting commands on one
// account and checks the log afterwards: one payment per processor reference, refunds never
// above the payment, one new-user credit per email, unique keys, and exactly one event for
// every success the callers were told about.
func TestConcurrentCommandsKeepInvariants(t *testing.T) {
	f := newFixture(t, func(d *commands.Deps) { d.MaxAttempts = 200 })
	acct := f.register(t, "race@example.com", "EU").AccountID
	f.do(t, &commands.RecordPayment{AccountID: acct, Processor: "stripe", ProcessorRef: "pi_base", AmountMicros: 50_000_000, Currency: "EUR"})
	other := f.register(t, "race-other@example.com", "EU").AccountID

	const workers = 100
	var (
		wg                               sync.WaitGroup
		mu                               sync.Mutex
		samePaid, distinctPaid, refunded int
		refundedMicros                   int64
		keys                             []commands.IssueAPIKeyResult
		credited                         int
		errs                             []error
	)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var (
				res commands.Result
				err error
			)
			switch i % 5 {
			case 0: // same processor reference, alternating between two accounts
				who := acct
				if i%10 == 0 {
					who = other
				}
				res, err = f.try(&commands.RecordPayment{AccountID: who, Processor: "stripe", ProcessorRef: "pi_same", AmountMicros: 1_000_000, Currency: "EUR"})
				if err == nil && !res.Data.(commands.BillingResult).Duplicate {
					mu.Lock()
					samePaid++
					mu.Unlock()
				}
				if commands.Classify(err) == commands.ClassConflict {
					err = nil // the reference belongs to the other account
				}
			case 1: // distinct references
				res, err = f.try(&commands.RecordPayment{AccountID: acct, Processor: "paypal", ProcessorRef: fmt.Sprintf("pp_%d", i), AmountMicros: 2_000_000, Currency: "EUR"})
				if err == nil {
					mu.Lock()
					distinctPaid++
					mu.Unlock()
				}
			case 2: // refunds competing for 50 EUR: 20 × 3 EUR would exceed it
				res, err = f.try(&commands.RefundPayment{AccountID: acct, Processor: "stripe", PaymentRef: "pi_base", RefundRef: fmt.Sprintf("re_%d", i), AmountMicros: 3_000_000})
				switch {
				case err == nil:
					mu.Lock()
					refunded++
					refundedMicros += 3_000_000
					mu.Unlock()
				case commands.Classify(err) == commands.ClassValidation:
					err = nil // over the refundable amount
				}
			case 3:
				res, err = f.try(&commands.IssueAPIKey{AccountID: acct, Name: "k", Scopes: []string{"inference"}})
				if err == nil {
					mu.Lock()
					keys = append(keys, res.Data.(commands.IssueAPIKeyResult))
					mu.Unlock()
				}
			case 4: // the same person registering 20 times with variants of one address
				res, err = f.try(&commands.RegisterAccount{Email: fmt.Sprintf("Twin+%d@example.com", i), AgeConfirmed: true, Region: "DE", Jurisdiction: "EU", PolicyVersion: "v1"})
				if err == nil && res.Data.(commands.RegisterAccountResult).CreditsGranted {
					mu.Lock()
					credited++
					mu.Unlock()
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}

	// Recompute everything from the log.
	var payments, refunds int
	var balance, refundTotal int64
	refs := map[string]uuid.UUID{}
	secretHashes := map[string]bool{}
	issued := 0
	grants := 0
	for _, ev := range f.events(t) {
		d, err := f.codec.Decode(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		switch e := d.Payload.(type) {
		case billing.PaymentSucceeded:
			key := e.Processor + "/" + e.ProcessorRef
			if _, dup := refs[key]; dup {
				t.Fatalf("processor reference %s paid twice", key)
			}
			refs[key] = e.AccountID
			payments++
			if e.AccountID == acct {
				balance += e.AmountMicros
			}
		case billing.Refunded:
			refunds++
			refundTotal += e.AmountMicros
			balance -= e.AmountMicros
		case billing.CreditsGranted:
			if e.Reason == billing.NewUser.String() && e.EmailHash != "" {
				grants++
			}
		case apikey.Issued:
			if secretHashes[e.SecretHash] {
				t.Fatal("two keys share a secret")
			}
			secretHashes[e.SecretHash] = true
			issued++
		}
	}
	if samePaid != 1 {
		t.Fatalf("pi_same reported paid %d times", samePaid)
	}
	if payments != 1+1+distinctPaid || distinctPaid != workers/5 {
		t.Fatalf("payments in log %d, reported %d distinct + 2", payments, distinctPaid)
	}
	if refunds != refunded || refundTotal != refundedMicros || refundTotal > 50_000_000 || refunded != 16 {
		t.Fatalf("refunds: log %d (%d), reported %d (%d)", refunds, refundTotal, refunded, refundedMicros)
	}
	if issued != len(keys) || issued != workers/5 {
		t.Fatalf("keys: log %d, reported %d", issued, len(keys))
	}
	ids := map[uuid.UUID]bool{}
	for _, k := range keys {
		if ids[k.KeyID] {
			t.Fatal("duplicate key id")
		}
		ids[k.KeyID] = true
	}
	// 3 first registrations (race, race-other, twin) got credits; the 19 other twins did not.
	if credited != 1 || grants != 3 {
		t.Fatalf("twin credits reported %d, new-user grants in log %d", credited, grants)
	}
	want := int64(50_000_000) + int64(distinctPaid)*2_000_000 - refundTotal
	if refs["stripe/pi_same"] == acct {
		want += 1_000_000
	}
	if balance != want {
		t.Fatalf("balance %d, want %d", balance, want)
	}
}
