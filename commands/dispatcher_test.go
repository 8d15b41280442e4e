package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
)

// flakyStore fails appends: first with conflicts, then (when down) as unavailable.
type flakyStore struct {
	eventstore.Store
	mu        sync.Mutex
	conflicts int
	down      bool
}

func (s *flakyStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return eventstore.AppendResult{}, eventstore.ErrUnavailable
	}
	if s.conflicts > 0 {
		s.conflicts--
		return eventstore.AppendResult{}, &eventstore.ConcurrencyError{Stream: stream, Expected: expected}
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

func TestDispatcherRetriesMetricsAndErrors(t *testing.T) {
	f := newFixture(t)
	acct := f.register(t, "disp@example.com", "EU").AccountID
	flaky := &flakyStore{Store: f.store}
	var metrics []commands.CommandMetric
	svc, err := commands.New(commands.Deps{Store: flaky, Codec: f.codec, Shredder: f.sealer, Pepper: pepper, Now: f.clock,
		MaxAttempts: 3, Metrics: func(m commands.CommandMetric) { metrics = append(metrics, m) }})
	if err != nil {
		t.Fatal(err)
	}
	cmd := &commands.SuspendAccount{AccountID: acct, Reason: "fraud"}

	flaky.conflicts = 2 // lost twice, third attempt wins
	if _, err := svc.Dispatch(actorCtx(), cmd); err != nil {
		t.Fatal(err)
	}
	if m := metrics[len(metrics)-1]; m.Command != "SuspendAccount" || m.Attempts != 3 || m.Class != commands.ClassOK {
		t.Fatalf("metric: %+v", m)
	}
	flaky.conflicts = 5 // more conflicts than attempts: 409
	_, err = svc.Dispatch(actorCtx(), &commands.ReinstateAccount{AccountID: acct})
	wantClass(t, err, commands.ClassConflict)
	if !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatal(err)
	}
	flaky.conflicts, flaky.down = 0, true
	_, err = svc.Dispatch(actorCtx(), &commands.ReinstateAccount{AccountID: acct})
	wantClass(t, err, commands.ClassUnavailable)

	_, err = svc.Dispatch(actorCtx(), struct{ X int }{})
	if !errors.Is(err, commands.ErrUnknownCommand) {
		t.Fatal(err)
	}
	if len(svc.Dispatcher().Commands()) < 27 {
		t.Fatalf("%d commands registered", len(svc.Dispatcher().Commands()))
	}
}
