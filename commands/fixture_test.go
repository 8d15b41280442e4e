package commands_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
)

var pepper = []byte("test-pepper-0123456789abcdef")

// fixture is a Service over the in-memory store and vault, with a settable clock and a
// captured log.
type fixture struct {
	svc    *commands.Service
	store  *eventstore.MemStore
	sealer *eventstore.VaultSealer
	codec  *eventstore.Codec
	logs   *syncBuffer

	mu  sync.Mutex
	now time.Time
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, mutate ...func(*commands.Deps)) *fixture {
	t.Helper()
	reg, err := commands.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: eventstore.NewMemStore(), logs: &syncBuffer{},
		now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	f.sealer = eventstore.NewSealer(eventstore.NewMemVault(eventstore.NewMemKeyring()), 0)
	if f.codec, err = eventstore.NewCodec(reg, f.sealer); err != nil {
		t.Fatal(err)
	}
	deps := commands.Deps{
		Store: f.store, Codec: f.codec, Shredder: f.sealer, Pepper: pepper, Now: f.clock,
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&deps)
	}
	if f.svc, err = commands.New(deps); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func actorCtx() context.Context {
	return commands.WithActor(context.Background(), commands.Actor{ID: "staff-1", Role: "admin", RequestID: "req-1"})
}

// do dispatches cmd and fails the test on error.
func (f *fixture) do(t *testing.T, cmd any) commands.Result {
	t.Helper()
	res, err := f.svc.Dispatch(actorCtx(), cmd)
	if err != nil {
		t.Fatalf("%s: %v", commands.CommandName(cmd), err)
	}
	return res
}

func (f *fixture) try(cmd any) (commands.Result, error) { return f.svc.Dispatch(actorCtx(), cmd) }

func (f *fixture) register(t *testing.T, email, jurisdiction string) commands.RegisterAccountResult {
	t.Helper()
	res := f.do(t, &commands.RegisterAccount{Email: email, Name: "Canary Person", AgeConfirmed: true,
		Region: "DE", Jurisdiction: jurisdiction, PolicyVersion: "2026-01"})
	return res.Data.(commands.RegisterAccountResult)
}

// events returns every stored event.
func (f *fixture) events(t *testing.T) []eventstore.Event {
	t.Helper()
	evs, err := f.store.ReadAll(context.Background(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// stream returns the decoded events of a stream.
func (f *fixture) stream(t *testing.T, name string) []eventstore.Decoded {
	t.Helper()
	evs, err := f.store.ReadStream(context.Background(), name, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]eventstore.Decoded, 0, len(evs))
	for _, ev := range evs {
		d, err := f.codec.Decode(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func (f *fixture) countType(t *testing.T, typ string) int {
	t.Helper()
	n := 0
	for _, ev := range f.events(t) {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// wantViolation asserts err is a *ValidationError naming field and rule.
func wantViolation(t *testing.T, err error, field, rule string) {
	t.Helper()
	var ve *commands.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a validation error on %s", err, field)
	}
	if !ve.Has(field, rule) {
		t.Fatalf("violations = %+v, want %s/%s", ve.Fields, field, rule)
	}
	if commands.Classify(err) != commands.ClassValidation {
		t.Fatalf("class = %v", commands.Classify(err))
	}
}

func wantClass(t *testing.T, err error, want commands.Class) {
	t.Helper()
	if got := commands.Classify(err); got != want {
		t.Fatalf("class of %v = %v, want %v", err, got, want)
	}
}

var _ io.Writer = (*syncBuffer)(nil)
var _ = uuid.Nil
