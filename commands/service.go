package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/eventstore"
)

// DefaultNewUserCredits is the new-user credit, in micro-units, when Deps.NewUserCredits is 0.
const DefaultNewUserCredits int64 = 5_000_000

// DefaultMaxAttempts bounds how often a command is re-run after a concurrency conflict.
const DefaultMaxAttempts = 5

// Shredder destroys a data subject's key everywhere (vault and caches). *eventstore.VaultSealer
// implements it. Shred must be idempotent: a repeat reports AlreadyShredded.
type Shredder interface {
	Shred(ctx context.Context, subject string) (eventstore.ShredResult, error)
}

// Deps configures a Service. Store, Codec, Shredder and Pepper are required; the rest have
// defaults.
type Deps struct {
	// Store is the log every command appends to.
	Store eventstore.Store
	// Codec encodes domain events (sealing their personal part); build it over NewRegistry().
	Codec *eventstore.Codec
	// Shredder destroys subject keys on erasure (the *eventstore.VaultSealer behind Codec).
	Shredder Shredder
	// Pepper is the fraud-hash secret from the keyring (Keyring.Pepper): at least 16 bytes. It
	// never enters the store.
	Pepper []byte
	// Now is the clock (default time.Now). Times are stored in UTC at microsecond precision.
	Now func() time.Time
	// Rand is the randomness of ids and API key secrets (default crypto/rand.Reader).
	Rand io.Reader
	// NewUserCredits is granted, in micro-units, to the first account of an email hash
	// (default DefaultNewUserCredits; from 0 to billing.MaxAmountMicros).
	NewUserCredits int64
	// Logger receives one line per command, never personal data (default slog.Default()).
	Logger *slog.Logger

	// MaxAttempts bounds re-runs after eventstore.ErrConcurrency (default DefaultMaxAttempts).
	MaxAttempts int
	// Metrics, when set, is called once per dispatched command (after retries).
	Metrics func(CommandMetric)
	// Middleware wraps the built-in chain (first is outermost), e.g. for tracing.
	Middleware []Middleware
}

// Service runs commands against the store. It is safe for concurrent use.
type Service struct {
	store          eventstore.Store
	codec          *eventstore.Codec
	shredder       Shredder
	pepper         []byte
	now            func() time.Time
	randMu         sync.Mutex
	rand           io.Reader
	newUserCredits int64
	log            *slog.Logger
	dispatcher     *Dispatcher

	keyAccounts sync.Map // uuid.UUID key id -> uuid.UUID account id (immutable once issued)

	proof   atomic.Pointer[ErasureProof] // nil: erasures complete without verification or certificate
	pending pendingProofs
}

// New validates deps and returns a Service with its Dispatcher.
func New(deps Deps) (*Service, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("commands: Deps.Store is required")
	case deps.Codec == nil:
		return nil, errors.New("commands: Deps.Codec is required")
	case deps.Shredder == nil:
		return nil, errors.New("commands: Deps.Shredder is required")
	case len(deps.Pepper) < 16:
		return nil, errors.New("commands: Deps.Pepper must hold at least 16 bytes")
	case deps.NewUserCredits < 0:
		return nil, errors.New("commands: Deps.NewUserCredits must not be negative")
	case deps.NewUserCredits > billing.MaxAmountMicros:
		return nil, errors.New("commands: Deps.NewUserCredits must not exceed billing.MaxAmountMicros")
	case deps.MaxAttempts < 0:
		return nil, errors.New("commands: Deps.MaxAttempts must not be negative")
	}
	s := &Service{
		store: deps.Store, codec: deps.Codec, shredder: deps.Shredder,
		pepper: append([]byte(nil), deps.Pepper...), now: deps.Now, rand: deps.Rand,
		newUserCredits: deps.NewUserCredits, log: deps.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.newUserCredits == 0 {
		s.newUserCredits = DefaultNewUserCredits
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	attempts := deps.MaxAttempts
	if attempts == 0 {
		attempts = DefaultMaxAttempts
	}
	s.dispatcher = newDispatcher(s, attempts, deps.Metrics, deps.Middleware)
	return s, nil
}

// Dispatcher returns the service's dispatcher.
func (s *Service) Dispatcher() *Dispatcher { return s.dispatcher }

// Dispatch runs cmd (a command struct or a pointer to one) through the dispatcher.
func (s *Service) Dispatch(ctx context.Context, cmd any) (Result, error) {
	return s.dispatcher.Dispatch(ctx, cmd)
}

// Store returns the store the service writes to.
func (s *Service) Store() eventstore.Store { return s.store }

// Codec returns the service's codec.
func (s *Service) Codec() *eventstore.Codec { return s.codec }

// Result is what a command returns: the last global position it wrote (0 when it wrote
// nothing), which queries accept to read their own writes, and typed data (see each command's
// XResult type).
type Result struct {
	Position uint64
	Data     any
}

// Actor is who runs a command and in what context; it becomes the events' metadata. It holds
// ids only, never an email or a name.
type Actor struct {
	ID            string // account id, staff token id, "gateway", "policy:<name>"...
	Role          string // admin, compliance, auditor, gateway, customer, system
	RequestID     string // transport request id
	CorrelationID string // shared by everything one request caused (default RequestID or a new id)
	CausationID   string // the event or message that caused this command, if any
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of ctx (zero when none).
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

func metaFrom(ctx context.Context) eventstore.Metadata {
	a, _ := ActorFrom(ctx)
	return eventstore.Metadata{CorrelationID: a.CorrelationID, CausationID: a.CausationID,
		Actor: a.ID, ActorRole: a.Role, RequestID: a.RequestID}
}

// clock returns now in UTC at the store's precision.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// newID draws a UUIDv7 from the service's random source.
func (s *Service) newID() (uuid.UUID, error) {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return uuid.NewV7FromReader(s.rand)
}

// lockedRand serialises reads of the service's random source for the domain.
type lockedRand struct{ s *Service }

func (r lockedRand) Read(p []byte) (int, error) {
	r.s.randMu.Lock()
	defer r.s.randMu.Unlock()
	return io.ReadFull(r.s.rand, p)
}

const readPage = 1000

// load returns the public payloads of a stream and its version. Aggregates never need personal
// data to decide, so nothing is decrypted: erased subjects load like any other.
func (s *Service) load(ctx context.Context, stream string) ([]any, uint64, error) {
	var (
		history []any
		version uint64
		from    uint64 = 1
	)
	for {
		evs, err := s.store.ReadStream(ctx, stream, from, readPage)
		if err != nil {
			return nil, 0, fmt.Errorf("commands: read %s: %w", streamKind(stream), err)
		}
		for _, ev := range evs {
			p, err := s.codec.DecodePublic(ev)
			if err != nil {
				return nil, 0, fmt.Errorf("commands: decode %s at version %d: %w", streamKind(stream), ev.Version, err)
			}
			history = append(history, p)
			version = ev.Version
		}
		if len(evs) < readPage {
			return history, version, nil
		}
		from = version + 1
	}
}

// encode turns domain events into envelopes with the ctx's metadata.
func (s *Service) encode(ctx context.Context, changes []any) ([]eventstore.Event, error) {
	meta := metaFrom(ctx)
	out := make([]eventstore.Event, 0, len(changes))
	for _, c := range changes {
		ev, err := s.codec.Encode(ctx, c, meta)
		if err != nil {
			return nil, fmt.Errorf("commands: encode: %w", err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// encodeWithID encodes one event with a deterministic id (idempotent appends).
func (s *Service) encodeWithID(ctx context.Context, id uuid.UUID, payload any) (eventstore.Event, error) {
	ev, err := s.codec.EncodeWithID(ctx, id, payload, metaFrom(ctx))
	if err != nil {
		return eventstore.Event{}, fmt.Errorf("commands: encode: %w", err)
	}
	return ev, nil
}

// save encodes and appends changes; nothing to save is not an error.
func (s *Service) save(ctx context.Context, stream string, expected eventstore.ExpectedVersion, changes []any) (eventstore.AppendResult, error) {
	if len(changes) == 0 {
		return eventstore.AppendResult{}, nil
	}
	evs, err := s.encode(ctx, changes)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	return s.append(ctx, stream, expected, evs...)
}

func (s *Service) append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, evs ...eventstore.Event) (eventstore.AppendResult, error) {
	res, err := s.store.Append(ctx, stream, expected, evs...)
	if err != nil {
		return res, fmt.Errorf("commands: append to %s: %w", streamKind(stream), err)
	}
	return res, nil
}

// streamKind is the stream name without its id, for messages that must not carry ids of
// people's claims (an email hash is an identifier too).
func streamKind(stream string) string {
	for i := 0; i < len(stream); i++ {
		if stream[i] == '-' {
			return stream[:i]
		}
	}
	return stream
}

// positions tracks the last position a command wrote.
type positions uint64

func (p *positions) add(r eventstore.AppendResult) {
	if r.LastPosition > uint64(*p) {
		*p = positions(r.LastPosition)
	}
}

// policyNamespace seeds the deterministic ids policies and commands derive (UUIDv5). Never
// change it: ids derived before would no longer match.
var policyNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:ledgerline:commands"))

// derivedID is UUIDv5(policyNamespace, parts joined by "/").
func derivedID(parts ...string) uuid.UUID {
	b := []byte{}
	for i, p := range parts {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	return uuid.NewSHA1(policyNamespace, b)
}
