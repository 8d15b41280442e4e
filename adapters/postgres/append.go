package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/eventstore"
)

// How appends stay fast and correct
//
// The committer goroutine caches the log head and the versions of recently
// written streams. With a valid cache a batch costs one round trip: a pipeline
// (one implicit transaction) that takes the advisory lock and runs one
// statement which moves the head row only if it still holds the cached head
// and inserts the rows only if it did. The unique constraints on id and on
// (stream, version) guard the cached versions and the assumption that ids are
// new. When the head moved (another process appended) or a constraint fires
// (an id repeat, a stream we assumed new), nothing was written and the batch
// is planned again from the database under the lock (the slow path). A large
// batch goes as one simple query with a COPY fed while the chain is hashed
// (streamCommit); copy.go encodes its rows.

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	in := append([]eventstore.Event(nil), events...)
	if err := eventstore.PrepareAppend(stream, expected, in); err != nil {
		return eventstore.AppendResult{}, err
	}
	if s.isClosed() {
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	return s.gc.Submit(ctx, stream, expected, in)
}

type idInfo struct {
	pos    uint64
	stream string
	typ    string
}

// writer is the committer's state; only the group-commit goroutine uses it.
type writer struct {
	headKnown bool
	head      eventstore.Head
	versions  map[string]uint64
	capacity  int
	scratch   []byte

	// per batch
	work     map[string]uint64
	batchIDs map[uuid.UUID]idInfo
	rows     rowArrays
	stream   *copyStream // when set, plan streams each accepted request's rows
	streamer copyStream

	conn     *pgxpool.Conn // kept between writes, see writerConn
	connUsed time.Time
}

func (w *writer) init(capacity int) {
	w.capacity = capacity
	w.versions = make(map[string]uint64)
	w.work = make(map[string]uint64)
	w.batchIDs = make(map[uuid.UUID]idInfo)
}

func (w *writer) forget() {
	w.headKnown = false
	clear(w.versions)
}

func (w *writer) remember(stream string, v uint64) {
	if _, ok := w.versions[stream]; !ok && len(w.versions) >= w.capacity {
		// Evict an arbitrary tenth; evicted streams are read back on demand.
		n := w.capacity / 10
		for k := range w.versions {
			if n <= 0 {
				break
			}
			delete(w.versions, k)
			n--
		}
	}
	w.versions[stream] = v
}

type rowArrays struct {
	positions []int64
	ids       [][16]byte
	streams   []string
	versions  []int64
	types     []string
	schemas   []int32
	data      [][]byte
	subjects  []pgtype.UUID
	sealed    [][]byte
	meta      [][]byte
	prevs     [][]byte
	hashes    [][]byte
	hashBuf   []byte
	copyBuf   []byte // the binary COPY stream of the last large batch

	recordedAt time.Time // one store time for the whole batch
}

func (r *rowArrays) reset() {
	r.positions = r.positions[:0]
	r.ids = r.ids[:0]
	r.streams = r.streams[:0]
	r.versions = r.versions[:0]
	r.types = r.types[:0]
	r.schemas = r.schemas[:0]
	r.data = r.data[:0]
	r.subjects = r.subjects[:0]
	r.sealed = r.sealed[:0]
	r.meta = r.meta[:0]
	r.prevs = r.prevs[:0]
	r.hashes = r.hashes[:0]
	r.hashBuf = r.hashBuf[:0]
}

func (r *rowArrays) add(e *eventstore.Event) {
	r.positions = append(r.positions, int64(e.Position))
	r.ids = append(r.ids, e.ID)
	r.streams = append(r.streams, e.Stream)
	r.versions = append(r.versions, int64(e.Version))
	r.types = append(r.types, e.Type)
	r.schemas = append(r.schemas, int32(e.Schema))
	r.data = append(r.data, e.Data)
	var subj pgtype.UUID
	if e.Subject != "" {
		// PrepareAppend admitted only canonical UUIDs
		u, _ := uuid.Parse(e.Subject)
		subj = pgtype.UUID{Bytes: u, Valid: true}
	}
	r.subjects = append(r.subjects, subj)
	if len(e.Sealed) == 0 {
		r.sealed = append(r.sealed, nil)
	} else {
		r.sealed = append(r.sealed, e.Sealed)
	}
	r.meta = append(r.meta, encodeMeta(&e.Meta))
	r.prevs = append(r.prevs, e.PrevHash[:])
	r.hashes = append(r.hashes, e.Hash[:])
}

// outcome of one request while planning.
const (
	pending  = iota // fast path: failed its check; needs its ids looked up
	accepted        // will be written
	final           // Result/Err already set
)

// plan assigns positions, versions and hashes to the requests that pass their
// checks, in order, as if they were appended one after another. full means
// lookup holds every stored event with an id of the batch (slow path); else
// ids are assumed new (the unique index guards that) and failing requests are
// left pending. It reports false when the fast path cannot decide.
func (s *Store) plan(reqs []*eventstore.AppendRequest, kinds []int, full bool, lookup map[uuid.UUID]idInfo, now time.Time) bool {
	w := &s.w
	clear(w.work)
	clear(w.batchIDs)
	w.rows.reset()
	w.rows.recordedAt = now
	pos, prev := w.head.Position, w.head.Hash
	for i, r := range reqs {
		if w.stream != nil && w.stream.err != nil {
			return false // the streamed COPY ended: stop hashing for nothing
		}
		current, ok := w.work[r.Stream]
		if !ok {
			current = w.versions[r.Stream] // callers made sure it is known
		}
		if !full {
			for j := range r.Events {
				if _, dup := w.batchIDs[r.Events[j].ID]; dup {
					return false
				}
			}
		} else if res, done, err := repeats(r.Events, lookup, w.batchIDs); done || err != nil {
			res.NextVersion = current
			r.Result, r.Err = res, err
			kinds[i] = final
			continue
		}
		if !r.Expected.Check(current) {
			if full {
				r.Result, r.Err = eventstore.AppendResult{}, &eventstore.ConcurrencyError{Stream: r.Stream, Expected: r.Expected, Actual: current}
				kinds[i] = final
			} else {
				r.Result = eventstore.AppendResult{NextVersion: current}
				kinds[i] = pending
			}
			continue
		}
		res := eventstore.AppendResult{FirstPosition: pos + 1}
		for j := range r.Events {
			e := &r.Events[j]
			pos++
			current++
			e.Position, e.Version, e.RecordedAt = pos, current, now
			w.scratch = eventstore.Link(e, prev, w.scratch)
			prev = e.Hash
			w.rows.add(e)
			w.batchIDs[e.ID] = idInfo{pos: pos, stream: e.Stream, typ: e.Type}
		}
		res.LastPosition, res.NextVersion = pos, current
		w.work[r.Stream] = current
		r.Result, r.Err = res, nil
		kinds[i] = accepted
		if w.stream != nil {
			w.stream.add(&w.rows)
		}
	}
	return true
}

// repeats applies the idempotency rule to events whose ids may be stored
// (lookup) or written earlier in this batch.
func repeats(events []eventstore.Event, lookup, batch map[uuid.UUID]idInfo) (eventstore.AppendResult, bool, error) {
	var res eventstore.AppendResult
	found := 0
	for i := range events {
		info, ok := batch[events[i].ID]
		if !ok {
			info, ok = lookup[events[i].ID]
		}
		if !ok {
			continue
		}
		if info.stream != events[i].Stream || info.typ != events[i].Type {
			return res, false, fmt.Errorf("%w: event %d is stored in another stream or with another type", eventstore.ErrDuplicateID, i)
		}
		if found == 0 {
			res.FirstPosition = info.pos
		}
		res.LastPosition = info.pos
		found++
	}
	switch {
	case found == 0:
		return res, false, nil
	case found < len(events):
		return eventstore.AppendResult{}, false, fmt.Errorf("%w: only some events of the call are already stored", eventstore.ErrDuplicateID)
	}
	res.Duplicate = true
	return res, true, nil
}

const writeSQL = `WITH h AS (
	UPDATE head SET position = $3, hash = $4 WHERE position = $1 AND hash = $2 RETURNING 1
), ins AS (
	INSERT INTO events (position, id, stream, version, type, schema, recorded_at, data, subject, sealed, meta, prev_hash, hash)
	SELECT p, i, s, v, t, sc, $5::timestamptz, d, su, se, m, ph, hh
	FROM unnest($6::bigint[], $7::uuid[], $8::text[], $9::bigint[], $10::text[], $11::integer[], $12::bytea[],
		$13::uuid[], $14::bytea[], $15::bytea[], $16::bytea[], $17::bytea[]) AS r(p, i, s, v, t, sc, d, su, se, m, ph, hh)
	WHERE EXISTS (SELECT 1 FROM h)
	RETURNING 1
)
SELECT (SELECT count(*) FROM ins), pg_notify($18, $3::text) FROM h`

const lookupSQL = `SELECT id, position, stream, type FROM events WHERE id = ANY($1::uuid[])`

const versionsSQL = `SELECT s, coalesce((SELECT max(version) FROM events WHERE stream = s), 0) FROM unnest($1::text[]) AS s`

// queueWrite queues the guarded write of the planned rows; found reports
// whether the head matched (and so the rows were written).
func (s *Store) queueWrite(b *pgx.Batch, newHead eventstore.Head, now time.Time, found *bool, n *int64) {
	w := &s.w
	r := &w.rows
	b.Queue(writeSQL, int64(w.head.Position), w.head.Hash[:], int64(newHead.Position), newHead.Hash[:], now,
		r.positions, r.ids, r.streams, r.versions, r.types, r.schemas, r.data, r.subjects, r.sealed, r.meta, r.prevs, r.hashes,
		s.channel).QueryRow(func(row pgx.Row) error {
		err := row.Scan(n, nil)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		*found = err == nil
		return err
	})
}

// copyMinRows is the batch size from which rows go in with COPY instead of
// one INSERT over unnest arrays: COPY costs two more round trips (an explicit
// transaction) but PostgreSQL inserts its rows with less work per row
// (no array expansion, no executor per row), 1.3-1.4x the rows/s for
// large batches here.
const copyMinRows = 256

// copyCommit writes a large batch in which some requests are pending. One
// round trip opens the transaction, takes the lock, looks up their ids and
// moves the head; then copyRows sends the rows and COMMIT ends it.
// found=false means the head moved and nothing was written.
func (s *Store) copyCommit(ctx context.Context, newHead eventstore.Head, pendIDs [][16]byte, lookup map[uuid.UUID]idInfo) (ok bool, err error) {
	conn, err := s.writerConn(ctx)
	if err != nil {
		return false, err
	}
	defer func() { s.doneConn(conn, err == nil) }()
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, s.lockKey)
	if len(pendIDs) > 0 {
		queueLookup(b, pendIDs, lookup)
	}
	var found bool
	s.queueHeadMove(b, newHead, &found)
	if err := conn.SendBatch(ctx, b).Close(); err != nil || !found {
		rollback(conn.Conn())
		return false, err
	}
	if err := s.copyRows(ctx, conn.Conn()); err != nil {
		rollback(conn.Conn())
		return false, err
	}
	ct, err := conn.Exec(ctx, `COMMIT`)
	if err == nil && ct.String() != "COMMIT" {
		err = pgx.ErrTxCommitRollback
	}
	return err == nil, err
}

// headMovedCode is the SQLSTATE ledgerline_move_head raises (class LL is
// ours; PostgreSQL defines no such class).
const headMovedCode = "LL001"

// rollback ends a failed transaction so the connection can go back to the
// pool; if that fails too, Release discards the connection.
func rollback(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = c.Exec(ctx, `ROLLBACK`)
}

// queueHeadMove queues moving the head row from the cached head to newHead
// (found reports whether it still held the cached head; if not, nothing
// changes) and the notification subscribers wait for.
func (s *Store) queueHeadMove(b *pgx.Batch, newHead eventstore.Head, found *bool) {
	w := &s.w
	b.Queue(`UPDATE head SET position = $3, hash = $4 WHERE position = $1 AND hash = $2`,
		int64(w.head.Position), w.head.Hash[:], int64(newHead.Position), newHead.Hash[:]).Exec(func(ct pgconn.CommandTag) error {
		*found = ct.RowsAffected() == 1
		return nil
	})
	b.Queue(`SELECT pg_notify($1, $2)`, s.channel, strconv.FormatUint(newHead.Position, 10))
}

// copyRows sends the planned rows with COPY on c, whose transaction holds
// the append lock and has moved the head.
func (s *Store) copyRows(ctx context.Context, c *pgx.Conn) error {
	r := &s.w.rows
	r.copyBuf = r.encodeCopy(r.copyBuf)
	ct, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(r.copyBuf), copyEventsSQL)
	if err != nil {
		return err
	}
	if n := ct.RowsAffected(); n != int64(len(r.positions)) {
		return fmt.Errorf("postgres: append copied %d of %d rows", n, len(r.positions))
	}
	return nil
}

func queueLookup(b *pgx.Batch, ids [][16]byte, into map[uuid.UUID]idInfo) {
	b.Queue(lookupSQL, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				id       [16]byte
				pos      int64
				str, typ string
			)
			if err := rows.Scan(&id, &pos, &str, &typ); err != nil {
				return err
			}
			into[id] = idInfo{pos: uint64(pos), stream: str, typ: typ}
		}
		return rows.Err()
	})
}

func queueVersions(b *pgx.Batch, streams []string, into map[string]uint64) {
	b.Queue(versionsSQL, streams).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				str string
				v   int64
			)
			if err := rows.Scan(&str, &v); err != nil {
				return err
			}
			into[str] = uint64(v)
		}
		return rows.Err()
	})
}

// commit is the group-commit function: it writes one batch and fills every
// request's result.
func (s *Store) commit(reqs []*eventstore.AppendRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
	defer cancel()
	kinds := make([]int, len(reqs))
	if s.w.headKnown {
		done, err := s.fastCommit(ctx, reqs, kinds)
		if err != nil {
			s.failAll(reqs, err)
			return
		}
		if done {
			s.committed(reqs, kinds, &s.stats.fast)
			return
		}
	}
	if err := s.slowCommit(ctx, reqs, kinds); err != nil {
		s.failAll(reqs, err)
		return
	}
	s.committed(reqs, kinds, &s.stats.slow)
}

// committed records a batch that reached the database: the window of recent
// commits, the counters (path counts the fast or the slow path), and the
// wake-up of this process's subscribers.
func (s *Store) committed(reqs []*eventstore.AppendRequest, kinds []int, path *atomic.Uint64) {
	s.recent.add(reqs, kinds)
	s.stats.batches.Add(1)
	path.Add(1)
	s.wake.Notify()
}

func (s *Store) failAll(reqs []*eventstore.AppendRequest, err error) {
	// The outcome may be unknown (a connection lost around COMMIT): forget the
	// cache so the next batch re-reads. A retried call is idempotent.
	s.w.forget()
	s.recent.reset()
	err = mapErr(err)
	if !errors.Is(err, eventstore.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: append: %v", eventstore.ErrUnavailable, err)
	}
	for _, r := range reqs {
		r.Result, r.Err = eventstore.AppendResult{}, err
	}
}

// fastCommit tries the one-round-trip path. done=false (with no error) means
// nothing was written and the batch must take the slow path.
func (s *Store) fastCommit(ctx context.Context, reqs []*eventstore.AppendRequest, kinds []int) (bool, error) {
	w := &s.w
	// Streams not cached: assume a NoStream-only stream is new (the unique
	// (stream, version) index checks it); read the others. Reading outside the
	// lock is safe: the write only lands if nobody appended since our last
	// commit, which preceded this read.
	var unknown []string
	for _, r := range reqs {
		if _, ok := w.versions[r.Stream]; ok {
			continue
		}
		if r.Expected == eventstore.NoStream {
			continue
		}
		unknown = append(unknown, r.Stream)
	}
	if len(unknown) > 0 {
		got := make(map[string]uint64, len(unknown))
		b := &pgx.Batch{}
		queueVersions(b, unknown, got)
		if err := s.sendBatch(ctx, b); err != nil {
			return false, err
		}
		for k, v := range got {
			w.remember(k, v)
		}
	}
	assumed := false
	for _, r := range reqs {
		if _, ok := w.versions[r.Stream]; !ok {
			w.versions[r.Stream] = 0 // only until the batch ends, see below
			assumed = true
		}
	}
	now := eventstore.Now()
	total := 0
	for _, r := range reqs {
		total += len(r.Events)
	}
	if total >= copyMinRows {
		return s.streamCommit(ctx, reqs, kinds, assumed, now, total)
	}
	if !s.plan(reqs, kinds, false, nil, now) {
		if assumed {
			s.dropAssumed(reqs)
		}
		return false, nil
	}
	pendIDs := pendingIDs(reqs, kinds)
	newHead := s.plannedHead(reqs, kinds)
	lookup := map[uuid.UUID]idInfo{}
	var (
		found bool
		n     int64
		err   error
	)
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, s.lockKey)
	if len(pendIDs) > 0 {
		queueLookup(b, pendIDs, lookup)
	}
	if len(w.rows.positions) > 0 {
		s.queueWrite(b, newHead, now, &found, &n)
	} else {
		b.Queue(`SELECT 1 FROM head WHERE position = $1 AND hash = $2`, int64(w.head.Position), w.head.Hash[:]).QueryRow(func(row pgx.Row) error {
			err := row.Scan(nil)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			found = err == nil
			return err
		})
	}
	err = s.sendBatch(ctx, b)
	return s.fastDone(reqs, kinds, assumed, lookup, newHead, found, n, err)
}

// streamCommit is the fast path for a large batch: one simple query opens
// the transaction, takes the lock, checks the head is where this committer
// left it (raising if another process moved it) and starts a COPY whose rows
// plan streams as it hashes them, so the server inserts while the chain is
// computed; the same query then moves the head, notifies and commits. One
// round trip, and planning hidden behind the insert. A batch with a request
// that fails its version check abandons the stream (nothing was written) and
// goes through copyCommit, which looks the request's ids up under the lock.
func (s *Store) streamCommit(ctx context.Context, reqs []*eventstore.AppendRequest, kinds []int, assumed bool, now time.Time, total int) (bool, error) {
	w := &s.w
	old := w.head
	conn, err := s.writerConn(ctx)
	if err != nil {
		if assumed {
			s.dropAssumed(reqs)
		}
		return false, err
	}
	newPos := old.Position + uint64(total)
	// Simple-query protocol has no parameters: every value is an integer or
	// hex the committer produced itself.
	q := fmt.Sprintf("BEGIN; SELECT pg_advisory_xact_lock(%d); SELECT ledgerline_check_head(%d, decode('%x', 'hex')); %s; SELECT ledgerline_move_head(%d, decode('%x', 'hex'), %d); SELECT pg_notify('%s', '%d'); COMMIT",
		s.lockKey, old.Position, old.Hash[:], copyEventsSQL, old.Position, old.Hash[:], newPos, s.channel, newPos)
	pr, pw := io.Pipe()
	sent := make(chan error, 1)
	go func() {
		ct, err := conn.Conn().PgConn().CopyFrom(ctx, pr, q)
		if err == nil && ct.String() != "COMMIT" {
			err = fmt.Errorf("postgres: append ended with %q, not COMMIT", ct.String())
		}
		pr.CloseWithError(errCopyEnded) // plan stops at its next request
		if err != nil {
			// The failed transaction still holds the append lock: end it
			// now, not once plan has hashed the rest of the batch (with
			// several nodes, a stale head fails the check right after the
			// lock is granted).
			rollback(conn.Conn())
		}
		sent <- err
	}()
	w.stream = &w.streamer
	w.streamer.start(pw, now)
	planned := s.plan(reqs, kinds, false, nil, now)
	w.stream = nil
	whole := planned && len(w.rows.positions) == total // no request pending
	if whole {
		w.streamer.finish()
	} else {
		w.streamer.abandon()
	}
	waitFrom := time.Now()
	err = <-sent
	s.stats.serverWait.Add(int64(time.Since(waitFrom)))
	// done with conn here: copyPending below writes with the committer's
	// connection again
	s.doneConn(conn, err == nil && planned && whole)
	switch {
	case !planned:
		if assumed {
			s.dropAssumed(reqs)
		}
		return false, nil
	case !whole:
		return s.copyPending(ctx, reqs, kinds, assumed)
	}
	found := true
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == headMovedCode {
		found, err = false, nil
	}
	last := reqs[lastAccepted(kinds)].Events
	newHead := eventstore.Head{Position: newPos, Hash: last[len(last)-1].Hash}
	return s.fastDone(reqs, kinds, assumed, nil, newHead, found, int64(total), err)
}

// writerConn is the connection the committer writes with. It keeps the one
// its last write succeeded on, so one server backend takes every batch of a
// sustained load. Handed a pool connection per batch, three backends took
// turns with the COPYs (and page-faulted in their allocators, which one
// backend copying in a loop does not), and ingestion over HTTP ran at 48k
// records/s against 56k with the connection kept (bench http --only usage,
// three alternations). A connection idle for more than a second goes back to
// the pool first, so the pool's check of idle connections still stands
// between a dead one and a batch.
func (s *Store) writerConn(ctx context.Context) (*pgxpool.Conn, error) {
	w := &s.w
	if w.conn != nil {
		if time.Since(w.connUsed) <= time.Second {
			return w.conn, nil
		}
		w.conn.Release()
		w.conn = nil
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	w.conn = c
	return c, nil
}

// doneConn ends a write on conn: the committer keeps it after a success
// that left no transaction open; anything else hands it back to the pool
// (whose Release closes a connection still inside a transaction).
func (s *Store) doneConn(conn *pgxpool.Conn, ok bool) {
	w := &s.w
	if ok && conn.Conn().PgConn().TxStatus() == 'I' {
		w.connUsed = time.Now()
		return
	}
	if w.conn == conn {
		w.conn = nil
	}
	conn.Release()
}

// sendBatch runs b on the committer's connection.
func (s *Store) sendBatch(ctx context.Context, b *pgx.Batch) (err error) {
	conn, err := s.writerConn(ctx)
	if err != nil {
		return err
	}
	defer func() { s.doneConn(conn, err == nil) }()
	return conn.SendBatch(ctx, b).Close()
}

// copyPending writes a planned large batch in which some requests failed
// their version check: their ids are looked up under the lock (they may be
// repeats of stored events) in the same transaction as the COPY.
func (s *Store) copyPending(ctx context.Context, reqs []*eventstore.AppendRequest, kinds []int, assumed bool) (bool, error) {
	w := &s.w
	newHead := s.plannedHead(reqs, kinds)
	lookup := map[uuid.UUID]idInfo{}
	found, err := s.copyCommit(ctx, newHead, pendingIDs(reqs, kinds), lookup)
	return s.fastDone(reqs, kinds, assumed, lookup, newHead, found, int64(len(w.rows.positions)), err)
}

// fastDone settles a fast-path write: found reports whether the head still
// matched (so n rows were written), err whether the write failed.
func (s *Store) fastDone(reqs []*eventstore.AppendRequest, kinds []int, assumed bool, lookup map[uuid.UUID]idInfo, newHead eventstore.Head, found bool, n int64, err error) (bool, error) {
	w := &s.w
	if assumed {
		s.dropAssumed(reqs)
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return false, nil // an id repeat or a stream we assumed new: re-plan under the lock
		}
		return false, err
	}
	if !found {
		return false, nil // another process appended
	}
	if n != int64(len(w.rows.positions)) {
		return false, fmt.Errorf("postgres: append wrote %d of %d rows", n, len(w.rows.positions))
	}
	for i, r := range reqs {
		if kinds[i] != pending {
			continue
		}
		res, done, err := repeats(r.Events, lookup, nil)
		switch {
		case err != nil:
			r.Result, r.Err = eventstore.AppendResult{}, err
		case done:
			res.NextVersion = r.Result.NextVersion
			r.Result, r.Err = res, nil
		default:
			r.Err = &eventstore.ConcurrencyError{Stream: r.Stream, Expected: r.Expected, Actual: r.Result.NextVersion}
			r.Result = eventstore.AppendResult{}
		}
	}
	s.settle(newHead)
	return true, nil
}

// pendingIDs lists the event ids of the requests plan left pending, to be
// looked up under the lock.
func pendingIDs(reqs []*eventstore.AppendRequest, kinds []int) [][16]byte {
	var ids [][16]byte
	for i, r := range reqs {
		if kinds[i] == pending {
			for j := range r.Events {
				ids = append(ids, r.Events[j].ID)
			}
		}
	}
	return ids
}

// plannedHead is the head once the rows plan accepted are written: the
// current head when it accepted none.
func (s *Store) plannedHead(reqs []*eventstore.AppendRequest, kinds []int) eventstore.Head {
	i := lastAccepted(kinds)
	if i < 0 {
		return s.w.head
	}
	last := reqs[i].Events
	return eventstore.Head{Position: s.w.head.Position + uint64(len(s.w.rows.positions)), Hash: last[len(last)-1].Hash}
}

func lastAccepted(kinds []int) int {
	for i := len(kinds) - 1; i >= 0; i-- {
		if kinds[i] == accepted {
			return i
		}
	}
	return -1
}

// dropAssumed removes the zero versions fastCommit assumed for unknown
// streams; settle puts back those that were written.
func (s *Store) dropAssumed(reqs []*eventstore.AppendRequest) {
	for _, r := range reqs {
		if v, ok := s.w.versions[r.Stream]; ok && v == 0 {
			delete(s.w.versions, r.Stream)
		}
	}
}

// settle records a committed batch in the cache.
func (s *Store) settle(newHead eventstore.Head) {
	w := &s.w
	s.stats.events.Add(uint64(len(w.rows.positions)))
	w.head, w.headKnown = newHead, true
	for k, v := range w.work {
		w.remember(k, v)
	}
}

// slowCommit plans the batch from the database under the lock and writes it.
func (s *Store) slowCommit(ctx context.Context, reqs []*eventstore.AppendRequest, kinds []int) (err error) {
	w := &s.w
	conn, err := s.writerConn(ctx)
	if err != nil {
		return err
	}
	defer func() { s.doneConn(conn, err == nil) }() // after the deferred Rollback below
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())

	streamSet := make(map[string]struct{}, len(reqs))
	var streams []string
	var ids [][16]byte
	for _, r := range reqs {
		if _, ok := streamSet[r.Stream]; !ok {
			streamSet[r.Stream] = struct{}{}
			streams = append(streams, r.Stream)
		}
		for j := range r.Events {
			ids = append(ids, r.Events[j].ID)
		}
	}
	var (
		headPos  int64
		headHash []byte
	)
	versions := make(map[string]uint64, len(streams))
	lookup := make(map[uuid.UUID]idInfo)
	changed := make(map[string]uint64)
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, s.lockKey)
	b.Queue(`SELECT position, hash FROM head`).QueryRow(func(row pgx.Row) error { return row.Scan(&headPos, &headHash) })
	queueVersions(b, streams, versions)
	queueLookup(b, ids, lookup)
	const maxCatchUp = 10000
	if w.headKnown {
		b.Queue(`SELECT stream, max(version) FROM events WHERE position > $1 AND position <= $2 GROUP BY stream`,
			int64(w.head.Position), int64(w.head.Position+maxCatchUp)).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					str string
					v   int64
				)
				if err := rows.Scan(&str, &v); err != nil {
					return err
				}
				changed[str] = uint64(v)
			}
			return rows.Err()
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	hash, err := eventstore.HashFromBytes(headHash)
	if err != nil {
		return fmt.Errorf("postgres: head row: %w", err)
	}
	dbHead := eventstore.Head{Position: uint64(headPos), Hash: hash}
	// Bring the cache up to date with what others appended.
	if !w.headKnown || dbHead.Position < w.head.Position || dbHead.Position-w.head.Position > maxCatchUp {
		clear(w.versions)
	} else {
		for k, v := range changed {
			if _, ok := w.versions[k]; ok {
				w.versions[k] = v
			}
		}
	}
	w.head, w.headKnown = dbHead, true
	for k, v := range versions {
		w.versions[k] = v // the batch's streams must all be present for plan
	}
	now := eventstore.Now()
	s.plan(reqs, kinds, true, lookup, now)
	newHead := s.plannedHead(reqs, kinds)
	if len(w.rows.positions) > 0 {
		var (
			found bool
			n     int64
		)
		if len(w.rows.positions) >= copyMinRows {
			b := &pgx.Batch{}
			s.queueHeadMove(b, newHead, &found)
			if err = tx.SendBatch(ctx, b).Close(); err == nil && found {
				err = s.copyRows(ctx, tx.Conn())
				n = int64(len(w.rows.positions))
			}
		} else {
			b := &pgx.Batch{}
			s.queueWrite(b, newHead, now, &found, &n)
			err = tx.SendBatch(ctx, b).Close()
		}
		if err != nil {
			w.forget()
			return err
		}
		if !found || n != int64(len(w.rows.positions)) {
			w.forget()
			return fmt.Errorf("postgres: head moved while the append lock was held")
		}
	}
	if err := tx.Commit(ctx); err != nil {
		w.forget()
		return err
	}
	s.settle(newHead)
	return nil
}

// encodeMeta packs metadata as a version byte and five uvarint-prefixed
// strings; nil when empty.
func encodeMeta(m *eventstore.Metadata) []byte {
	if *m == (eventstore.Metadata{}) {
		return nil
	}
	fields := [...]string{m.CorrelationID, m.CausationID, m.Actor, m.ActorRole, m.RequestID}
	n := 1
	for _, f := range fields {
		n += binary.MaxVarintLen32 + len(f)
	}
	buf := make([]byte, 1, n)
	buf[0] = 1
	for _, f := range fields {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	return buf
}

func decodeMeta(b []byte) (eventstore.Metadata, error) {
	var m eventstore.Metadata
	if len(b) == 0 {
		return m, nil
	}
	if b[0] != 1 {
		return m, fmt.Errorf("postgres: unknown meta encoding %d", b[0])
	}
	b = b[1:]
	// One string for the whole record; the fields are substrings of it (one
	// allocation per event instead of one per field: reads are hot).
	all := string(b)
	off := 0
	fields := [...]*string{&m.CorrelationID, &m.CausationID, &m.Actor, &m.ActorRole, &m.RequestID}
	for _, f := range fields {
		l, k := binary.Uvarint(b[off:])
		if k <= 0 || uint64(len(b)-off-k) < l {
			return eventstore.Metadata{}, errors.New("postgres: corrupt meta")
		}
		*f = all[off+k : off+k+int(l)]
		off += k + int(l)
	}
	return m, nil
}
