package embedded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/eventstore/storetest"
)

var bg = context.Background()

// testOptions skip fsync: the tests check semantics, not durability.
var testOptions = Options{NoSync: true, PollInterval: 50 * time.Millisecond}

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testOptions)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreContract(t *testing.T) {
	storetest.Run(t, storetest.Features{
		New: func(t *testing.T) eventstore.Store { return openTest(t, t.TempDir()) },
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			return openTest(t, s.(*Store).Dir())
		},
		// Another: nil — bbolt allows one open handle per file.
	})
}

func TestStoreContractDurable(t *testing.T) {
	if testing.Short() {
		t.Skip("fsync on: slow on some disks")
	}
	storetest.Run(t, storetest.Features{
		New: func(t *testing.T) eventstore.Store {
			s, err := Open(t.TempDir(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Writers: 64, PerWriter: 10,
	})
}

func ev(typ, data string) eventstore.Event {
	return eventstore.Event{ID: uuid.Must(uuid.NewV7()), Type: typ, Data: []byte(data)}
}

func req(stream string, exp eventstore.ExpectedVersion, evs ...eventstore.Event) *eventstore.AppendRequest {
	if err := eventstore.PrepareAppend(stream, exp, evs); err != nil {
		panic(err)
	}
	return &eventstore.AppendRequest{Ctx: bg, Stream: stream, Expected: exp, Events: evs}
}

// TestBatchMixesFailingAndSucceedingRequests drives commit directly with one
// batch, so every request is checked against the same transaction.
func TestBatchMixesFailingAndSucceedingRequests(t *testing.T) {
	s := openTest(t, t.TempDir())
	stored := ev("t.a", `{"n":0}`)
	if _, err := s.Append(bg, "a", eventstore.NoStream, stored); err != nil {
		t.Fatal(err)
	}
	fresh := ev("t.b", `{}`)
	batch := []*eventstore.AppendRequest{
		/*0*/ req("a", eventstore.NoStream, ev("t.a", `{}`)), // conflict with storage
		/*1*/ req("b", eventstore.NoStream, fresh), // OK
		/*2*/ req("b", eventstore.NoStream, ev("t.b", `{}`)), // conflict with request 1
		/*3*/ req("b", eventstore.Exact(1), ev("t.b", `{}`), ev("t.b", `{}`)), // OK, sees request 1
		/*4*/ req("b", eventstore.Any, fresh), // repeat of request 1 in the same batch
		/*5*/ req("b", eventstore.Any, fresh, ev("t.b", `{}`)), // partial repeat
		/*6*/ req("c", eventstore.Any, stored), // stored id on another stream
		/*7*/ req("a", eventstore.Exact(1), stored), // repeat of a stored event
		/*8*/ req("a", eventstore.Exact(1), ev("t.a", `{}`)), // OK
	}
	s.commit(batch)
	want := []struct {
		res eventstore.AppendResult
		err error
	}{
		{err: eventstore.ErrConcurrency},
		{res: eventstore.AppendResult{FirstPosition: 2, LastPosition: 2, NextVersion: 1}},
		{err: eventstore.ErrConcurrency},
		{res: eventstore.AppendResult{FirstPosition: 3, LastPosition: 4, NextVersion: 3}},
		{res: eventstore.AppendResult{FirstPosition: 2, LastPosition: 2, NextVersion: 3, Duplicate: true}},
		{err: eventstore.ErrDuplicateID},
		{err: eventstore.ErrDuplicateID},
		{res: eventstore.AppendResult{FirstPosition: 1, LastPosition: 1, NextVersion: 1, Duplicate: true}},
		{res: eventstore.AppendResult{FirstPosition: 5, LastPosition: 5, NextVersion: 2}},
	}
	for i, w := range want {
		r := batch[i]
		if w.err != nil {
			if !errors.Is(r.Err, w.err) {
				t.Errorf("request %d: want %v, got %v", i, w.err, r.Err)
			}
			continue
		}
		if r.Err != nil || r.Result != w.res {
			t.Errorf("request %d: got %+v, %v; want %+v", i, r.Result, r.Err, w.res)
		}
	}
	all, err := s.ReadAll(bg, 1, 0)
	if err != nil || len(all) != 5 {
		t.Fatalf("log: %d events, %v; want 5", len(all), err)
	}
	if res, err := eventstore.VerifyChain(bg, s, nil); err != nil || res.Events != 5 {
		t.Fatalf("chain: %+v %v", res, err)
	}
	if h, _ := s.Head(bg); h.Position != 5 || h.Hash != all[4].Hash {
		t.Fatalf("head %+v", h)
	}
}

func TestBatchAllFailingWritesNothing(t *testing.T) {
	s := openTest(t, t.TempDir())
	if _, err := s.Append(bg, "a", eventstore.NoStream, ev("t.a", `{}`)); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Head(bg)
	batch := []*eventstore.AppendRequest{req("a", eventstore.NoStream, ev("t.a", `{}`))}
	s.commit(batch)
	if !errors.Is(batch[0].Err, eventstore.ErrConcurrency) {
		t.Fatalf("got %v", batch[0].Err)
	}
	if after, _ := s.Head(bg); after != before {
		t.Fatalf("head moved from %+v to %+v", before, after)
	}
}

func TestReopenKeepsEventsAndHead(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := s.Append(bg, "s", eventstore.Exact(uint64(i)), ev("t.a", `{"x":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := s.Head(bg)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(bg, "s", eventstore.Any, ev("t.a", `{}`)); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	for name, call := range map[string]func() error{
		"ReadAll":    func() error { _, err := s.ReadAll(bg, 1, 0); return err },
		"ReadStream": func() error { _, err := s.ReadStream(bg, "s", 1, 0); return err },
		"Head":       func() error { _, err := s.Head(bg); return err },
		"Subscribe":  func() error { return s.Subscribe(bg, 1, func(eventstore.Event) error { return nil }) },
	} {
		if err := call(); !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("%s after close: %v", name, err)
		}
	}

	s = openTest(t, dir)
	if h, _ := s.Head(bg); h != head {
		t.Fatalf("head after reopen %+v, want %+v", h, head)
	}
	got, err := s.ReadStream(bg, "s", 1, 0)
	if err != nil || len(got) != 10 || got[9].Hash != head.Hash {
		t.Fatalf("stream after reopen: %d events, %v", len(got), err)
	}
	res, err := s.Append(bg, "s", eventstore.Exact(10), ev("t.a", `{}`))
	if err != nil || res.FirstPosition != 11 {
		t.Fatalf("append after reopen: %+v %v", res, err)
	}
	info, err := os.Stat(filepath.Join(dir, EventsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("events file mode: %v %v", info.Mode(), err)
	}
}

func TestOpenSameDirTwiceFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	openTest(t, dir)
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode: %v %v", info.Mode(), err)
	}
	start := time.Now()
	s2, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		s2.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("second Open took %v", time.Since(start))
	}
	t.Log(err)
}

func TestOpenRejectsBadOptions(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{MaxBatchEvents: -1}); err == nil {
		t.Fatal("negative MaxBatchEvents accepted")
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("empty directory accepted")
	}
}

func TestStreamNamesThatPrefixEachOther(t *testing.T) {
	s := openTest(t, t.TempDir())
	for _, st := range []string{"ab", "ab\x00", "abc", "a"} {
		for i := 0; i < 3; i++ {
			if _, err := s.Append(bg, st, eventstore.Any, ev("t.a", `{}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, st := range []string{"ab", "ab\x00", "abc", "a"} {
		got, err := s.ReadStream(bg, st, 2, 0)
		if err != nil || len(got) != 2 || got[0].Stream != st || got[0].Version != 2 {
			t.Fatalf("stream %q: %d events %v", st, len(got), err)
		}
	}
}

func TestTamperDataIsCaught(t *testing.T) {
	s := openTest(t, t.TempDir())
	for i := 0; i < 3; i++ {
		if _, err := s.Append(bg, "s", eventstore.Any, ev("t.a", `{"k":"value"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TamperData(bg, 9); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("tamper missing position: %v", err)
	}
	if err := s.TamperData(bg, 2); err != nil {
		t.Fatal(err)
	}
	_, err := eventstore.VerifyChain(bg, s, nil)
	var ce *eventstore.ChainError
	if !errors.As(err, &ce) || ce.Position != 2 {
		t.Fatalf("verify: %v", err)
	}
}
