package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Lean reads the writer answers from its window of recent commits equal
// what a process that wrote nothing reads from the database, across a gap
// another process left in the middle (its events must come from the
// database), with sealed-like bytes, subjects and metadata, whatever page
// size; a short page comes from the database, so it still means "caught
// up"; and the window is really used, or this test proves nothing.
func TestRecentCommitsWindow(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.Schema(t)
	a, b, fresh := open(t, url), open(t, url), open(t, url)
	appendBatch := func(s interface {
		Append(context.Context, string, eventstore.ExpectedVersion, ...eventstore.Event) (eventstore.AppendResult, error)
	}, stream string, n int) {
		t.Helper()
		evs := make([]eventstore.Event, n)
		for i := range evs {
			evs[i] = ev("t.recent")
			evs[i].ID = uuid.Must(uuid.NewV7())
			evs[i].Data = []byte(fmt.Sprintf(`{"n":%d}`, i))
			if i%2 == 0 {
				evs[i].Subject = uuid.New().String()
				evs[i].Sealed = []byte{1, 2, 3, byte(i)}
			}
		}
		if _, err := s.Append(ctx, stream, eventstore.Any, evs...); err != nil {
			t.Fatal(err)
		}
	}
	appendBatch(a, "s-1", 300) // COPY path
	appendBatch(a, "s-2", 5)   // one-round-trip path
	appendBatch(b, "s-3", 7)   // another process: a's window must not cover these
	appendBatch(a, "s-4", 400) // a's window starts again here
	appendBatch(a, "s-1", 3)

	want, err := fresh.ReadAllLean(ctx, nil, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 715 || fresh.Stats().RecentReads != 0 {
		t.Fatalf("fresh instance read %d events (%d from memory), want 715 from the database", len(want), fresh.Stats().RecentReads)
	}
	// a's window starts after b's events: 300 + 5 + 7
	const windowFirst = 313
	fromWindow := uint64(0)
	for _, page := range []int{1, 7, 64, 1000} {
		var got []eventstore.Event
		buf := make([]eventstore.Event, 0, page)
		for from := uint64(1); ; {
			p, err := a.ReadAllLean(ctx, buf, from, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) == 0 {
				break
			}
			if from >= windowFirst && len(p) == page { // a whole page the window holds
				fromWindow += uint64(len(p))
			}
			got = append(got, p...)
			from = p[len(p)-1].Position + 1
			buf = p
		}
		if len(got) != len(want) {
			t.Fatalf("page %d: read %d events, want %d", page, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("page %d: position %d differs:\n got  %+v\n want %+v", page, want[i].Position, got[i], want[i])
			}
		}
	}
	// another process appends after a's last commit: a page that runs past
	// a's window must bring its events too, not stop where the window does
	appendBatch(b, "s-5", 5)
	tail, err := a.ReadAllLean(ctx, nil, 713, 100)
	if err != nil || len(tail) != 8 || tail[7].Position != 720 {
		t.Fatalf("read past the window: %d events, %v", len(tail), err)
	}
	// every whole page inside the window was answered from it
	if n := a.Stats().RecentReads; n != fromWindow || n < 400 {
		t.Fatalf("%d events came from the window, want %d", n, fromWindow)
	}
}

// A streamed (COPY) commit counts the time it waited for the server after
// its last row was sent, and only such commits do.
func TestServerWaitCounted(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.Schema(t)
	s := open(t, url)
	batch := func(n int) {
		t.Helper()
		evs := make([]eventstore.Event, n)
		for i := range evs {
			evs[i] = ev("t.wait")
			evs[i].ID = uuid.Must(uuid.NewV7())
		}
		if _, err := s.Append(ctx, "w", eventstore.Any, evs...); err != nil {
			t.Fatal(err)
		}
	}
	batch(1) // learns the head: the next commits take the fast path
	batch(5) // one round trip, nothing streamed
	if w := s.Stats().ServerWait; w != 0 {
		t.Fatalf("small commits reported %v waiting after a COPY", w)
	}
	batch(300)
	if s.Stats().ServerWait <= 0 {
		t.Fatal("a streamed commit reported no time waiting for the server")
	}
}

// The committer keeps the connection of its streamed commits between
// batches; Close hands it back, or closing the pool would wait for it
// forever.
func TestCloseAfterStreamedCommits(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.Schema(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		evs := make([]eventstore.Event, 300)
		for i := range evs {
			evs[i] = ev("t.keep")
			evs[i].ID = uuid.Must(uuid.NewV7())
		}
		if _, err := s.Append(ctx, "k", eventstore.Any, evs...); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return after streamed commits")
	}
}
