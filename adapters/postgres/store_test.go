package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/eventstore"
)

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url, PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ev(typ string) eventstore.Event {
	return eventstore.Event{Type: typ, Data: []byte(`{"n":1}`), Meta: eventstore.Metadata{Actor: "u1", RequestID: "r"}}
}

func verify(t *testing.T, s eventstore.Store, want uint64) {
	t.Helper()
	res, err := eventstore.VerifyChain(context.Background(), s, nil)
	if err != nil {
		t.Fatalf("VerifyChain: %v", err)
	}
	if res.Events != want {
		t.Fatalf("chain has %d events, want %d", res.Events, want)
	}
	h, err := s.Head(context.Background())
	if err != nil || h != res.Head {
		t.Fatalf("Head = %v, %v; chain head %v", h, err, res.Head)
	}
}

func TestAppendReadBasics(t *testing.T) {
	url, _ := pgtest.Schema(t)
	s := open(t, url)
	ctx := context.Background()
	e := ev("a.one")
	e.Subject, e.Sealed = "01900000-0000-7000-8000-000000000001", []byte{1, 2, 3}
	res, err := s.Append(ctx, "s-1", eventstore.NoStream, e, ev("a.two"))
	if err != nil || res.FirstPosition != 1 || res.LastPosition != 2 || res.NextVersion != 2 {
		t.Fatalf("Append = %+v, %v", res, err)
	}
	if _, err := s.Append(ctx, "s-1", eventstore.NoStream, ev("a.x")); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("NoStream on existing stream: %v", err)
	}
	got, err := s.ReadStream(ctx, "s-1", 2, 10)
	if err != nil || len(got) != 1 || got[0].Type != "a.two" || got[0].Version != 2 {
		t.Fatalf("ReadStream = %+v, %v", got, err)
	}
	all, err := s.ReadAll(ctx, 0, 0)
	if err != nil || len(all) != 2 || all[0].Subject != "01900000-0000-7000-8000-000000000001" || string(all[0].Sealed) != "\x01\x02\x03" || all[0].Meta.Actor != "u1" {
		t.Fatalf("ReadAll = %+v, %v", all, err)
	}
	verify(t, s, 2)
	if err := s.TamperData(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := eventstore.VerifyChain(ctx, s, nil); !errors.Is(err, eventstore.ErrChainBroken) {
		t.Fatalf("tampered chain verified: %v", err)
	}
}

// TestGroupCommitMixed sends many concurrent appends so they share batches:
// conflicts, repeats and clashes must fail alone.
func TestGroupCommitMixed(t *testing.T) {
	url, _ := pgtest.Schema(t)
	s := open(t, url)
	ctx := context.Background()
	repeat := ev("r.done")
	repeat.ID = uuid.Must(uuid.NewV7())
	if _, err := s.Append(ctx, "rep", eventstore.NoStream, repeat); err != nil {
		t.Fatal(err)
	}
	// Fill caches first, then also run it once on a fresh instance (slow path).
	for round, st := range []*postgres.Store{s, open(t, url)} {
		var wg sync.WaitGroup
		errs := make([]error, 200)
		results := make([]eventstore.AppendResult, 200)
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 0: // succeeds
					results[i], errs[i] = st.Append(ctx, fmt.Sprintf("ok-%d-%d", round, i), eventstore.NoStream, ev("x.ok"))
				case 1: // conflict
					results[i], errs[i] = st.Append(ctx, "rep", eventstore.Exact(7), ev("x.bad"))
				case 2: // repeat: duplicate whatever the expected version
					results[i], errs[i] = st.Append(ctx, "rep", eventstore.Exact(5), repeat)
				case 3: // id clash: same id, other stream
					results[i], errs[i] = st.Append(ctx, fmt.Sprintf("clash-%d", i), eventstore.Any, repeat)
				}
			}()
		}
		wg.Wait()
		for i := range 200 {
			switch i % 4 {
			case 0:
				if errs[i] != nil || results[i].Duplicate {
					t.Fatalf("round %d req %d: %+v %v", round, i, results[i], errs[i])
				}
			case 1:
				if !errors.Is(errs[i], eventstore.ErrConcurrency) {
					t.Fatalf("round %d req %d: want conflict, got %v", round, i, errs[i])
				}
			case 2:
				if errs[i] != nil || !results[i].Duplicate || results[i].FirstPosition != 1 || results[i].NextVersion != 1 {
					t.Fatalf("round %d req %d: want duplicate, got %+v %v", round, i, results[i], errs[i])
				}
			case 3:
				if !errors.Is(errs[i], eventstore.ErrDuplicateID) {
					t.Fatalf("round %d req %d: want ErrDuplicateID, got %v", round, i, errs[i])
				}
			}
		}
	}
	verify(t, s, 101)
}

// TestTwoInstances appends from two stores on one schema, to shared and own
// streams, and checks nothing is lost or doubled and the chain holds.
func TestTwoInstances(t *testing.T) {
	url, _ := pgtest.Schema(t)
	a, b := open(t, url), open(t, url)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[uuid.UUID]bool{}
	for w := range 16 {
		st := a
		if w%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				stream := fmt.Sprintf("own-%d", w)
				if i%3 == 0 {
					stream = "shared"
				}
				for {
					cur, err := st.ReadStream(ctx, stream, 1, 0)
					if err != nil {
						t.Error(err)
						return
					}
					e := ev("t.x")
					e.ID = uuid.Must(uuid.NewV7())
					_, err = st.Append(ctx, stream, eventstore.Exact(uint64(len(cur))), e)
					if errors.Is(err, eventstore.ErrConcurrency) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					acked[e.ID] = true
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	all, err := a.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uuid.UUID]bool{}
	for _, e := range all {
		if seen[e.ID] || !acked[e.ID] {
			t.Fatalf("event %v doubled or never acknowledged", e.ID)
		}
		seen[e.ID] = true
	}
	if len(seen) != 16*30 {
		t.Fatalf("stored %d, acknowledged %d", len(seen), len(acked))
	}
	verify(t, a, 16*30)
	verify(t, b, 16*30)
}

// TestStaleCache: instance b caches a stream, a appends to it, b must see the
// conflict and then append at the right version.
func TestStaleCache(t *testing.T) {
	url, _ := pgtest.Schema(t)
	a, b := open(t, url), open(t, url)
	ctx := context.Background()
	if _, err := b.Append(ctx, "s", eventstore.NoStream, ev("x.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, "s", eventstore.Exact(1), ev("x.2")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, "s", eventstore.Exact(1), ev("x.3")); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("stale append: %v", err)
	}
	res, err := b.Append(ctx, "s", eventstore.Exact(2), ev("x.3"))
	if err != nil || res.NextVersion != 3 || res.LastPosition != 3 {
		t.Fatalf("append after refresh: %+v %v", res, err)
	}
	// a's cache is stale now too; Any must land at version 4.
	res, err = a.Append(ctx, "s", eventstore.Any, ev("x.4"))
	if err != nil || res.NextVersion != 4 {
		t.Fatalf("Any after other's append: %+v %v", res, err)
	}
	verify(t, a, 4)
}

func TestSubscribeAcrossInstances(t *testing.T) {
	url, _ := pgtest.Schema(t)
	a, b := open(t, url), open(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Append(ctx, "s", eventstore.Any, ev("x.1")); err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 10)
	go b.Subscribe(ctx, 1, func(e eventstore.Event) error { got <- e.Position; return nil })
	if p := <-got; p != 1 {
		t.Fatalf("got %d", p)
	}
	time.Sleep(300 * time.Millisecond) // let the listener connect
	start := time.Now()
	if _, err := a.Append(ctx, "s", eventstore.Any, ev("x.2")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p != 2 {
			t.Fatalf("got %d", p)
		}
		t.Logf("cross-instance wake after %v", time.Since(start))
	case <-ctx.Done():
		t.Fatal("no event")
	}
}

func TestMigrateIdempotent(t *testing.T) {
	url, _ := pgtest.Schema(t)
	s := open(t, url)
	ms := []postgres.Migration{{Version: 1, Name: "t", SQL: "CREATE TABLE x (a int); INSERT INTO x VALUES (1);"}}
	for range 2 {
		if err := postgres.ApplyMigrations(context.Background(), s.Pool(), "test", ms); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.Pool().QueryRow(context.Background(), "SELECT count(*) FROM x").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d %v", n, err)
	}
	s2 := open(t, url) // Open migrates again
	_ = s2
}

// TestLargeBatches drives batches big enough for COPY through the fast path,
// the fallbacks it must take (an id already stored, a stream assumed new that
// another instance created, a head moved by another instance) and the slow
// path, then checks results, stored fields and the chain.
func TestLargeBatches(t *testing.T) {
	url, _ := pgtest.Schema(t)
	a, b := open(t, url), open(t, url)
	ctx := context.Background()
	batch := func(n int) []eventstore.Event {
		out := make([]eventstore.Event, n)
		for i := range out {
			out[i] = ev("big.one")
			out[i].ID = uuid.Must(uuid.NewV7())
			if i%2 == 0 {
				out[i].Subject, out[i].Sealed = "01900000-0000-7000-8000-000000000002", []byte{byte(i), 9}
			}
		}
		return out
	}
	first := batch(600)
	res, err := a.Append(ctx, "big-1", eventstore.NoStream, first...)
	if err != nil || res.FirstPosition != 1 || res.LastPosition != 600 || res.NextVersion != 600 {
		t.Fatalf("first batch: %+v %v", res, err)
	}
	// the same call again is a duplicate, on both instances
	for _, st := range []*postgres.Store{a, b} {
		res, err = st.Append(ctx, "big-1", eventstore.Exact(0), first...)
		if err != nil || !res.Duplicate || res.FirstPosition != 1 || res.LastPosition != 600 {
			t.Fatalf("repeat: %+v %v", res, err)
		}
	}
	// one stored id in another stream: the whole call fails, nothing written
	clash := batch(400)
	clash[399].ID = first[10].ID
	if _, err := a.Append(ctx, "big-2", eventstore.NoStream, clash...); !errors.Is(err, eventstore.ErrDuplicateID) {
		t.Fatalf("clash: %v", err)
	}
	// b creates a stream a has never seen; a assumes it new and must re-plan
	if _, err := b.Append(ctx, "big-3", eventstore.NoStream, batch(300)...); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, "big-3", eventstore.NoStream, batch(300)...); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("stream created elsewhere: %v", err)
	}
	res, err = a.Append(ctx, "big-3", eventstore.Any, batch(300)...)
	if err != nil || res.FirstPosition != 901 || res.NextVersion != 600 {
		t.Fatalf("append after head moved: %+v %v", res, err)
	}
	all, err := a.ReadAll(ctx, 1, 0)
	if err != nil || len(all) != 1200 {
		t.Fatalf("ReadAll: %d events, %v", len(all), err)
	}
	if all[0].Subject != "01900000-0000-7000-8000-000000000002" || string(all[0].Sealed) != "\x00\x09" || all[1].Subject != "" || all[1].Sealed != nil || all[0].Meta.Actor != "u1" {
		t.Fatalf("stored fields: %+v / %+v", all[0], all[1])
	}
	if all[0].RecordedAt.IsZero() || !all[0].RecordedAt.Equal(all[599].RecordedAt) {
		t.Fatalf("recorded_at: %v .. %v", all[0].RecordedAt, all[599].RecordedAt)
	}
	verify(t, a, 1200)
	verify(t, b, 1200)
}

// TestReadTextFormat reads through a connection in the simple protocol
// (text values, as behind some poolers) and requires the same events as the
// binary reads, full and lean.
func TestReadTextFormat(t *testing.T) {
	url, _ := pgtest.Schema(t)
	s := open(t, url)
	ctx := context.Background()
	e := ev("a.one")
	e.Subject, e.Sealed = "01900000-0000-7000-8000-000000000003", []byte{7, 8}
	if _, err := s.Append(ctx, "s-1", eventstore.NoStream, e, ev("a.two")); err != nil {
		t.Fatal(err)
	}
	text := open(t, url+"&default_query_exec_mode=simple_protocol")
	want, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := text.ReadAll(ctx, 1, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("text ReadAll: %d events, %v", len(got), err)
	}
	lean, err := text.ReadAllLean(ctx, nil, 1, 0)
	if err != nil || len(lean) != 2 {
		t.Fatalf("text ReadAllLean: %d events, %v", len(lean), err)
	}
	for i := range want {
		w, g, l := want[i], got[i], lean[i]
		if g.Position != w.Position || g.ID != w.ID || g.Stream != w.Stream || g.Version != w.Version || g.Type != w.Type ||
			!g.RecordedAt.Equal(w.RecordedAt) || string(g.Data) != string(w.Data) || g.Subject != w.Subject ||
			string(g.Sealed) != string(w.Sealed) || g.Meta != w.Meta || g.PrevHash != w.PrevHash || g.Hash != w.Hash {
			t.Fatalf("event %d: text read %+v, binary read %+v", i, g, w)
		}
		if l.Position != w.Position || l.ID != w.ID || l.Type != w.Type || string(l.Data) != string(w.Data) ||
			l.Subject != w.Subject || string(l.Sealed) != string(w.Sealed) || l.Meta != w.Meta || l.Stream != "" {
			t.Fatalf("event %d: text lean read %+v, binary read %+v", i, l, w)
		}
	}
}

// TestMoveHeadGuard checks the server-side guard the one-query commit relies
// on: a head that is not where the committer left it, or a new position with
// no row, raises and changes nothing; otherwise the head takes the hash of
// the last row.
func TestMoveHeadGuard(t *testing.T) {
	url, _ := pgtest.Schema(t)
	s := open(t, url)
	ctx := context.Background()
	if _, err := s.Append(ctx, "g-1", eventstore.NoStream, ev("g.one"), ev("g.two")); err != nil {
		t.Fatal(err)
	}
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.ReadAll(ctx, 1, 0)
	if err != nil || len(all) != 2 {
		t.Fatalf("ReadAll: %d, %v", len(all), err)
	}
	db := s.Pool()
	var pgErr *pgconn.PgError
	_, err = db.Exec(ctx, `SELECT ledgerline_move_head(1, $1, 2)`, all[0].Hash[:])
	if !errors.As(err, &pgErr) || pgErr.Code != "LL001" {
		t.Fatalf("moving from a head that is not the stored one: %v, want SQLSTATE LL001", err)
	}
	if _, err = db.Exec(ctx, `SELECT ledgerline_check_head(2, $1)`, all[0].Hash[:]); !errors.As(err, &pgErr) || pgErr.Code != "LL001" {
		t.Fatalf("checking a head that is not the stored one: %v, want SQLSTATE LL001", err)
	}
	if _, err := db.Exec(ctx, `SELECT ledgerline_check_head(2, $1)`, head.Hash[:]); err != nil {
		t.Fatalf("checking the stored head: %v", err)
	}
	if _, err := db.Exec(ctx, `SELECT ledgerline_move_head(2, $1, 3)`, head.Hash[:]); err == nil {
		t.Fatal("moving to a position with no row succeeded")
	}
	if h, err := s.Head(ctx); err != nil || h != head {
		t.Fatalf("head after refused moves: %v %v, want %v", h, err, head)
	}
	// Put the head back one event and move it forward again: it must take
	// the stored hash of position 2.
	if _, err := db.Exec(ctx, `UPDATE head SET position = 1, hash = $1`, all[0].Hash[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `SELECT ledgerline_move_head(1, $1, 2)`, all[0].Hash[:]); err != nil {
		t.Fatal(err)
	}
	var pos int64
	var hash []byte
	if err := db.QueryRow(ctx, `SELECT position, hash FROM head`).Scan(&pos, &hash); err != nil || pos != 2 || string(hash) != string(head.Hash[:]) {
		t.Fatalf("head row after move: %d %x %v, want 2 %x", pos, hash, err, head.Hash[:])
	}
}
