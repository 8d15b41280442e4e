package projections

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// ReadModels bundles every read model's query interface. Both the memory
// Hub and the PostgreSQL bundle implement it.
type ReadModels interface {
	Accounts() AccountsQuery
	Keys() KeysQuery
	Usage() UsageQuery
	Balances() BalancesQuery
	Consent() ConsentQuery
	Fraud() FraudQuery
	Privacy() PrivacyQuery
}

// MemSet is every in-memory read model fed by one projector: the batch is
// decoded once and applied to each model in turn (one reader for all models
// is what makes a rebuild fast; see Replay). It implements Projector with
// its checkpoint in memory, and skips records it has already applied, so a
// batch replayed after a swap is harmless.
type MemSet struct {
	accounts *MemAccounts
	keys     *MemKeys
	usage    *MemUsage
	balances *MemBalances
	consent  *MemConsent
	fraud    *MemFraud
	privacy  *MemPrivacy

	applyMu  sync.Mutex
	position atomic.Uint64
	lastAt   atomic.Int64 // unix nanoseconds of the last applied event's store time
	wake     eventstore.Broadcaster
}

var (
	_ Projector  = (*MemSet)(nil)
	_ ReadModels = (*MemSet)(nil)
)

// MemSetOptions configures NewMemSet.
type MemSetOptions struct {
	// Now is the clock of key expiry checks; default time.Now.
	Now func() time.Time
	// Invalidation receives key invalidations; default a private one.
	Invalidation *Invalidation
}

// NewMemSet returns empty in-memory read models that open personal data
// with codec.
func NewMemSet(codec *eventstore.Codec, opts MemSetOptions) *MemSet {
	return &MemSet{
		accounts: NewMemAccounts(codec),
		keys:     NewMemKeys(codec, opts.Now, opts.Invalidation),
		usage:    NewMemUsage(),
		balances: NewMemBalances(),
		consent:  NewMemConsent(),
		fraud:    NewMemFraud(),
		privacy:  NewMemPrivacy(codec),
	}
}

// Name implements Projector.
func (s *MemSet) Name() string { return "memory" }

// Checkpoint implements Projector.
func (s *MemSet) Checkpoint(context.Context) (uint64, error) { return s.position.Load(), nil }

// Position is the last position applied.
func (s *MemSet) Position() uint64 { return s.position.Load() }

// LastRecordedAt is the store time of the last applied event.
func (s *MemSet) LastRecordedAt() time.Time {
	if n := s.lastAt.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// ApplyBatch implements Projector. Records at or below the current position
// are skipped.
func (s *MemSet) ApplyBatch(_ context.Context, batch []Record) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	pos := s.position.Load()
	for len(batch) > 0 && batch[0].Position <= pos {
		batch = batch[1:]
	}
	if len(batch) == 0 {
		return nil
	}
	if batch[0].Position != pos+1 {
		return fmt.Errorf("projections: memory read models at %d got position %d", pos, batch[0].Position)
	}
	// The summing models check their sums first, so a batch that would
	// overflow one (ErrOverflow) is refused before any model changes.
	usage, err := s.usage.prepare(batch)
	if err != nil {
		return fmt.Errorf("projections: memory read models: %w", err)
	}
	balances, err := s.balances.prepare(batch)
	if err != nil {
		return fmt.Errorf("projections: memory read models: %w", err)
	}
	s.accounts.apply(batch)
	s.keys.apply(batch)
	s.usage.commit(usage)
	s.balances.commit(balances)
	s.consent.apply(batch)
	s.fraud.apply(batch)
	s.privacy.apply(batch)
	last := batch[len(batch)-1]
	s.lastAt.Store(last.RecordedAt.UnixNano())
	s.position.Store(last.Position)
	s.wake.Notify()
	return nil
}

// Accounts implements ReadModels.
func (s *MemSet) Accounts() AccountsQuery { return s.accounts }

// Keys implements ReadModels.
func (s *MemSet) Keys() KeysQuery { return s.keys }

// KeyVerifier is the concrete keys model, whose Verify is the gateway's
// allocation-free hot path.
func (s *MemSet) KeyVerifier() *MemKeys { return s.keys }

// Usage implements ReadModels.
func (s *MemSet) Usage() UsageQuery { return s.usage }

// Balances implements ReadModels.
func (s *MemSet) Balances() BalancesQuery { return s.balances }

// Consent implements ReadModels.
func (s *MemSet) Consent() ConsentQuery { return s.consent }

// Fraud implements ReadModels.
func (s *MemSet) Fraud() FraudQuery { return s.fraud }

// Privacy implements ReadModels.
func (s *MemSet) Privacy() PrivacyQuery { return s.privacy }

// AsOf builds fresh in-memory read models from the log up to a position or
// a store time, for auditors ("what did we know at X"). The live read models
// are untouched.
func AsOf(ctx context.Context, store eventstore.Store, codec *eventstore.Codec, until Until) (*MemSet, error) {
	s := NewMemSet(codec, MemSetOptions{Now: func() time.Time {
		if !until.Time.IsZero() {
			return until.Time
		}
		return time.Now()
	}})
	if _, err := Replay(ctx, store, codec, s, until, ReplayConfig{}); err != nil {
		return nil, err
	}
	return s, nil
}

// Lag is how far a read model is behind the log.
type Lag struct {
	Head      uint64        // last position in the store
	Applied   uint64        // last position applied
	Positions uint64        // Head - Applied
	Behind    time.Duration // age of the oldest unapplied event (0 when caught up)
}

// LagOf measures the lag of a read model at applied.
func LagOf(ctx context.Context, store eventstore.Store, applied uint64, now time.Time) (Lag, error) {
	h, err := store.Head(ctx)
	if err != nil {
		return Lag{}, err
	}
	l := Lag{Head: h.Position, Applied: applied}
	if h.Position <= applied {
		return l, nil
	}
	l.Positions = h.Position - applied
	next, err := store.ReadAll(ctx, applied+1, 1)
	if err != nil {
		return Lag{}, err
	}
	if len(next) == 1 && now.After(next[0].RecordedAt) {
		l.Behind = now.Sub(next[0].RecordedAt)
	}
	return l, nil
}

// HubConfig tunes a Hub.
type HubConfig struct {
	Runner RunnerConfig
	// MaxWait bounds WaitFor (read-your-writes); default 2s.
	MaxWait time.Duration
	// Now is the clock of key expiry checks and lag; default time.Now.
	Now func() time.Time
}

// Hub serves the in-memory read models: one runner tails the log into the
// live MemSet, Rebuild swaps in a fresh one, WaitFor gives read-your-writes.
// Query through the ReadModels methods on every request (not once at
// startup): after a rebuild they answer from the new set.
type Hub struct {
	store eventstore.Store
	codec *eventstore.Codec
	cfg   HubConfig
	inval *Invalidation

	swapMu sync.Mutex // held by apply and by the swap
	live   atomic.Pointer[MemSet]
	runner *Runner
}

var _ ReadModels = (*Hub)(nil)

// NewHub returns a hub with empty read models; Run (or CatchUpAll) fills them.
func NewHub(store eventstore.Store, codec *eventstore.Codec, cfg HubConfig) (*Hub, error) {
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{store: store, codec: codec, cfg: cfg, inval: &Invalidation{}}
	h.live.Store(h.newSet())
	r, err := NewRunner(store, codec, hubProjector{h}, cfg.Runner)
	if err != nil {
		return nil, err
	}
	h.runner = r
	return h, nil
}

func (h *Hub) newSet() *MemSet {
	return NewMemSet(h.codec, MemSetOptions{Now: h.cfg.Now, Invalidation: h.inval})
}

type hubProjector struct{ h *Hub }

func (p hubProjector) Name() string { return "memory" }
func (p hubProjector) Checkpoint(ctx context.Context) (uint64, error) {
	return p.h.live.Load().Position(), nil
}
func (p hubProjector) ApplyBatch(ctx context.Context, batch []Record) error {
	p.h.swapMu.Lock()
	defer p.h.swapMu.Unlock()
	return p.h.live.Load().ApplyBatch(ctx, batch)
}

// Run tails the log into the live read models until ctx ends. A first
// catch-up uses the pipelined Replay.
func (h *Hub) Run(ctx context.Context) error {
	if err := h.CatchUpAll(ctx); err != nil {
		return err
	}
	return h.runner.Run(ctx)
}

// CatchUpAll applies everything up to the current head.
func (h *Hub) CatchUpAll(ctx context.Context) error {
	_, err := Replay(ctx, h.store, h.codec, hubProjector{h}, Until{}, ReplayConfig{})
	return err
}

// Current returns the live read models.
func (h *Hub) Current() *MemSet { return h.live.Load() }

// Position is the last position the live read models applied.
func (h *Hub) Position() uint64 { return h.live.Load().Position() }

// WaitFor blocks until the live read models have applied position, at most
// MaxWait (or until ctx ends): then it returns ErrNotCaughtUp.
func (h *Hub) WaitFor(ctx context.Context, position uint64) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.MaxWait)
	defer cancel()
	for {
		s := h.live.Load()
		ch := s.wake.Wait()
		if s.Position() >= position {
			return nil
		}
		select {
		case <-ctx.Done():
			return ErrNotCaughtUp
		case <-ch:
		}
	}
}

// Lag reports how far the live read models are behind the log.
func (h *Hub) Lag(ctx context.Context) (Lag, error) {
	return LagOf(ctx, h.store, h.Position(), h.cfg.Now())
}

// Rebuild builds fresh read models from the whole log beside the live ones,
// then swaps them in atomically; queries never see a half-built model.
// It returns the position the new models start from.
func (h *Hub) Rebuild(ctx context.Context, cfg ReplayConfig) (uint64, error) {
	fresh := h.newSet()
	if _, err := Replay(ctx, h.store, h.codec, fresh, Until{}, cfg); err != nil {
		return 0, err
	}
	h.swapMu.Lock()
	defer h.swapMu.Unlock()
	// finish the last stretch while no batch reaches the live set, so the
	// new set is at least as far as the old one
	for {
		if _, err := Replay(ctx, h.store, h.codec, fresh, Until{}, cfg); err != nil {
			return 0, err
		}
		if fresh.Position() >= h.live.Load().Position() {
			break
		}
	}
	old := h.live.Swap(fresh)
	old.wake.Notify()
	return fresh.Position(), nil
}

// The ReadModels methods of a Hub return views that resolve the live set on
// every call, so a long-lived reference (an HTTP handler's) follows rebuilds.

// Accounts implements ReadModels.
func (h *Hub) Accounts() AccountsQuery { return hubAccounts{h} }

// Keys implements ReadModels. Invalidation hooks registered on it outlive
// rebuilds.
func (h *Hub) Keys() KeysQuery { return hubKeys{h} }

// Usage implements ReadModels.
func (h *Hub) Usage() UsageQuery { return hubUsage{h} }

// Balances implements ReadModels.
func (h *Hub) Balances() BalancesQuery { return hubBalances{h} }

// Consent implements ReadModels.
func (h *Hub) Consent() ConsentQuery { return hubConsent{h} }

// Fraud implements ReadModels.
func (h *Hub) Fraud() FraudQuery { return hubFraud{h} }

// Privacy implements ReadModels.
func (h *Hub) Privacy() PrivacyQuery { return hubPrivacy{h} }

// Verify is the gateway's hot path on the live keys model.
func (h *Hub) Verify(secretHash string) (KeyAuth, bool) { return h.live.Load().keys.Verify(secretHash) }

// OnInvalidate registers a key-invalidation hook that outlives rebuilds.
func (h *Hub) OnInvalidate(fn func(keyID uuid.UUID)) { h.inval.Add(fn) }

type hubAccounts struct{ h *Hub }

func (q hubAccounts) Account(ctx context.Context, id uuid.UUID) (AccountView, error) {
	return q.h.live.Load().accounts.Account(ctx, id)
}
func (q hubAccounts) ListAccounts(ctx context.Context, f AccountFilter) (AccountPage, error) {
	return q.h.live.Load().accounts.ListAccounts(ctx, f)
}

type hubKeys struct{ h *Hub }

func (q hubKeys) VerifyBySecretHash(_ context.Context, hash string) (KeyAuth, bool, error) {
	a, ok := q.h.Verify(hash)
	return a, ok, nil
}
func (q hubKeys) Key(ctx context.Context, id uuid.UUID) (KeyView, error) {
	return q.h.live.Load().keys.Key(ctx, id)
}
func (q hubKeys) KeysByAccount(ctx context.Context, id uuid.UUID) ([]KeyView, error) {
	return q.h.live.Load().keys.KeysByAccount(ctx, id)
}
func (q hubKeys) OnInvalidate(fn func(keyID uuid.UUID)) { q.h.inval.Add(fn) }

type hubUsage struct{ h *Hub }

func (q hubUsage) Usage(ctx context.Context, f UsageFilter) ([]UsageBucket, error) {
	return q.h.live.Load().usage.Usage(ctx, f)
}
func (q hubUsage) UsageTotals(ctx context.Context, f UsageFilter) (UsageCounts, error) {
	return q.h.live.Load().usage.UsageTotals(ctx, f)
}

type hubBalances struct{ h *Hub }

func (q hubBalances) Balance(ctx context.Context, id uuid.UUID) (BalanceView, error) {
	return q.h.live.Load().balances.Balance(ctx, id)
}
func (q hubBalances) Transactions(ctx context.Context, f TxFilter) (TxPage, error) {
	return q.h.live.Load().balances.Transactions(ctx, f)
}
func (q hubBalances) Disputes(ctx context.Context, id uuid.UUID) ([]DisputeRow, error) {
	return q.h.live.Load().balances.Disputes(ctx, id)
}

type hubConsent struct{ h *Hub }

func (q hubConsent) Consent(ctx context.Context, id uuid.UUID) (ConsentState, error) {
	return q.h.live.Load().consent.Consent(ctx, id)
}
func (q hubConsent) ConsentHistory(ctx context.Context, id uuid.UUID) ([]ConsentReceipt, error) {
	return q.h.live.Load().consent.ConsentHistory(ctx, id)
}
func (q hubConsent) ConsentAsOf(ctx context.Context, id uuid.UUID, t time.Time) (ConsentState, error) {
	return q.h.live.Load().consent.ConsentAsOf(ctx, id, t)
}

type hubFraud struct{ h *Hub }

func (q hubFraud) EmailHash(ctx context.Context, hash string) (FraudView, error) {
	return q.h.live.Load().fraud.EmailHash(ctx, hash)
}

type hubPrivacy struct{ h *Hub }

func (q hubPrivacy) Request(ctx context.Context, id uuid.UUID, now time.Time) (RequestView, error) {
	return q.h.live.Load().privacy.Request(ctx, id, now)
}
func (q hubPrivacy) Requests(ctx context.Context, f RequestFilter, now time.Time) ([]RequestView, error) {
	return q.h.live.Load().privacy.Requests(ctx, f, now)
}
func (q hubPrivacy) Overdue(ctx context.Context, now time.Time) ([]RequestView, error) {
	return q.h.live.Load().privacy.Overdue(ctx, now)
}
func (q hubPrivacy) Holds(ctx context.Context, subject uuid.UUID, activeOnly bool) ([]HoldView, error) {
	return q.h.live.Load().privacy.Holds(ctx, subject, activeOnly)
}
