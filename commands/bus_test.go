package commands_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// counted wraps a policy and counts deliveries, so the test can wait for them.
type counted struct {
	commands.Policy
	mu    sync.Mutex
	calls map[uuid.UUID]int
}

func (c *counted) Handle(ctx context.Context, ev eventstore.Decoded) error {
	err := c.Policy.Handle(ctx, ev)
	c.mu.Lock()
	c.calls[ev.Event.ID]++
	c.mu.Unlock()
	return err
}

func (c *counted) count(id uuid.UUID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoliciesThroughTheBus(t *testing.T) {
	f := newFixture(t)
	place, _ := commands.NewPlaceHoldOnDisputeOpened(f.svc, 0)
	release, _ := commands.NewReleaseHoldOnDisputeResolved(f.svc)
	erase, _ := commands.NewEraseOnHoldReleased(f.svc)
	var invalidated sync.Map
	inval, _ := commands.NewInvalidateKeyCacheOnKeyRevoked(func(_ context.Context, id uuid.UUID) error {
		invalidated.Store(id, true)
		return nil
	})
	forget, _ := commands.NewForgetSubjectKeyOnKeyShredded(f.sealer.Forget)
	wrap := func(p commands.Policy) *counted { return &counted{Policy: p, calls: map[uuid.UUID]int{}} }
	cPlace, cRelease, cErase := wrap(place), wrap(release), wrap(erase)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pubsub := commands.NewGoChannel(quiet)
	bus, err := commands.NewBus(commands.BusConfig{
		Publisher: pubsub, Subscriber: pubsub, Service: f.svc, Checkpoints: commands.NewMemCheckpoints(),
		Policies: []commands.Policy{cPlace, cRelease, cErase, inval, forget}, RetryInterval: time.Millisecond, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bus: %v", err)
		}
	})
	<-bus.Running()

	acct := f.register(t, "Disputed.Person@gmail.com", "EU").AccountID
	key := issueKey(t, f, acct)
	f.do(t, usageCmd(key, "r1"))
	f.do(t, &commands.RecordPayment{AccountID: acct, Processor: "stripe", ProcessorRef: "pi_9", AmountMicros: 9_000_000, Currency: "EUR"})
	f.do(t, &commands.OpenDispute{AccountID: acct, Processor: "stripe", PaymentRef: "pi_9", DisputeID: "dp_9", AmountMicros: 9_000_000})

	// Opening the dispute places a hold, by itself.
	holdID := commands.DisputeHoldID(acct, "stripe", "dp_9")
	eventually(t, "the dispute hold", func() bool { return len(f.stream(t, privacy.HoldStream(holdID))) == 1 })

	// Erasure is deferred while the dispute is open.
	req := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "erasure", Channel: "web_form"}).Data.(commands.PrivacyRequestResult)
	out := f.do(t, &commands.ExecuteErasure{RequestID: req.RequestID}).Data.(commands.ExecuteErasureResult)
	if out.Status != commands.RequestDeferred {
		t.Fatalf("erasure during dispute: %+v", out)
	}

	// Resolving the dispute releases the hold, and the erasure completes by itself.
	f.do(t, &commands.ResolveDispute{AccountID: acct, Processor: "stripe", DisputeID: "dp_9", Outcome: "won"})
	eventually(t, "the erasure", func() bool {
		evs := f.stream(t, privacy.RequestStream(req.RequestID))
		_, ok := evs[len(evs)-1].Payload.(privacy.Completed)
		return ok
	})
	subjectEventsErased(t, f, acct)

	// Revoking a key reaches the cache callback.
	key2 := issueKey(t, f, f.register(t, "keyholder@example.com", "EU").AccountID)
	f.do(t, &commands.RevokeAPIKey{KeyID: key2, Reason: "user_request"})
	eventually(t, "key cache invalidation", func() bool { _, ok := invalidated.Load(key2); return ok })

	// Every event delivered a second time changes nothing.
	before := len(f.events(t))
	var redelivered []eventstore.Event
	for _, ev := range f.events(t) {
		switch ev.Type {
		case billing.TypeDisputeOpened, billing.TypeDisputeResolved, privacy.TypeHoldReleased:
			redelivered = append(redelivered, ev)
			if err := bus.Relay().Publish(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(redelivered) != 3 {
		t.Fatalf("redelivered %d events", len(redelivered))
	}
	eventually(t, "the second deliveries", func() bool {
		return cPlace.count(redelivered[0].ID) == 2 && cRelease.count(redelivered[1].ID) == 2 && cErase.count(redelivered[2].ID) == 2
	})
	if after := len(f.events(t)); after != before {
		t.Fatalf("second delivery stored %d events", after-before)
	}

	// Asynchronous commands run through the same dispatcher, with the actor.
	other := f.register(t, "async@example.com", "EU").AccountID
	actx := commands.WithActor(context.Background(), commands.Actor{ID: "user-7", Role: "customer", CorrelationID: "corr-async"})
	if err := bus.Send(actx, &commands.GiveConsent{AccountID: other, Purpose: "analytics", Method: "cookie_banner", PolicyVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the async command", func() bool { return len(f.stream(t, consent.Stream(other))) == 2 })
	g := f.stream(t, consent.Stream(other))[1]
	if g.Payload.(consent.Given).Actor != "user-7" || g.Event.Meta.CorrelationID != "corr-async" {
		t.Fatalf("async command lost its actor: %+v / %+v", g.Payload, g.Event.Meta)
	}
}
