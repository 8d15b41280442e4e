// Package projections builds Ledgerline's read models from the log. Each read
// model has a query interface with an in-memory and a PostgreSQL
// implementation; a Runner tails the log from the read model's checkpoint and
// applies events in batches.
//
// Read models never hold plaintext personal data: they keep the sealed value
// of an event and open it at query time, so a shredded key takes effect in
// every read model at once.
package projections

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/ledgerline/ledgerline/eventstore"
)

// Record is one event handed to a projector: the envelope (sealed part kept
// as stored) and its public payload decoded by the codec.
//
// Runners and Replay read the log with eventstore.ReadAllLean, so the
// envelope's Stream, Version, PrevHash and Hash are zero when the store is an
// eventstore.LeanReader: projectors must not depend on them (the chain is the
// auditors' business, not a read model's). Data and Sealed are never reused
// by the reader, so a projector may keep them (RefOf does), but must not
// modify them.
type Record struct {
	eventstore.Event
	Payload any
}

// Projector keeps one read model up to date. ApplyBatch must apply the
// records and record the last position as the checkpoint atomically, so a
// crash between batches never applies an event twice or skips one. It must
// not keep the batch slice after it returns (Replay reuses it for the next
// batch); what it keeps of a record it copies out of it.
type Projector interface {
	Name() string
	Checkpoint(ctx context.Context) (uint64, error)
	ApplyBatch(ctx context.Context, batch []Record) error
}

// RunnerConfig tunes a Runner.
type RunnerConfig struct {
	BatchSize    int           // events per ApplyBatch; default 1000
	PollInterval time.Duration // used when the store cannot notify; default 50ms
	// OnBatch, when set, is called after each applied batch (metrics).
	OnBatch func(name string, last eventstore.Event, n int)
}

// Runner tails the log into one projector.
type Runner struct {
	store eventstore.Store
	codec *eventstore.Codec
	p     Projector
	cfg   RunnerConfig

	mu       sync.Mutex
	applied  uint64
	lastTime time.Time
	advanced chan struct{}
}

// NewRunner returns a runner; it does nothing until Run.
func NewRunner(store eventstore.Store, codec *eventstore.Codec, p Projector, cfg RunnerConfig) (*Runner, error) {
	if store == nil || codec == nil || p == nil {
		return nil, errors.New("projections: runner needs a store, a codec and a projector")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	return &Runner{store: store, codec: codec, p: p, cfg: cfg, advanced: make(chan struct{})}, nil
}

// Name is the projector's name.
func (r *Runner) Name() string { return r.p.Name() }

// Run applies events until ctx ends or an error occurs.
func (r *Runner) Run(ctx context.Context) error {
	cp, err := r.p.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("projections: %s checkpoint: %w", r.p.Name(), err)
	}
	r.setApplied(cp, time.Time{})
	notifier, _ := r.store.(eventstore.ChangeNotifier)
	for {
		var changed <-chan struct{}
		if notifier != nil {
			changed = notifier.Changed()
		}
		n, err := r.CatchUp(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		var poll <-chan time.Time
		if changed == nil {
			poll = time.After(r.cfg.PollInterval)
		} else {
			// a notifying store still gets an occasional poll: another
			// process may have appended (PostgreSQL NOTIFY can be lost on a
			// reconnect)
			poll = time.After(20 * r.cfg.PollInterval)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-poll:
		}
	}
}

// CatchUp applies one page of events past the checkpoint and returns how many
// it applied (0 when caught up).
func (r *Runner) CatchUp(ctx context.Context) (int, error) {
	from := r.Applied() + 1
	page, err := eventstore.ReadAllLean(ctx, r.store, nil, from, r.cfg.BatchSize)
	if err != nil || len(page) == 0 {
		return 0, err
	}
	for i := range page {
		if page[i].Position != from+uint64(i) {
			return 0, fmt.Errorf("projections: %s expected position %d, got %d", r.p.Name(), from+uint64(i), page[i].Position)
		}
	}
	batch, err := DecodeRecords(r.codec, page)
	if err != nil {
		return 0, fmt.Errorf("projections: %s: %w", r.p.Name(), err)
	}
	if err := r.p.ApplyBatch(ctx, batch); err != nil {
		return 0, fmt.Errorf("projections: %s apply up to %d: %w", r.p.Name(), page[len(page)-1].Position, err)
	}
	last := page[len(page)-1]
	r.setApplied(last.Position, last.RecordedAt)
	if r.cfg.OnBatch != nil {
		r.cfg.OnBatch(r.p.Name(), last, len(page))
	}
	return len(page), nil
}

func (r *Runner) setApplied(pos uint64, at time.Time) {
	r.mu.Lock()
	r.applied = pos
	if !at.IsZero() {
		r.lastTime = at
	}
	close(r.advanced)
	r.advanced = make(chan struct{})
	r.mu.Unlock()
}

// Applied is the last position applied.
func (r *Runner) Applied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

// LastRecordedAt is the store time of the last applied event (for lag in seconds).
func (r *Runner) LastRecordedAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastTime
}

// ErrNotCaughtUp is returned by WaitFor when the read model did not reach the
// position in time; callers may retry or read stale data knowingly.
var ErrNotCaughtUp = errors.New("projections: read model has not caught up with the requested position")

// WaitFor blocks until the read model has applied position, or ctx ends
// (then ErrNotCaughtUp). It gives read-your-writes to a caller that passes
// the position its command returned.
func (r *Runner) WaitFor(ctx context.Context, position uint64) error {
	for {
		r.mu.Lock()
		applied, ch := r.applied, r.advanced
		r.mu.Unlock()
		if applied >= position {
			return nil
		}
		select {
		case <-ctx.Done():
			return ErrNotCaughtUp
		case <-ch:
		}
	}
}

// decodeParallelMin is the page size from which DecodeRecords spreads the
// work over the CPUs.
const decodeParallelMin = 256

// DecodeRecords decodes the public payloads of a page of events. Unknown
// types decode to a nil payload (projectors ignore them); other failures are
// errors. Large pages are decoded on every CPU.
func DecodeRecords(codec *eventstore.Codec, page []eventstore.Event) ([]Record, error) {
	return decodeInto(codec, page, nil)
}

// decodeInto is DecodeRecords writing over dst when it is large enough.
func decodeInto(codec *eventstore.Codec, page []eventstore.Event, dst []Record) ([]Record, error) {
	batch := dst[:0]
	if cap(batch) < len(page) {
		batch = make([]Record, len(page))
	}
	batch = batch[:len(page)]
	workers := runtime.GOMAXPROCS(0)
	if len(page) < decodeParallelMin || workers < 2 {
		return batch, decodeRange(codec, page, batch)
	}
	chunk := (len(page) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(page))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = decodeRange(codec, page[lo:hi], batch[lo:hi])
		}()
	}
	wg.Wait()
	return batch, errors.Join(errs...)
}

func decodeRange(codec *eventstore.Codec, page []eventstore.Event, out []Record) error {
	var intern internSet
	for i := range page {
		ev := &page[i]
		if r, ok := fastUsageRecorded(ev, &intern); ok {
			out[i] = Record{Event: *ev, Payload: r}
			continue
		}
		if r, ok := fastUsageErrorReported(ev, &intern); ok {
			out[i] = Record{Event: *ev, Payload: r}
			continue
		}
		payload, err := codec.DecodePublic(*ev)
		if err != nil && !errors.Is(err, eventstore.ErrUnknownType) {
			return fmt.Errorf("decode position %d: %w", ev.Position, err)
		}
		out[i] = Record{Event: *ev, Payload: payload}
	}
	return nil
}

// Until bounds a replay: the last position to apply, or the last store time
// (events recorded after it are not applied). Zero fields mean no bound.
type Until struct {
	Position uint64
	Time     time.Time
}

func (u Until) cut(page []eventstore.Event) ([]eventstore.Event, bool) {
	for i := range page {
		if (u.Position != 0 && page[i].Position > u.Position) || (!u.Time.IsZero() && page[i].RecordedAt.After(u.Time)) {
			return page[:i], true
		}
	}
	return page, false
}

// ReplayConfig tunes Replay.
type ReplayConfig struct {
	PageSize int // events per read and per ApplyBatch; default 2000
	// Progress, when set, is called after each applied batch.
	Progress func(applied uint64)
}

// Replay applies the log to p from p's checkpoint up to until (or to the
// head at the time each read happens when until is zero) and returns the
// last position applied. Reading, decoding and applying run as a pipeline,
// so a rebuild is bound by the slowest stage, not by their sum.
//
// Replay recycles its pages and batches: p must not keep the batch slice
// past ApplyBatch (what it keeps of a record it copies, as the read models
// do).
func Replay(ctx context.Context, store eventstore.Store, codec *eventstore.Codec, p Projector, until Until, cfg ReplayConfig) (uint64, error) {
	if cfg.PageSize <= 0 {
		cfg.PageSize = 2000
	}
	from, err := p.Checkpoint(ctx)
	if err != nil {
		return 0, fmt.Errorf("projections: %s checkpoint: %w", p.Name(), err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type item struct {
		evs   []eventstore.Event
		batch []Record
		err   error
	}
	raw := make(chan item, 2)
	decoded := make(chan item, 2)
	// Free pages and batches go back to the stage that fills them. Each
	// pool holds at least as many buffers as can be in flight, so a put
	// never blocks; a take that finds none allocates.
	const pooled = 8
	freePages := make(chan []eventstore.Event, pooled)
	freeBatches := make(chan []Record, pooled)
	take := func(c chan []eventstore.Event) []eventstore.Event {
		select {
		case b := <-c:
			return b
		default:
			return nil
		}
	}
	go func() { // read: two pages always in flight over two connections (positions are gapless, so page starts are known)
		defer close(raw)
		type read struct {
			page []eventstore.Event
			err  error
		}
		var inFlight []chan read // in page order
		start := from + 1
		launch := func() {
			c, at, buf := make(chan read, 1), start, take(freePages)
			go func() {
				page, err := eventstore.ReadAllLean(ctx, store, buf, at, cfg.PageSize)
				c <- read{page, err}
			}()
			inFlight = append(inFlight, c)
			start += uint64(cfg.PageSize)
		}
		send := func(it item) bool {
			select {
			case raw <- it:
				return true
			case <-ctx.Done():
				return false
			}
		}
		launch()
		launch()
		next := from + 1
		for len(inFlight) > 0 {
			r := <-inFlight[0]
			inFlight = inFlight[1:]
			if r.err != nil {
				send(item{err: r.err})
				return
			}
			full := len(r.page) == cfg.PageSize
			page, stop := until.cut(r.page)
			if full && !stop {
				launch() // before handing this page on, so reading never waits for decoding
			}
			if len(page) > 0 {
				if page[0].Position != next {
					send(item{err: fmt.Errorf("projections: replay expected position %d, got %d", next, page[0].Position)})
					return
				}
				if !send(item{evs: page}) {
					return
				}
				next = page[len(page)-1].Position + 1
			}
			if stop || !full {
				return
			}
		}
	}()
	go func() { // decode
		defer close(decoded)
		for it := range raw {
			if it.err == nil {
				var dst []Record
				select {
				case dst = <-freeBatches:
				default:
				}
				it.batch, it.err = decodeInto(codec, it.evs, dst)
				select {
				case freePages <- it.evs[:0]:
				default:
				}
				it.evs = nil
			}
			select {
			case decoded <- it:
			case <-ctx.Done():
				return
			}
			if it.err != nil {
				return
			}
		}
	}()
	last := from
	for it := range decoded {
		if it.err != nil {
			return last, fmt.Errorf("projections: replay %s: %w", p.Name(), it.err)
		}
		if err := p.ApplyBatch(ctx, it.batch); err != nil {
			return last, fmt.Errorf("projections: replay %s up to %d: %w", p.Name(), it.batch[len(it.batch)-1].Position, err)
		}
		last = it.batch[len(it.batch)-1].Position
		if cfg.Progress != nil {
			cfg.Progress(last)
		}
		select {
		case freeBatches <- it.batch[:0]:
		default:
		}
	}
	return last, ctx.Err()
}
