// Package embedded is Ledgerline's zero-install storage: bbolt files in one
// data directory. The event store (store*.go) keeps the log in events.db and
// writes it through a group committer, so concurrent appends share one
// transaction and one fsync; the vault keeps subject keys in a file of its
// own, so shredding a key never rewrites the log.
//
// It implements the eventstore contracts and nothing more: it must never know
// about domain events, commands or HTTP.
package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ledgerline/ledgerline/eventstore"
)

// EventsFile is the name of the log file inside the data directory.
const EventsFile = "events.db"

// Bucket names. Keys that hold positions or versions are big-endian so bolt's
// byte order is numeric order and appends land at the right edge of the tree.
var (
	bucketEvents  = []byte("events")  // position → encoded envelope
	bucketStreams = []byte("streams") // len(stream) | stream | chunk → positions (store_index.go)
	bucketHeads   = []byte("heads")   // stream → current version and unsealed positions
	bucketIDs     = []byte("ids")     // event id (16 bytes) → position
	bucketMeta    = []byte("meta")    // "head" → position | hash; "format" → version

	keyHead   = []byte("head")
	keyFormat = []byte("format")
)

const fileFormat byte = 1

// Options tunes a Store. The zero value gives durable defaults.
type Options struct {
	// MaxBatchEvents bounds the events written by one group commit (one
	// transaction, one fsync). A single larger Append is committed alone.
	// Default 2000.
	MaxBatchEvents int
	// LockTimeout is how long Open waits for the file lock held by another
	// Store on the same directory (in this or another process) before failing.
	// Default 1s.
	LockTimeout time.Duration
	// InitialMmapSize is the initial size of bolt's memory map. Writers must
	// wait for every reader whenever the map grows, so a generous size keeps
	// long reads and subscriptions from stalling appends. It is address space,
	// not disk or memory. Default 256 MiB.
	InitialMmapSize int
	// PollInterval is how often a caught-up Subscribe re-reads even without
	// an append in this process. Default 1s.
	PollInterval time.Duration
	// NoSync skips fsync. For tests only: a crash loses acknowledged appends.
	NoSync bool
}

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.MaxBatchEvents < 0:
		return o, errors.New("embedded: MaxBatchEvents must not be negative")
	case o.LockTimeout < 0:
		return o, errors.New("embedded: LockTimeout must not be negative")
	case o.InitialMmapSize < 0:
		return o, errors.New("embedded: InitialMmapSize must not be negative")
	case o.PollInterval < 0:
		return o, errors.New("embedded: PollInterval must not be negative")
	}
	if o.MaxBatchEvents == 0 {
		o.MaxBatchEvents = 2000
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	if o.InitialMmapSize == 0 {
		o.InitialMmapSize = 256 << 20
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	return o, nil
}

// Store is the embedded event store. Every method is safe for concurrent use.
type Store struct {
	dir    string
	db     *bbolt.DB
	gc     *eventstore.GroupCommitter
	wake   eventstore.Broadcaster
	follow eventstore.FollowConfig

	mu     sync.RWMutex // readers hold it shared; Close takes it to shut the db
	closed bool
	once   sync.Once

	stats struct{ commits, events atomic.Uint64 }

	// Owned by the committing goroutine.
	arena   arena
	scratch []byte
	tail    []uint64
}

var (
	_ eventstore.Store          = (*Store)(nil)
	_ eventstore.RawTamperer    = (*Store)(nil)
	_ eventstore.ChangeNotifier = (*Store)(nil)
)

// Open opens (creating if needed) the store in dir. A directory can be open in
// only one Store at a time; a second Open fails after opts.LockTimeout.
func Open(dir string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("embedded: data directory is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: create data directory: %w", err)
	}
	path := filepath.Join(dir, EventsFile)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         opts.LockTimeout,
		NoSync:          opts.NoSync,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: opts.InitialMmapSize,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("embedded: %s is locked by another open store (in this or another process)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	if err := db.Update(initBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	s := &Store{
		dir:    dir,
		db:     db,
		follow: eventstore.FollowConfig{PollInterval: opts.PollInterval},
	}
	s.gc = eventstore.NewGroupCommitter(opts.MaxBatchEvents, s.commit)
	return s, nil
}

// initBuckets creates the buckets of a new file and checks an existing one:
// its format and that the recorded head is the last stored event.
func initBuckets(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketEvents, bucketStreams, bucketHeads, bucketIDs, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch f := meta.Get(keyFormat); {
	case f == nil:
		if err := meta.Put(keyFormat, []byte{fileFormat}); err != nil {
			return err
		}
	case len(f) != 1 || f[0] != fileFormat:
		return fmt.Errorf("%w: unknown file format %x", ErrCorrupt, f)
	}
	head, err := readHead(meta)
	if err != nil {
		return err
	}
	var last uint64
	if k, _ := tx.Bucket(bucketEvents).Cursor().Last(); k != nil {
		if len(k) != 8 {
			return fmt.Errorf("%w: event key of %d bytes", ErrCorrupt, len(k))
		}
		last = binary.BigEndian.Uint64(k)
	}
	if last != head.Position {
		return fmt.Errorf("%w: head says position %d, last stored event is %d", ErrCorrupt, head.Position, last)
	}
	return nil
}

func readHead(meta *bbolt.Bucket) (eventstore.Head, error) {
	v := meta.Get(keyHead)
	if v == nil {
		return eventstore.Head{}, nil
	}
	if len(v) != 8+32 {
		return eventstore.Head{}, fmt.Errorf("%w: head record of %d bytes", ErrCorrupt, len(v))
	}
	h := eventstore.Head{Position: binary.BigEndian.Uint64(v)}
	copy(h.Hash[:], v[8:])
	return h, nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	// Our own copy: PrepareAppend fills defaults and the committer sets the
	// store fields, neither of which the caller should see in its slice.
	in := append([]eventstore.Event(nil), events...)
	if err := eventstore.PrepareAppend(stream, expected, in); err != nil {
		return eventstore.AppendResult{}, err
	}
	return s.gc.Submit(ctx, stream, expected, in)
}

// errNothingWritten rolls back a batch whose requests all failed or repeated.
var errNothingWritten = errors.New("embedded: nothing written")

// txBuckets are the buckets of one write transaction.
type txBuckets struct {
	events, streams, heads, ids, meta *bbolt.Bucket
}

// commit is the group committer's callback: it writes a whole batch in one
// transaction. Each request is checked against the transaction's state, which
// already includes the earlier requests of the batch, and gets its own result;
// only a failure of the transaction itself fails them all.
func (s *Store) commit(batch []*eventstore.AppendRequest) {
	s.arena.reset()
	var head eventstore.Head
	var written uint64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := txBuckets{
			events:  tx.Bucket(bucketEvents),
			streams: tx.Bucket(bucketStreams),
			heads:   tx.Bucket(bucketHeads),
			ids:     tx.Bucket(bucketIDs),
			meta:    tx.Bucket(bucketMeta),
		}
		// Append-only with ascending keys: fill pages completely.
		b.events.FillPercent = 1.0
		b.ids.FillPercent = 0.9 // UUIDv7 ids are nearly ascending
		var err error
		if head, err = readHead(b.meta); err != nil {
			return err
		}
		start := head.Position
		now := eventstore.Now()
		for _, r := range batch {
			var fatal error
			r.Result, r.Err, fatal = s.apply(&b, &head, now, r)
			if fatal != nil {
				return fatal
			}
		}
		if head.Position == start {
			return errNothingWritten // roll back: no commit, no fsync
		}
		written = head.Position - start
		v := s.arena.alloc(8 + 32)
		binary.BigEndian.PutUint64(v, head.Position)
		copy(v[8:], head.Hash[:])
		return b.meta.Put(keyHead, v)
	})
	if errors.Is(err, errNothingWritten) {
		return
	}
	if err != nil {
		err = fmt.Errorf("%w: embedded: commit: %w", eventstore.ErrUnavailable, err)
		for _, r := range batch {
			r.Result, r.Err = eventstore.AppendResult{}, err
		}
		return
	}
	s.stats.commits.Add(1)
	s.stats.events.Add(written)
	s.wake.Notify()
}

// Stats counts the store's group commits since Open.
type Stats struct {
	Commits uint64 // transactions that wrote events (one fsync each)
	Events  uint64 // events written
}

// Stats returns the commit counters (for benchmarks and metrics).
func (s *Store) Stats() Stats {
	return Stats{Commits: s.stats.commits.Load(), Events: s.stats.events.Load()}
}

// apply checks and writes one request inside the batch transaction. It
// returns the request's own outcome, and fatal when the transaction itself
// failed and must be rolled back.
func (s *Store) apply(b *txBuckets, head *eventstore.Head, now time.Time, r *eventstore.AppendRequest) (res eventstore.AppendResult, reqErr, fatal error) {
	sh, err := decodeHead(b.heads.Get([]byte(r.Stream)), s.tail)
	if err != nil { // only this stream is damaged: fail only its appends
		return res, fmt.Errorf("stream %q: %w", r.Stream, err), nil
	}
	s.tail = sh.tail
	current := sh.version
	res, done, reqErr := repeats(b, r.Events)
	if reqErr != nil {
		return eventstore.AppendResult{}, reqErr, nil
	}
	if done {
		res.NextVersion = current
		return res, nil, nil
	}
	if !r.Expected.Check(current) {
		return res, &eventstore.ConcurrencyError{Stream: r.Stream, Expected: r.Expected, Actual: current}, nil
	}

	// bolt copies keys but keeps values until the commit: values come from
	// the arena, which lives until the next batch.
	var pos [8]byte
	res.FirstPosition = head.Position + 1
	for i := range r.Events {
		e := &r.Events[i]
		current++
		head.Position++
		e.Version = current
		e.Position = head.Position
		e.RecordedAt = now
		s.scratch = eventstore.Link(e, head.Hash, s.scratch)
		head.Hash = e.Hash

		binary.BigEndian.PutUint64(pos[:], e.Position)
		val := s.arena.alloc(encodedSize(e))
		val = appendEvent(val[:0], e)
		if err := b.events.Put(pos[:], val); err != nil {
			return res, nil, err
		}
		posVal := s.arena.alloc(8)
		copy(posVal, pos[:])
		if err := b.ids.Put(e.ID[:], posVal); err != nil {
			return res, nil, err
		}
		sh.tail = append(sh.tail, e.Position)
		if len(sh.tail) == chunkLen {
			chunk := s.arena.alloc(chunkLen * binary.MaxVarintLen64)
			chunk = appendPositions(chunk[:0], sh.tail)
			if err := b.streams.Put(streamKey(s.scratch[:0], r.Stream, current/chunkLen-1), chunk); err != nil {
				return res, nil, err
			}
			sh.tail = sh.tail[:0]
		}
	}
	sh.version = current
	hv := s.arena.alloc(maxHeadSize)
	hv = appendHead(hv[:0], &sh)
	if err := b.heads.Put([]byte(r.Stream), hv); err != nil {
		return res, nil, err
	}
	s.tail = sh.tail
	res.LastPosition = head.Position
	res.NextVersion = current
	return res, nil, nil
}

// repeats handles ids already stored (eventstore.IsRepeat): every event a
// repeat → the original positions (done); some → ErrDuplicateID; none → go on.
func repeats(b *txBuckets, in []eventstore.Event) (res eventstore.AppendResult, done bool, err error) {
	found := 0
	for i := range in {
		v := b.ids.Get(in[i].ID[:])
		if v == nil {
			continue
		}
		if len(v) != 8 {
			return res, false, fmt.Errorf("%w: id record of %d bytes", ErrCorrupt, len(v))
		}
		stored, err := decodeEvent(b.events.Get(v))
		if err != nil {
			return res, false, fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(v), err)
		}
		if !eventstore.IsRepeat(&stored, &in[i]) {
			return res, false, fmt.Errorf("%w: event %d is stored in another stream or with another type", eventstore.ErrDuplicateID, i)
		}
		if found == 0 {
			res.FirstPosition = stored.Position
		}
		res.LastPosition = stored.Position
		found++
	}
	switch {
	case found == 0:
		return res, false, nil
	case found < len(in):
		return eventstore.AppendResult{}, false, fmt.Errorf("%w: only some events of the call are already stored", eventstore.ErrDuplicateID)
	}
	res.Duplicate = true
	return res, true, nil
}

// view runs fn in a read-only transaction unless the store is closed.
func (s *Store) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	return s.db.View(fn)
}

// ctxCheckEvery is how many events a read decodes between context checks.
const ctxCheckEvery = 1024

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Event, error) {
	if from == 0 {
		from = 1
	}
	if len(stream) > eventstore.MaxStreamLen {
		return nil, nil // cannot exist
	}
	var out []eventstore.Event
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		h, err := decodeHead(tx.Bucket(bucketHeads).Get([]byte(stream)), nil)
		if err != nil {
			return fmt.Errorf("stream %q: %w", stream, err)
		}
		if h.version < from {
			return nil
		}
		n := h.version - from + 1
		if limit > 0 && uint64(limit) < n {
			n = uint64(limit)
		}
		out = make([]eventstore.Event, 0, min(n, 4096))
		sp := streamPositions{stream: stream, head: h, chunks: tx.Bucket(bucketStreams)}
		events := tx.Bucket(bucketEvents)
		var (
			d   decoder
			key [8]byte
		)
		for v := from; uint64(len(out)) < n; v++ {
			if len(out)%ctxCheckEvery == ctxCheckEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			p, err := sp.position(v)
			if err != nil {
				return err
			}
			binary.BigEndian.PutUint64(key[:], p)
			val := events.Get(key[:])
			if val == nil {
				return fmt.Errorf("%w: stream %q version %d points at missing position %d", ErrCorrupt, stream, v, p)
			}
			out = append(out, eventstore.Event{})
			e := &out[len(out)-1]
			if err := d.decode(e, val); err != nil {
				return fmt.Errorf("position %d: %w", p, err)
			}
			if e.Stream != stream || e.Version != v || e.Position != p {
				return fmt.Errorf("%w: stream %q version %d points at another event (position %d)", ErrCorrupt, stream, v, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, from uint64, limit int) ([]eventstore.Event, error) {
	if from == 0 {
		from = 1
	}
	var out []eventstore.Event
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		head, err := readHead(tx.Bucket(bucketMeta))
		if err != nil || head.Position < from {
			return err
		}
		n := head.Position - from + 1
		if limit > 0 && uint64(limit) < n {
			n = uint64(limit)
		}
		out = make([]eventstore.Event, 0, min(n, 4096))
		var (
			d    decoder
			seek [8]byte
			want = from
		)
		binary.BigEndian.PutUint64(seek[:], from)
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(seek[:]); k != nil && uint64(len(out)) < n; k, v = c.Next() {
			if len(out)%ctxCheckEvery == ctxCheckEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			out = append(out, eventstore.Event{})
			e := &out[len(out)-1]
			if err := d.decode(e, v); err != nil {
				return fmt.Errorf("position %d: %w", want, err)
			}
			if len(k) != 8 || binary.BigEndian.Uint64(k) != e.Position || e.Position != want {
				return fmt.Errorf("%w: position %d stored under key %x", ErrCorrupt, e.Position, k)
			}
			want++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, from uint64, fn func(eventstore.Event) error) error {
	return eventstore.Follow(ctx, from, s.ReadAll, s.wake.Wait, s.follow, fn)
}

// Changed implements eventstore.ChangeNotifier: the channel closes after the
// next commit (or Close). Take it before reading.
func (s *Store) Changed() <-chan struct{} { return s.wake.Wait() }

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Head, error) {
	var h eventstore.Head
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		h, err = readHead(tx.Bucket(bucketMeta))
		return err
	})
	return h, err
}

// Close lets queued appends commit, then closes the file. Later calls fail
// with eventstore.ErrClosed; subscribers return it.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.gc.Close()
		s.mu.Lock()
		s.closed = true
		err = s.db.Close()
		s.mu.Unlock()
		s.wake.Notify()
	})
	return err
}

// TamperData flips one byte of the stored data of the event at position,
// directly in the bolt value and without touching its hash, so the chain
// check must notice. Test use only.
func (s *Store) TamperData(ctx context.Context, position uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], position)
		b := tx.Bucket(bucketEvents)
		v := b.Get(key[:])
		if v == nil {
			return eventstore.ErrNotFound
		}
		off, n, err := dataOffset(v)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("embedded: event %d has no data to tamper with", position)
		}
		tampered := append([]byte(nil), v...)
		tampered[off+n/2] ^= 0x01
		return b.Put(key[:], tampered)
	})
}

// arena hands out value buffers that must outlive a bolt Put until the
// commit. Reset once the transaction is over; it then reuses its last chunk.
type arena struct{ buf []byte }

func (a *arena) alloc(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(2*cap(a.buf), n, 64<<10))
	}
	start := len(a.buf)
	a.buf = a.buf[:start+n]
	return a.buf[start : start+n : start+n]
}

// maxArenaKeep bounds the chunk an arena keeps between batches, so one batch
// of huge events does not pin its memory for the life of the store.
const maxArenaKeep = 8 << 20

func (a *arena) reset() {
	if cap(a.buf) > maxArenaKeep {
		a.buf = nil
	}
	a.buf = a.buf[:0]
}
