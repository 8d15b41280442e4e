// Package eventstoredb is eventstore.Store on EventStoreDB/KurrentDB through
// EventStore-Client-Go v4 (package esdb), for deployments whose log lives in
// an EventStoreDB cluster.
//
// # How Ledgerline's guarantees are kept
//
// EventStoreDB's $all positions (commit/prepare) are global but not gapless,
// and v4 has no atomic append to several streams. Ledgerline needs one
// gapless, hash-chained order. So the adapter writes every event to a single
// stream, the log (default "ledgerline-log"): an event's log revision + 1 is
// its Ledgerline position. Each log append is sent with the expected revision
// of the log head this node knows, so appends from every node are serialised
// by the server's optimistic concurrency on that one stream; a node that lost
// the race reads the log forward, updates its index, re-checks its requests
// and tries again. The hash chain is computed client-side while holding that
// serialisation, so it is correct across nodes.
//
// Aggregate streams are therefore virtual: a stream's expected version is
// checked against an in-memory index (stream → positions, id → position) that
// every node builds from the log at Open and keeps current before each
// append, ReadStream and Head. The index costs memory proportional to the log
// (about 100 bytes per event); ReadStream reads the log at the indexed
// positions. Event ids go to EventID, so the server also drops a retried
// append of the same events at the same expected revision; the adapter's own
// id index makes repeats idempotent at any age, as the contract demands.
// Envelope fields without an EventStoreDB counterpart (stream, version,
// position, schema, recorded_at, subject, sealed, meta, prev_hash, hash) are
// the event's user metadata in a compact binary encoding (see encodeMeta).
//
// It must never return esdb errors for expected conditions: those map to
// eventstore's sentinel errors.
package eventstoredb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// DefaultLogStream is the stream holding the whole Ledgerline log. It is not
// a $-prefixed system stream, so it needs no admin rights.
const DefaultLogStream = "ledgerline-log"

// Config configures Open. Only URL is required.
type Config struct {
	// URL is an EventStoreDB connection string, e.g.
	// "esdb://admin:changeit@localhost:2113?tls=false" or
	// "esdb+discover://node1,node2,node3". Required.
	URL string
	// LogStream names the log stream. Default DefaultLogStream.
	LogStream string
	// MaxBatchEvents bounds the events of one group commit. Default 2000;
	// at most 10000 (the server's append size limit is 16 MiB by default).
	MaxBatchEvents int
	// AppendRetries bounds how often one batch is re-planned after losing the
	// log to another node. Default 100.
	AppendRetries int
	// PollInterval is how often a subscriber re-reads without a wake-up from
	// the server subscription. Default 1s.
	PollInterval time.Duration
	// CommitTimeout bounds one group commit. Default 30s.
	CommitTimeout time.Duration
}

func (c *Config) validate() error {
	switch {
	case c.URL == "":
		return errors.New("eventstoredb: Config.URL is required")
	case len(c.LogStream) > eventstore.MaxStreamLen:
		return errors.New("eventstoredb: Config.LogStream too long")
	case c.MaxBatchEvents < 0 || c.MaxBatchEvents > eventstore.MaxEventsCall:
		return fmt.Errorf("eventstoredb: Config.MaxBatchEvents must be between 0 (default) and %d", eventstore.MaxEventsCall)
	case c.AppendRetries < 0:
		return errors.New("eventstoredb: Config.AppendRetries must be >= 0")
	case c.PollInterval < 0 || c.CommitTimeout < 0:
		return errors.New("eventstoredb: durations must be >= 0")
	}
	if c.LogStream == "" {
		c.LogStream = DefaultLogStream
	}
	if c.MaxBatchEvents == 0 {
		c.MaxBatchEvents = 2000
	}
	if c.AppendRetries == 0 {
		c.AppendRetries = 100
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = 30 * time.Second
	}
	return nil
}

type idEntry struct {
	pos    uint64
	stream string
	typ    string
}

// index is what the node knows of the log up to head.
type index struct {
	head    eventstore.Head
	streams map[string][]uint64
	ids     map[uuid.UUID]idEntry
}

func (ix *index) add(e *eventstore.Event) {
	ix.streams[e.Stream] = append(ix.streams[e.Stream], e.Position)
	ix.ids[e.ID] = idEntry{pos: e.Position, stream: e.Stream, typ: e.Type}
	ix.head = eventstore.Head{Position: e.Position, Hash: e.Hash}
}

// Store is eventstore.Store on EventStoreDB. Safe for concurrent use.
type Store struct {
	cfg    Config
	client *esdb.Client

	mu sync.RWMutex // guards ix; held for writing while catching up or committing
	ix index

	gc        *eventstore.GroupCommitter
	wake      eventstore.Broadcaster
	stopWatch context.CancelFunc
	watchDone chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
}

var _ eventstore.Store = (*Store)(nil)

// Open connects, reads the log to build the index, and starts a server
// subscription to the log that wakes local subscribers.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	conf, err := esdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("eventstoredb: invalid Config.URL: %w", err)
	}
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("%w: eventstoredb: connect: %v", eventstore.ErrUnavailable, err)
	}
	s := &Store{
		cfg: cfg, client: client,
		ix:     index{streams: map[string][]uint64{}, ids: map[uuid.UUID]idEntry{}},
		closed: make(chan struct{}),
	}
	s.mu.Lock()
	err = s.catchUp(ctx)
	s.mu.Unlock()
	if err != nil {
		client.Close()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.stopWatch, s.watchDone = cancel, make(chan struct{})
	go s.watch(wctx)
	s.gc = eventstore.NewGroupCommitter(cfg.MaxBatchEvents, s.commit)
	return s, nil
}

// Close stops the committer and the watcher and closes the client.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.gc.Close()
		s.stopWatch()
		<-s.watchDone
		s.wake.Notify()
		err = s.client.Close()
	})
	return err
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// logRevision maps "the log is at position head" to the esdb expected
// revision of the next log append.
func logRevision(head uint64) esdb.ExpectedRevision {
	return expectedRevision(eventstore.Exact(head))
}

// expectedRevision maps a Ledgerline expected version to esdb's: versions
// are 1-based, esdb revisions 0-based.
func expectedRevision(v eventstore.ExpectedVersion) esdb.ExpectedRevision {
	switch {
	case v == eventstore.Any:
		return esdb.Any{}
	case v == eventstore.StreamExists:
		return esdb.StreamExists{}
	case v == eventstore.NoStream:
		return esdb.NoStream{}
	default:
		return esdb.Revision(uint64(v) - 1)
	}
}

// errCode returns the esdb error code inside err, if any.
func errCode(err error) (esdb.ErrorCode, bool) {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}

// mapCode turns an esdb failure into Ledgerline's error vocabulary. stream
// and expected describe the append (if any) for a ConcurrencyError.
func mapCode(code esdb.ErrorCode, err error, stream string, expected eventstore.ExpectedVersion, actual uint64) error {
	switch code {
	case esdb.ErrorCodeWrongExpectedVersion:
		return &eventstore.ConcurrencyError{Stream: stream, Expected: expected, Actual: actual}
	case esdb.ErrorCodeResourceNotFound:
		return eventstore.ErrNotFound
	case esdb.ErrorCodeDeadlineExceeded:
		return fmt.Errorf("%w: eventstoredb: %w", eventstore.ErrUnavailable, context.DeadlineExceeded)
	case esdb.ErrorUnavailable, esdb.ErrorCodeNotLeader, esdb.ErrorCodeConnectionClosed:
		return fmt.Errorf("%w: eventstoredb: %v", eventstore.ErrUnavailable, err)
	}
	return fmt.Errorf("eventstoredb: %w", err)
}

// mapErr is mapCode for any error (nil stays nil; context errors stay).
func mapErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if code, ok := errCode(err); ok {
		return mapCode(code, err, "", 0, 0)
	}
	return fmt.Errorf("eventstoredb: %w", err)
}

// readLog reads up to count log events from revision rev, decoded. A missing
// log reads as empty.
func (s *Store) readLog(ctx context.Context, rev, count uint64) ([]eventstore.Event, error) {
	rs, err := s.client.ReadStream(ctx, s.cfg.LogStream, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(rev)}, count)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rs.Close()
	var out []eventstore.Event
	for {
		re, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if code, ok := errCode(err); ok && code == esdb.ErrorCodeResourceNotFound {
			return out, nil
		}
		if err != nil {
			return nil, mapErr(err)
		}
		e, err := decodeRecorded(re.OriginalEvent())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
}

// decodeRecorded rebuilds the envelope stored in a log event.
func decodeRecorded(r *esdb.RecordedEvent) (eventstore.Event, error) {
	m, err := decodeMeta(r.UserMetadata)
	if err != nil {
		return eventstore.Event{}, fmt.Errorf("eventstoredb: log revision %d: %w", r.EventNumber, err)
	}
	if m.Position != r.EventNumber+1 {
		return eventstore.Event{}, &eventstore.ChainError{Position: r.EventNumber + 1,
			Reason: fmt.Sprintf("log revision %d carries position %d", r.EventNumber, m.Position)}
	}
	e := eventstore.Event{ID: r.EventID, Type: r.EventType, Data: r.Data}
	m.apply(&e)
	return e, nil
}

// catchUp reads the log past the index head. Caller holds s.mu for writing.
func (s *Store) catchUp(ctx context.Context) error {
	for {
		page, err := s.readLog(ctx, s.ix.head.Position, 4096)
		if err != nil {
			return err
		}
		for i := range page {
			e := &page[i]
			if e.Position != s.ix.head.Position+1 || e.PrevHash != s.ix.head.Hash {
				return &eventstore.ChainError{Position: e.Position, Reason: "log does not continue the known head"}
			}
			s.ix.add(e)
		}
		if len(page) < 4096 {
			return nil
		}
	}
}

// refresh brings the index up to the log's current end.
func (s *Store) refresh(ctx context.Context) error {
	if s.isClosed() {
		return eventstore.ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.catchUp(ctx)
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if s.isClosed() {
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	in := append([]eventstore.Event(nil), events...)
	if err := eventstore.PrepareAppend(stream, expected, in); err != nil {
		return eventstore.AppendResult{}, err
	}
	return s.gc.Submit(ctx, stream, expected, in)
}

// commit writes one group of requests as one log append, re-planning after
// losing the log to another node.
func (s *Store) commit(reqs []*eventstore.AppendRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		data, written := s.plan(reqs)
		if len(data) == 0 {
			return
		}
		_, err := s.client.AppendToStream(ctx, s.cfg.LogStream, esdb.AppendToStreamOptions{ExpectedRevision: logRevision(s.ix.head.Position)}, data...)
		if err == nil {
			for _, e := range written {
				s.ix.add(e)
			}
			s.wake.Notify()
			return
		}
		code, ok := errCode(err)
		if !ok || code != esdb.ErrorCodeWrongExpectedVersion || attempt >= s.cfg.AppendRetries {
			// The outcome may be unknown (timeout): the next append or read
			// catches up, and a retried call is then a harmless repeat.
			for _, r := range reqs {
				if r.Err == nil && !r.Result.Duplicate {
					r.Err, r.Result = mapErr(err), eventstore.AppendResult{}
				}
			}
			return
		}
		if err := s.catchUp(ctx); err != nil {
			for _, r := range reqs {
				r.Err, r.Result = err, eventstore.AppendResult{}
			}
			return
		}
	}
}

// plan checks every request against the index and lays out the accepted
// ones after the head: it fills each request's Result or Err and returns the
// log events to write.
func (s *Store) plan(reqs []*eventstore.AppendRequest) ([]esdb.EventData, []*eventstore.Event) {
	var (
		data    []esdb.EventData
		written []*eventstore.Event
		next    = s.ix.head.Position + 1
		prev    = s.ix.head.Hash
		now     = eventstore.Now()
		scratch []byte
		pending = map[string]uint64{} // stream versions including this batch
		batch   = map[uuid.UUID]idEntry{}
	)
	version := func(stream string) uint64 {
		if v, ok := pending[stream]; ok {
			return v
		}
		return uint64(len(s.ix.streams[stream]))
	}
	for _, r := range reqs {
		r.Err, r.Result = nil, eventstore.AppendResult{}
		if err := r.Ctx.Err(); err != nil {
			r.Err = err
			continue
		}
		current := version(r.Stream)
		if res, done, err := s.repeats(r.Events, batch); done || err != nil {
			res.NextVersion = current
			r.Result, r.Err = res, err
			continue
		}
		if !r.Expected.Check(current) {
			r.Err = &eventstore.ConcurrencyError{Stream: r.Stream, Expected: r.Expected, Actual: current}
			continue
		}
		r.Result.FirstPosition = next
		for i := range r.Events {
			e := &r.Events[i]
			current++
			e.Version, e.Position, e.RecordedAt = current, next, now
			scratch = eventstore.Link(e, prev, scratch)
			prev = e.Hash
			next++
			m := metaOf(e)
			data = append(data, esdb.EventData{
				EventID: e.ID, EventType: e.Type, ContentType: esdb.ContentTypeJson,
				Data: e.Data, Metadata: encodeMeta(&m),
			})
			written = append(written, e)
			batch[e.ID] = idEntry{pos: e.Position, stream: e.Stream, typ: e.Type}
		}
		pending[r.Stream] = current
		r.Result.LastPosition = next - 1
		r.Result.NextVersion = current
	}
	return data, written
}

// repeats handles ids already stored (or earlier in the batch), as MemStore.
func (s *Store) repeats(in []eventstore.Event, batch map[uuid.UUID]idEntry) (eventstore.AppendResult, bool, error) {
	var res eventstore.AppendResult
	found := 0
	for i := range in {
		ent, ok := s.ix.ids[in[i].ID]
		if !ok {
			ent, ok = batch[in[i].ID]
		}
		if !ok {
			continue
		}
		stored := eventstore.Event{Stream: ent.stream, Type: ent.typ}
		if !eventstore.IsRepeat(&stored, &in[i]) {
			return res, false, fmt.Errorf("%w: event %d is stored in another stream or with another type", eventstore.ErrDuplicateID, i)
		}
		if found == 0 {
			res.FirstPosition = ent.pos
		}
		res.LastPosition = ent.pos
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

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, from uint64, limit int) ([]eventstore.Event, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	count := uint64(math.MaxInt64)
	if limit > 0 {
		count = uint64(limit)
	}
	return s.readLog(ctx, from-1, count)
}

// ReadStream implements eventstore.Store: it refreshes the index, then reads
// the stream's positions from the log, one request per contiguous run.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Event, error) {
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	if from == 0 {
		from = 1
	}
	s.mu.RLock()
	all := s.ix.streams[stream]
	var positions []uint64
	if from <= uint64(len(all)) {
		positions = append(positions, all[from-1:]...)
	}
	s.mu.RUnlock()
	if limit > 0 && len(positions) > limit {
		positions = positions[:limit]
	}
	out := make([]eventstore.Event, 0, len(positions))
	for i := 0; i < len(positions); {
		j := i + 1
		for j < len(positions) && positions[j] == positions[j-1]+1 {
			j++
		}
		page, err := s.readLog(ctx, positions[i]-1, uint64(j-i))
		if err != nil {
			return nil, err
		}
		if len(page) != j-i {
			return nil, fmt.Errorf("eventstoredb: log shorter than its index at position %d", positions[i])
		}
		out = append(out, page...)
		i = j
	}
	return out, nil
}

// Subscribe implements eventstore.Store. Order and gaplessness come from
// reading the log by revision (the subscriber's checkpoint is its next
// position, kept client-side); the server subscription only wakes it.
func (s *Store) Subscribe(ctx context.Context, from uint64, fn func(eventstore.Event) error) error {
	if s.isClosed() {
		return eventstore.ErrClosed
	}
	return eventstore.Follow(ctx, from, s.ReadAll, s.wake.Wait, eventstore.FollowConfig{PollInterval: s.cfg.PollInterval}, fn)
}

// Changed implements eventstore.ChangeNotifier.
func (s *Store) Changed() <-chan struct{} { return s.wake.Wait() }

// watch keeps a server subscription to the log's end, waking local
// subscribers on every new event; it resubscribes when dropped.
func (s *Store) watch(ctx context.Context) {
	defer close(s.watchDone)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		sub, err := s.client.SubscribeToStream(ctx, s.cfg.LogStream, esdb.SubscribeToStreamOptions{From: esdb.End{}})
		if err == nil {
			backoff = 100 * time.Millisecond
			for {
				ev := sub.Recv()
				if ev.EventAppeared != nil {
					s.wake.Notify()
					continue
				}
				if ev.SubscriptionDropped != nil {
					break
				}
			}
			sub.Close()
			// anything appended while we were away is found by the readers' poll
			s.wake.Notify()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Head, error) {
	if err := s.refresh(ctx); err != nil {
		return eventstore.Head{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.head, nil
}
