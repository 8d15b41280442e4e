package main

// Several-node wiring of `ledgerline serve`: the watermill transport (--bus),
// the leases that keep the outbox relay (with its policies) and the
// PostgreSQL read-model projector on one node at a time, and the cache
// invalidations between nodes. The in-memory read models (the Hub) run on
// every node: each tails the shared log.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/adapters/bus"
	"github.com/ledgerline/ledgerline/adapters/eventstoredb"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// Lease names (scoped by the database schema, so clusters sharing a server
// in different schemas never contend).
const (
	leaseRelay        = "outbox"
	leasePGReadModels = "pg-read-models"
	// relayCheckpoint names the relay's row in reader_checkpoints.
	relayCheckpoint = "outbox"
)

// clusterFlags are serve's several-node flags.
type clusterFlags struct {
	bus          *string
	busPrefix    *string
	pgReadModels *bool
	leaseRetry   *time.Duration
}

func addClusterFlags(fs *flag.FlagSet) clusterFlags {
	return clusterFlags{
		bus: fs.String("bus", envDefault("LEDGERLINE_BUS", "gochannel"),
			"watermill transport: gochannel (in-process, one node) or nats://host:4222 (JetStream; several nodes) (env LEDGERLINE_BUS)"),
		busPrefix: fs.String("bus-prefix", envDefault("LEDGERLINE_BUS_PREFIX", "ledgerline"),
			"prefix of every topic (and JetStream stream); nodes of one cluster must share it, clusters on one broker must not (env LEDGERLINE_BUS_PREFIX)"),
		pgReadModels: fs.Bool("pg-read-models", envDefault("LEDGERLINE_PG_READ_MODELS", "false") == "true",
			"also keep the PostgreSQL read models up to date (one node at a time, under a lease; needs --database-url) (env LEDGERLINE_PG_READ_MODELS)"),
		leaseRetry: fs.Duration("lease-retry", 200*time.Millisecond,
			"how often a node waiting for a lease (relay, PostgreSQL read models) asks for it; bounds failover time"),
	}
}

// openESDBBackend opens the log on EventStoreDB and the vault on PostgreSQL
// (the vault and the leases need a database; the log alone does not do).
func openESDBBackend(ctx context.Context, b *backend, esdbURL, dbURL string) error {
	if dbURL == "" {
		return errors.New("--eventstoredb-url needs --database-url too: the vault, the leases and the relay checkpoint live in PostgreSQL")
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("open PostgreSQL for the vault: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("open PostgreSQL for the vault: %w", err)
	}
	v, err := postgres.NewVault(ctx, pool, b.keyring)
	if err != nil {
		pool.Close()
		return fmt.Errorf("open PostgreSQL vault: %w", err)
	}
	st, err := eventstoredb.Open(ctx, eventstoredb.Config{URL: esdbURL})
	if err != nil {
		_ = v.Close()
		pool.Close()
		return fmt.Errorf("open EventStoreDB store: %w", err)
	}
	b.kind, b.where, b.store, b.vault, b.pool, b.ownPool = "eventstoredb", "EventStoreDB (vault in PostgreSQL)", st, v, pool, true
	return nil
}

// cluster is one node's share of the several-node machinery.
type cluster struct {
	cf    clusterFlags
	svc   *cmdsvc.Service
	b     *backend
	hub   *projections.Hub
	log   *slog.Logger
	wlog  watermill.LoggerAdapter
	nats  *bus.NATS // nil on the in-process transport
	inval *bus.Invalidations
	fence *keyFence
	cps   cmdsvc.Checkpoints
	pgcps *postgres.Checkpoints // nil without PostgreSQL
	scope string                // lease-name prefix

	closeTransport func() error

	keyNotices chan string // API-key notices waiting to be published
	stop       chan struct{}
	done       chan struct{}
}

// startCluster wires the transport and the invalidations. Call it after the
// hub's first catch-up: key invalidations the hub fires from then on are
// broadcast. Close it when done.
func startCluster(ctx context.Context, cf clusterFlags, svc *cmdsvc.Service, b *backend, hub *projections.Hub, log *slog.Logger) (*cluster, error) {
	c := &cluster{cf: cf, svc: svc, b: b, hub: hub, log: log, wlog: watermill.NewSlogLogger(log),
		fence: &keyFence{hub: hub, store: b.store, pending: map[uuid.UUID]uint64{}},
		cps:   cmdsvc.NewMemCheckpoints(), keyNotices: make(chan string, 1024),
		stop: make(chan struct{}), done: make(chan struct{})}
	var tr bus.Transport
	switch u := *cf.bus; {
	case u == "" || u == "gochannel":
		tr = bus.NewGoChannel(c.wlog)
	case strings.HasPrefix(u, "nats://") || strings.HasPrefix(u, "tls://"):
		n, err := bus.NewNATS(u, c.wlog)
		if err != nil {
			return nil, err
		}
		c.nats, tr = n, n
	default:
		return nil, fmt.Errorf("--bus %q: want gochannel or nats://host:port", u)
	}
	if *cf.pgReadModels && b.pool == nil {
		_ = tr.Close()
		return nil, errors.New("--pg-read-models needs --database-url")
	}
	fail := func(err error) (*cluster, error) { c.Close(); return nil, err }
	c.closeTransport = tr.Close
	if b.pool != nil {
		var schema string
		if err := b.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fail(fmt.Errorf("lease scope: %w", err))
		}
		c.scope = "ledgerline/" + schema + "/"
		// Write-behind: the relay is at-least-once (message id = event id,
		// idempotent policies), so losing 100ms of progress in a crash only
		// re-relays it, and the relay is not held to one commit per event.
		pc, err := postgres.NewCheckpoints(ctx, postgres.CheckpointsConfig{Pool: b.pool, WriteBehind: 100 * time.Millisecond})
		if err != nil {
			return fail(err)
		}
		c.pgcps, c.cps = pc, pc
	}
	inv, err := bus.NewInvalidations(topicMapper{tr}, *cf.busPrefix+"-invalidations", c.wlog)
	if err != nil {
		return fail(err)
	}
	c.inval = inv
	// ids stay out of the log: they identify data subjects
	inv.Handle(bus.KindAPIKey, func(ctx context.Context, id string) error {
		if err := c.fence.mark(ctx, id); err != nil {
			return err
		}
		log.Info("invalidation notice", "kind", bus.KindAPIKey.String())
		return nil
	})
	inv.Handle(bus.KindDEK, func(_ context.Context, subject string) error {
		b.sealer.Forget(subject)
		log.Info("invalidation notice", "kind", bus.KindDEK.String())
		return nil
	})
	if err := inv.Start(context.Background()); err != nil {
		return fail(err)
	}
	b.sealer.OnShred(func(subject string) {
		// synchronous: the erasure answers after the other nodes were told
		if err := inv.Publish(context.Background(), bus.Notice{Kind: bus.KindDEK, ID: subject}); err != nil {
			log.Error("broadcast shred", "err", err.Error())
		}
	})
	hub.OnInvalidate(func(keyID uuid.UUID) {
		// called on the hub's apply path: never block it on the broker
		select {
		case c.keyNotices <- keyID.String():
		default:
			log.Warn("key invalidation queue full; other nodes rely on their own log tail for this key", "key_id", keyID.String())
		}
	})
	go c.publishKeyNotices()
	return c, nil
}

func (c *cluster) publishKeyNotices() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case id := <-c.keyNotices:
			if err := c.inval.Publish(context.Background(), bus.Notice{Kind: bus.KindAPIKey, ID: id}); err != nil {
				c.log.Warn("broadcast key invalidation", "key_id", id, "err", err.Error())
			}
		}
	}
}

// Models are the read models the API serves: the hub, with key
// verifications fenced by the invalidation notices of other nodes.
func (c *cluster) Models() projections.ReadModels { return fencedModels{c.hub, c.fence} }

// RunBus runs the outbox relay and the policies: on every call on a single
// node (no PostgreSQL), on one node at a time under a lease otherwise. A new
// leader resumes from the relay checkpoint in PostgreSQL.
func (c *cluster) RunBus(ctx context.Context) error {
	return c.leased(ctx, leaseRelay, func(ctx context.Context) error {
		cfg := cmdsvc.BusConfig{Checkpoints: c.cps, TopicPrefix: *c.cf.busPrefix}
		if c.nats != nil {
			// Policies consume through durable JetStream consumer groups, so
			// messages relayed but not handled when a leader dies are handled
			// by the next one.
			cfg.Publisher = topicMapper{c.nats}.Publisher()
			cfg.Subscriber = &groupSubscriber{tr: c.nats, group: *c.cf.busPrefix + "-policies", seen: map[string]int{}}
		}
		bs, err := newBus(c.svc, c.b, c.hub, c.log, cfg)
		if err != nil {
			return err
		}
		from, err := c.cps.Load(ctx, relayCheckpoint)
		if err != nil {
			return err
		}
		c.log.Info("outbox relay starting", "from", from)
		err = bs.Run(ctx)
		if c.pgcps != nil {
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if ferr := c.pgcps.Flush(fctx); ferr != nil {
				c.log.Warn("flush relay checkpoint", "err", ferr.Error())
			}
			cancel()
		}
		return err
	})
}

// RunPGReadModels keeps the PostgreSQL read models up to date under a lease
// (--pg-read-models); otherwise it returns at once.
func (c *cluster) RunPGReadModels(ctx context.Context) error {
	if !*c.cf.pgReadModels {
		return nil
	}
	rm, err := postgres.OpenReadModels(ctx, postgres.ReadModelsConfig{Pool: c.b.pool, Codec: c.b.codec})
	if err != nil {
		return err
	}
	return c.leased(ctx, leasePGReadModels, func(ctx context.Context) error {
		r, err := projections.NewRunner(c.b.store, c.b.codec, rm.Projector(), projections.RunnerConfig{})
		if err != nil {
			return err
		}
		return r.Run(ctx)
	})
}

// RunShredFollower tails the log for shreds and forgets the subject's key:
// the notice over the bus is immediate, this covers notices missed while
// the broker was unreachable. Only stores shared with other nodes need it.
func (c *cluster) RunShredFollower(ctx context.Context) error {
	if c.b.pool == nil {
		return nil
	}
	h, err := c.b.store.Head(ctx)
	if err != nil {
		return err
	}
	err = c.b.store.Subscribe(ctx, h.Position+1, func(ev eventstore.Event) error {
		if ev.Type != privacy.TypeSubjectKeyShredded {
			return nil
		}
		p, err := c.b.codec.DecodePublic(ev)
		if err != nil {
			return err
		}
		if e, ok := domain.Deref(p).(privacy.SubjectKeyShredded); ok {
			c.b.sealer.Forget(e.Subject.String())
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// leased runs work while this node holds the lease named name, and asks for
// the lease again when it is lost or work fails, until ctx ends. Without
// PostgreSQL there is one node: work runs directly.
func (c *cluster) leased(ctx context.Context, name string, work func(context.Context) error) error {
	if c.b.pool == nil {
		return work(ctx)
	}
	for {
		l, err := bus.AcquireLease(ctx, c.b.pool, c.scope+name, *c.cf.leaseRetry)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			c.log.Warn("lease", "lease", name, "err", err.Error())
			if !sleepCtx(ctx, time.Second) {
				return nil
			}
			continue
		}
		c.log.Info("lease acquired", "lease", name)
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.Lost():
				cancel()
			case <-wctx.Done():
			}
		}()
		err = work(wctx)
		lost := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = l.Release(rctx)
		rcancel()
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case lost:
			c.log.Warn("lease lost", "lease", name)
		case err != nil:
			c.log.Error("leased work failed; lease released", "lease", name, "err", err.Error())
		}
		if !sleepCtx(ctx, *c.cf.leaseRetry) {
			return nil
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Close stops the invalidations and the transport and flushes the relay
// checkpoint.
func (c *cluster) Close() error {
	var errs []error
	select {
	case <-c.stop:
		return nil
	default:
		close(c.stop)
	}
	if c.inval != nil {
		<-c.done
		errs = append(errs, c.inval.Close())
	}
	if c.pgcps != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, c.pgcps.Close(ctx))
		cancel()
	}
	if c.closeTransport != nil {
		errs = append(errs, c.closeTransport())
	}
	return errors.Join(errs...)
}

// keyFence makes a key invalidation heard from another node take effect at
// once: the hub on this node catches up from the log anyway, but until it
// has reached the position the notice was heard at, verifications of that
// key wait for it (at most the hub's MaxWait) instead of answering from the
// stale model.
type keyFence struct {
	hub   *projections.Hub
	store eventstore.Store

	mu      sync.Mutex
	pending map[uuid.UUID]uint64 // key → log head when the notice came
}

func (f *keyFence) mark(ctx context.Context, id string) error {
	kid, err := uuid.Parse(id)
	if err != nil {
		return nil // malformed: nothing to fence
	}
	h, err := f.store.Head(ctx)
	if err != nil {
		return err // nack: the notice is delivered again
	}
	applied := f.hub.Position()
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, p := range f.pending {
		if p <= applied {
			delete(f.pending, k)
		}
	}
	if h.Position > applied && h.Position > f.pending[kid] {
		f.pending[kid] = h.Position
	}
	return nil
}

// waitFor returns the position key verifications must wait for (0: none).
func (f *keyFence) waitFor(kid uuid.UUID) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pending[kid]
	if !ok {
		return 0
	}
	if p <= f.hub.Position() {
		delete(f.pending, kid)
		return 0
	}
	return p
}

type fencedModels struct {
	*projections.Hub
	f *keyFence
}

func (m fencedModels) Keys() projections.KeysQuery { return fencedKeys{m.Hub.Keys(), m.f} }

type fencedKeys struct {
	projections.KeysQuery
	f *keyFence
}

func (k fencedKeys) VerifyBySecretHash(ctx context.Context, secretHash string) (projections.KeyAuth, bool, error) {
	a, ok, err := k.KeysQuery.VerifyBySecretHash(ctx, secretHash)
	if err != nil || !ok {
		return a, ok, err
	}
	if pos := k.f.waitFor(a.KeyID); pos > 0 {
		if err := k.f.hub.WaitFor(ctx, pos); err != nil {
			return projections.KeyAuth{}, false, err
		}
		return k.KeysQuery.VerifyBySecretHash(ctx, secretHash)
	}
	return a, ok, nil
}

// topicMapper makes the CQRS topics ("ledgerline.events.billing.x") valid
// JetStream stream names, which cannot hold dots.
type topicMapper struct{ tr bus.Transport }

func natsTopic(topic string) string { return strings.ReplaceAll(topic, ".", "-") }

func (m topicMapper) Publisher() message.Publisher { return mappedPublisher{m.tr.Publisher()} }
func (m topicMapper) Subscriber(group string) (message.Subscriber, error) {
	s, err := m.tr.Subscriber(group)
	if err != nil {
		return nil, err
	}
	return mappedSubscriber{s}, nil
}
func (m topicMapper) Close() error { return m.tr.Close() }

type mappedPublisher struct{ message.Publisher }

func (p mappedPublisher) Publish(topic string, msgs ...*message.Message) error {
	return p.Publisher.Publish(natsTopic(topic), msgs...)
}

// Close does not close the shared transport's publisher.
func (p mappedPublisher) Close() error { return nil }

type mappedSubscriber struct{ message.Subscriber }

func (s mappedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return s.Subscriber.Subscribe(ctx, natsTopic(topic))
}

// groupSubscriber gives each handler of the CQRS router its own durable
// consumer group (the n-th subscription to a topic gets group suffix n, the
// same on every node since handlers are added in a fixed order), so handlers
// of one topic do not compete and a new leader resumes where the old stopped.
type groupSubscriber struct {
	tr    bus.Transport
	group string

	mu     sync.Mutex
	seen   map[string]int
	subs   []message.Subscriber
	closed bool
}

func (g *groupSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, errors.New("subscriber closed")
	}
	n := g.seen[topic]
	g.seen[topic] = n + 1
	g.mu.Unlock()
	group := g.group
	if n > 0 {
		group = fmt.Sprintf("%s-%d", g.group, n)
	}
	s, err := g.tr.Subscriber(group)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.subs = append(g.subs, s)
	g.mu.Unlock()
	return s.Subscribe(ctx, natsTopic(topic))
}

// Close closes every subscription; the router calls it once per handler.
func (g *groupSubscriber) Close() error {
	g.mu.Lock()
	subs := g.subs
	g.subs, g.closed = nil, true
	g.mu.Unlock()
	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
