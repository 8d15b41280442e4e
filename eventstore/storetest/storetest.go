// Package storetest is the contract suite every eventstore.Store backend
// runs. It only uses the public Store interface (plus RawTamperer when the
// backend offers it), so a backend that passes it keeps the contract.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// Features tells the suite how to make stores and what the backend supports.
type Features struct {
	// New returns a fresh, empty store and registers its own cleanup.
	New func(t *testing.T) eventstore.Store
	// Reopen closes s and opens the same storage again; nil skips the
	// persistence tests.
	Reopen func(t *testing.T, s eventstore.Store) eventstore.Store
	// Another opens a second instance on the same storage as s (another
	// process would do the same); nil skips the multi-instance tests.
	Another func(t *testing.T, s eventstore.Store) eventstore.Store
	// Writers is the number of concurrent writers of the stress tests
	// (default 64).
	Writers int
	// PerWriter is the number of appends each writer makes (default 40).
	PerWriter int
}

// Run runs the whole contract suite.
func Run(t *testing.T, f Features) {
	if f.Writers == 0 {
		f.Writers = 64
	}
	if f.PerWriter == 0 {
		f.PerWriter = 40
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Features)
	}{
		{"ExpectedVersion", testExpectedVersion},
		{"IdempotentAppend", testIdempotent},
		{"InvalidAppendWritesNothing", testInvalid},
		{"ReadStreamAndReadAllPaging", testReads},
		{"EnvelopeRoundTrip", testRoundTrip},
		{"SubscribeCatchUpThenLive", testSubscribe},
		{"ConcurrentWritersNoSkips", testConcurrentNoSkips},
		{"ContendedStreams", testContended},
		{"BatchAppend", testBatch},
		{"ChainVerifiesAndDetectsTampering", testChain},
		{"Reopen", testReopen},
		{"SeveralInstances", testSeveralInstances},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

var bg = context.Background()

func ev(typ string, data string) eventstore.Event {
	return eventstore.Event{ID: uuid.Must(uuid.NewV7()), Type: typ, Data: []byte(data)}
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedVersion, evs ...eventstore.Event) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(bg, stream, exp, evs...)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

func mustHead(t *testing.T, s eventstore.Store) eventstore.Head {
	t.Helper()
	h, err := s.Head(bg)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	return h
}

func readAll(t *testing.T, s eventstore.Store) []eventstore.Event {
	t.Helper()
	var out []eventstore.Event
	from := uint64(1)
	for {
		page, err := s.ReadAll(bg, from, 500)
		if err != nil {
			t.Fatalf("read all: %v", err)
		}
		out = append(out, page...)
		if len(page) < 500 {
			return out
		}
		from = page[len(page)-1].Position + 1
	}
}

// checkLog asserts positions 1..n without gaps and versions 1..k per stream.
func checkLog(t *testing.T, all []eventstore.Event) {
	t.Helper()
	versions := map[string]uint64{}
	for i, e := range all {
		if e.Position != uint64(i+1) {
			t.Fatalf("position %d at index %d: log has a gap or is out of order", e.Position, i)
		}
		versions[e.Stream]++
		if e.Version != versions[e.Stream] {
			t.Fatalf("stream %s: version %d at position %d, want %d", e.Stream, e.Version, e.Position, versions[e.Stream])
		}
	}
}

func testExpectedVersion(t *testing.T, f Features) {
	s := f.New(t)
	res := mustAppend(t, s, "acct-1", eventstore.NoStream, ev("t.a", `{"n":1}`))
	if res.NextVersion != 1 || res.FirstPosition != 1 || res.LastPosition != 1 {
		t.Fatalf("first append result %+v", res)
	}
	cases := []struct {
		name    string
		exp     eventstore.ExpectedVersion
		wantErr bool
	}{
		{"NoStreamOnExisting", eventstore.NoStream, true},
		{"ExactStale", eventstore.Exact(5), true},
		{"Exact", eventstore.Exact(1), false},
		{"ExactAfterMove", eventstore.Exact(1), true},
		{"Any", eventstore.Any, false},
		{"StreamExists", eventstore.StreamExists, false},
	}
	for _, c := range cases {
		_, err := s.Append(bg, "acct-1", c.exp, ev("t.a", `{}`))
		if c.wantErr {
			if !errors.Is(err, eventstore.ErrConcurrency) {
				t.Fatalf("%s: want ErrConcurrency, got %v", c.name, err)
			}
			var ce *eventstore.ConcurrencyError
			if !errors.As(err, &ce) || ce.Stream != "acct-1" {
				t.Fatalf("%s: want *ConcurrencyError naming the stream, got %#v", c.name, err)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	if _, err := s.Append(bg, "missing", eventstore.StreamExists, ev("t.a", `{}`)); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("StreamExists on a missing stream: want ErrConcurrency, got %v", err)
	}
	got, _ := s.ReadStream(bg, "acct-1", 1, 0)
	if len(got) != 4 {
		t.Fatalf("stream has %d events, want 4 (failed appends must write nothing)", len(got))
	}
	if h := mustHead(t, s); h.Position != 4 {
		t.Fatalf("head %d, want 4", h.Position)
	}
}

func testIdempotent(t *testing.T, f Features) {
	s := f.New(t)
	a, b := ev("t.a", `{"n":1}`), ev("t.b", `{"n":2}`)
	mustAppend(t, s, "other", eventstore.Any, ev("t.x", `{}`))
	first := mustAppend(t, s, "s", eventstore.NoStream, a, b)
	again, err := s.Append(bg, "s", eventstore.NoStream, a, b)
	if err != nil {
		t.Fatalf("repeat append: %v", err)
	}
	if !again.Duplicate || again.FirstPosition != first.FirstPosition || again.LastPosition != first.LastPosition {
		t.Fatalf("repeat result %+v, want duplicate of %+v", again, first)
	}
	single, err := s.Append(bg, "s", eventstore.Exact(9), b)
	if err != nil || !single.Duplicate || single.FirstPosition != first.LastPosition {
		t.Fatalf("repeat of one event: %+v, %v", single, err)
	}
	if _, err := s.Append(bg, "s", eventstore.Any, b, ev("t.c", `{}`)); !errors.Is(err, eventstore.ErrDuplicateID) {
		t.Fatalf("partial repeat: want ErrDuplicateID, got %v", err)
	}
	if _, err := s.Append(bg, "elsewhere", eventstore.Any, a); !errors.Is(err, eventstore.ErrDuplicateID) {
		t.Fatalf("same id on another stream: want ErrDuplicateID, got %v", err)
	}
	if h := mustHead(t, s); h.Position != 3 {
		t.Fatalf("head %d after repeats, want 3", h.Position)
	}
	checkLog(t, readAll(t, s))
}

func testInvalid(t *testing.T, f Features) {
	s := f.New(t)
	mustAppend(t, s, "s", eventstore.Any, ev("t.a", `{}`))
	cases := []struct {
		name   string
		stream string
		evs    []eventstore.Event
	}{
		{"ErrStreamRequired", "", []eventstore.Event{ev("t.a", `{}`)}},
		{"ErrNoEvents", "s", nil},
		{"ErrTypeRequired", "s", []eventstore.Event{ev("", `{}`)}},
		{"ErrDataNotJSON", "s", []eventstore.Event{ev("t.a", `{"a":`)}},
		{"ErrSecondEventBad", "s", []eventstore.Event{ev("t.a", `{}`), ev("t.a", `nope`)}},
		{"ErrSealedWithoutSubject", "s", []eventstore.Event{{ID: uuid.Must(uuid.NewV7()), Type: "t.a", Sealed: []byte{1}}}},
	}
	for _, c := range cases {
		_, err := s.Append(bg, c.stream, eventstore.Any, c.evs...)
		var fe *eventstore.FieldError
		if !errors.Is(err, eventstore.ErrInvalidEvent) || !errors.As(err, &fe) || fe.Field == "" || fe.Rule == "" {
			t.Fatalf("%s: want a FieldError naming field and rule, got %v", c.name, err)
		}
	}
	if h := mustHead(t, s); h.Position != 1 {
		t.Fatalf("invalid appends wrote something: head %d", h.Position)
	}
}

func testReads(t *testing.T, f Features) {
	s := f.New(t)
	for i := 0; i < 25; i++ {
		mustAppend(t, s, fmt.Sprintf("s-%d", i%3), eventstore.Any, ev("t.a", fmt.Sprintf(`{"i":%d}`, i)))
	}
	st, err := s.ReadStream(bg, "s-1", 3, 2)
	if err != nil || len(st) != 2 || st[0].Version != 3 || st[1].Version != 4 || st[0].Stream != "s-1" {
		t.Fatalf("ReadStream from 3 limit 2: %v %+v", err, st)
	}
	if st, err := s.ReadStream(bg, "nope", 1, 10); err != nil || len(st) != 0 {
		t.Fatalf("missing stream: %v %d", err, len(st))
	}
	var got []eventstore.Event
	for from := uint64(1); ; {
		page, err := s.ReadAll(bg, from, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		from = page[len(page)-1].Position + 1
	}
	if len(got) != 25 {
		t.Fatalf("paged ReadAll got %d, want 25", len(got))
	}
	checkLog(t, got)
	if page, _ := s.ReadAll(bg, 26, 10); len(page) != 0 {
		t.Fatalf("ReadAll past head returned %d", len(page))
	}
}

func testRoundTrip(t *testing.T, f Features) {
	s := f.New(t)
	in := eventstore.Event{
		ID: uuid.Must(uuid.NewV7()), Type: "account.registered", Schema: 3,
		Data: []byte(`{"region":"eu","n":[1,2]}`), Subject: uuid.NewString(), Sealed: []byte{0, 1, 2, 255},
		Meta: eventstore.Metadata{CorrelationID: "c", CausationID: "k", Actor: "a", ActorRole: "admin", RequestID: "r"},
	}
	before := time.Now().Add(-time.Second)
	mustAppend(t, s, "acct-x", eventstore.NoStream, in)
	out, err := s.ReadStream(bg, "acct-x", 1, 1)
	if err != nil || len(out) != 1 {
		t.Fatalf("read back: %v", err)
	}
	g := out[0]
	if g.ID != in.ID || g.Type != in.Type || g.Schema != 3 || string(g.Data) != string(in.Data) ||
		g.Subject != in.Subject || string(g.Sealed) != string(in.Sealed) || g.Meta != in.Meta ||
		g.Stream != "acct-x" || g.Version != 1 || g.Position != 1 {
		t.Fatalf("round trip mismatch:\n got %+v\nwant %+v", g, in)
	}
	if g.RecordedAt.Before(before) || g.RecordedAt.Location() != time.UTC {
		t.Fatalf("recorded_at %v not a recent UTC time", g.RecordedAt)
	}
	if g.PrevHash != (eventstore.Hash{}) || g.Hash == (eventstore.Hash{}) {
		t.Fatalf("hashes not set: %v %v", g.PrevHash, g.Hash)
	}
	plain := ev("t.plain", `{}`)
	mustAppend(t, s, "p", eventstore.Any, plain)
	p, _ := s.ReadStream(bg, "p", 1, 1)
	if p[0].Subject != "" || len(p[0].Sealed) != 0 || p[0].Schema != 1 {
		t.Fatalf("plain event came back with subject/sealed/schema: %+v", p[0])
	}
}

func testSubscribe(t *testing.T, f Features) {
	s := f.New(t)
	for i := 0; i < 10; i++ {
		mustAppend(t, s, "s", eventstore.Any, ev("t.a", `{}`))
	}
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	got := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(ctx, 4, func(e eventstore.Event) error {
			got <- e.Position
			if e.Position == 20 {
				return errStop
			}
			return nil
		})
	}()
	for want := uint64(4); want <= 10; want++ {
		if p := <-got; p != want {
			t.Fatalf("catch-up got %d want %d", p, want)
		}
	}
	for i := 0; i < 10; i++ {
		mustAppend(t, s, "s", eventstore.Any, ev("t.a", `{}`))
	}
	for want := uint64(11); want <= 20; want++ {
		select {
		case p := <-got:
			if p != want {
				t.Fatalf("live got %d want %d", p, want)
			}
		case <-ctx.Done():
			t.Fatalf("live event %d never arrived", want)
		}
	}
	if err := <-done; !errors.Is(err, errStop) {
		t.Fatalf("Subscribe returned %v, want the handler's error", err)
	}
}

var errStop = errors.New("stop")

// testConcurrentNoSkips is the failure PostgreSQL event stores are known for:
// a subscriber must never skip an event whose transaction committed late.
func testConcurrentNoSkips(t *testing.T, f Features) {
	s := f.New(t)
	total := f.Writers * f.PerWriter
	ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
	defer cancel()
	seen := make([]eventstore.Event, 0, total)
	subDone := make(chan error, 1)
	go func() {
		subDone <- s.Subscribe(ctx, 1, func(e eventstore.Event) error {
			seen = append(seen, e)
			if len(seen) == total {
				return errStop
			}
			return nil
		})
	}()
	var wg sync.WaitGroup
	var failed atomic.Int64
	acked := make([][]eventstore.AppendResult, f.Writers)
	for w := 0; w < f.Writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := fmt.Sprintf("writer-%d", w)
			for i := 0; i < f.PerWriter; i++ {
				res, err := s.Append(ctx, stream, eventstore.Exact(uint64(i)), ev("t.w", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)))
				if err != nil {
					failed.Add(1)
					t.Errorf("writer %d append %d: %v", w, i, err)
					return
				}
				acked[w] = append(acked[w], res)
			}
		}(w)
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	if err := <-subDone; !errors.Is(err, errStop) {
		t.Fatalf("subscriber: %v (saw %d of %d)", err, len(seen), total)
	}
	checkLog(t, seen)
	all := readAll(t, s)
	if len(all) != total {
		t.Fatalf("log holds %d events, want %d", len(all), total)
	}
	for w := range acked {
		for i, r := range acked[w] {
			e := all[r.FirstPosition-1]
			if e.Stream != fmt.Sprintf("writer-%d", w) || e.Version != uint64(i+1) {
				t.Fatalf("ack %d of writer %d points at %s v%d", i, w, e.Stream, e.Version)
			}
		}
	}
	if _, err := eventstore.VerifyChain(bg, s, nil); err != nil {
		t.Fatalf("chain after concurrent appends: %v", err)
	}
}

func testContended(t *testing.T, f Features) {
	s := f.New(t)
	const streams = 8
	var wg sync.WaitGroup
	var ok, conflicts atomic.Int64
	for w := 0; w < f.Writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := fmt.Sprintf("hot-%d", w%streams)
			for i := 0; i < f.PerWriter/4+1; i++ {
				for attempt := 0; ; attempt++ {
					cur, err := s.ReadStream(bg, stream, 1, 0)
					if err != nil {
						t.Errorf("read: %v", err)
						return
					}
					_, err = s.Append(bg, stream, eventstore.Exact(uint64(len(cur))), ev("t.c", fmt.Sprintf(`{"w":%d}`, w)))
					if err == nil {
						ok.Add(1)
						break
					}
					if !errors.Is(err, eventstore.ErrConcurrency) || attempt > 1000 {
						t.Errorf("append: %v", err)
						return
					}
					conflicts.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	all := readAll(t, s)
	if int64(len(all)) != ok.Load() {
		t.Fatalf("log has %d events, %d appends acknowledged", len(all), ok.Load())
	}
	checkLog(t, all)
	t.Logf("%d appends, %d conflicts retried", ok.Load(), conflicts.Load())
}

func testBatch(t *testing.T, f Features) {
	s := f.New(t)
	batch := make([]eventstore.Event, 500)
	for i := range batch {
		batch[i] = ev("t.b", fmt.Sprintf(`{"i":%d}`, i))
	}
	res := mustAppend(t, s, "big", eventstore.NoStream, batch...)
	if res.FirstPosition != 1 || res.LastPosition != 500 || res.NextVersion != 500 {
		t.Fatalf("batch result %+v", res)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			b := make([]eventstore.Event, 200)
			for i := range b {
				b[i] = ev("t.b", `{}`)
			}
			if _, err := s.Append(bg, fmt.Sprintf("b-%d", w), eventstore.NoStream, b...); err != nil {
				t.Errorf("batch %d: %v", w, err)
			}
		}(w)
	}
	wg.Wait()
	all := readAll(t, s)
	if len(all) != 1300 {
		t.Fatalf("log has %d, want 1300", len(all))
	}
	checkLog(t, all)
	// a batch is atomic: its events are contiguous
	last := map[string]uint64{}
	for _, e := range all {
		if p, ok := last[e.Stream]; ok && p != e.Position-1 {
			t.Fatalf("batch of %s interleaved with another at %d", e.Stream, e.Position)
		}
		last[e.Stream] = e.Position
	}
}

func testChain(t *testing.T, f Features) {
	s := f.New(t)
	for i := 0; i < 30; i++ {
		mustAppend(t, s, fmt.Sprintf("c-%d", i%4), eventstore.Any, ev("t.c", fmt.Sprintf(`{"i":%d,"pad":"xxxxxxxx"}`, i)))
	}
	res, err := eventstore.VerifyChain(bg, s, nil)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if h := mustHead(t, s); res.Events != 30 || res.Head != h {
		t.Fatalf("verify result %+v, head %+v", res, h)
	}
	tam, ok := s.(eventstore.RawTamperer)
	if !ok {
		t.Skip("backend cannot tamper with its storage directly")
	}
	if err := tam.TamperData(bg, 17); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	_, err = eventstore.VerifyChain(bg, s, nil)
	var ce *eventstore.ChainError
	if !errors.As(err, &ce) || ce.Position != 17 || !errors.Is(err, eventstore.ErrChainBroken) {
		t.Fatalf("tampered position 17: verify returned %v", err)
	}
}

func testReopen(t *testing.T, f Features) {
	if f.Reopen == nil {
		t.Skip("backend has no persistent storage")
	}
	s := f.New(t)
	for i := 0; i < 20; i++ {
		mustAppend(t, s, fmt.Sprintf("r-%d", i%2), eventstore.Any, ev("t.r", `{}`))
	}
	h := mustHead(t, s)
	s = f.Reopen(t, s)
	if h2 := mustHead(t, s); h2 != h {
		t.Fatalf("head after reopen %+v, want %+v", h2, h)
	}
	res := mustAppend(t, s, "r-0", eventstore.Exact(10), ev("t.r", `{}`))
	if res.FirstPosition != 21 || res.NextVersion != 11 {
		t.Fatalf("append after reopen %+v", res)
	}
	if _, err := eventstore.VerifyChain(bg, s, nil); err != nil {
		t.Fatalf("chain after reopen: %v", err)
	}
}

func testSeveralInstances(t *testing.T, f Features) {
	if f.Another == nil {
		t.Skip("backend cannot open a second instance on the same storage")
	}
	a := f.New(t)
	mustAppend(t, a, "shared", eventstore.NoStream, ev("t.s", `{}`))
	b := f.Another(t, a)
	// b's cache must notice a's writes, and the other way round.
	if _, err := b.Append(bg, "shared", eventstore.NoStream, ev("t.s", `{}`)); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("second instance missed the first one's append: %v", err)
	}
	mustAppend(t, b, "shared", eventstore.Exact(1), ev("t.s", `{}`))
	if _, err := a.Append(bg, "shared", eventstore.Exact(1), ev("t.s", `{}`)); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("first instance missed the second one's append: %v", err)
	}
	var wg sync.WaitGroup
	per := f.PerWriter / 2
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := a
			if w%2 == 1 {
				s = b
			}
			for i := 0; i < per; i++ {
				if _, err := s.Append(bg, fmt.Sprintf("m-%d", w), eventstore.Exact(uint64(i)), ev("t.m", `{}`)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
			// and everybody fights over one stream
			for i := 0; i < 5; i++ {
				for {
					cur, _ := s.ReadStream(bg, "fight", 1, 0)
					_, err := s.Append(bg, "fight", eventstore.Exact(uint64(len(cur))), ev("t.f", `{}`))
					if err == nil {
						break
					}
					if !errors.Is(err, eventstore.ErrConcurrency) {
						t.Errorf("fight: %v", err)
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	all := readAll(t, a)
	if want := 2 + 16*per + 16*5; len(all) != want {
		t.Fatalf("log has %d events, want %d", len(all), want)
	}
	checkLog(t, all)
	if _, err := eventstore.VerifyChain(bg, b, nil); err != nil {
		t.Fatalf("chain across instances: %v", err)
	}
	ha, hb := mustHead(t, a), mustHead(t, b)
	if ha != hb {
		t.Fatalf("instances disagree on head: %+v vs %+v", ha, hb)
	}
}

func testCanceled(t *testing.T, f Features) {
	s := f.New(t)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.Append(ctx, "s", eventstore.Any, ev("t.a", `{}`)); err == nil {
		t.Fatal("append with a canceled context succeeded")
	}
	if h := mustHead(t, s); h.Position != 0 {
		t.Fatalf("canceled append wrote: head %d", h.Position)
	}
}
