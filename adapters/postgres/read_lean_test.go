package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
	"github.com/ledgerline/ledgerline/projections/readmodeltest"
)

var _ eventstore.LeanReader = (*postgres.Store)(nil)

// leanHistory stores a generated history (sealed personal parts, metadata)
// in a fresh schema.
func leanHistory(t *testing.T) (*postgres.Store, *readmodeltest.Env, *readmodeltest.History) {
	t.Helper()
	url, _ := pgtest.Schema(t)
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	env, err := readmodeltest.NewEnv(s)
	if err != nil {
		t.Fatal(err)
	}
	h, err := readmodeltest.Generate(context.Background(), env, readmodeltest.GenConfig{Accounts: 4, UsagePerKey: 15})
	if err != nil {
		t.Fatal(err)
	}
	return s, env, h
}

// The lean read returns exactly ReadAll's events with Stream, Version and
// the hashes left zero, in order, across page boundaries, whatever the
// destination it reuses held before.
func TestReadAllLean(t *testing.T) {
	ctx := context.Background()
	s, _, _ := leanHistory(t)
	full, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) < 50 {
		t.Fatalf("history too short: %d events", len(full))
	}
	lean := func(e eventstore.Event) eventstore.Event {
		e.Stream, e.Version, e.PrevHash, e.Hash = "", 0, eventstore.Hash{}, eventstore.Hash{}
		return e
	}
	var sealed, meta int
	for _, e := range full {
		if len(e.Sealed) > 0 {
			sealed++
		}
		if e.Meta != (eventstore.Metadata{}) {
			meta++
		}
	}
	if sealed == 0 || meta == 0 {
		t.Fatalf("history lacks sealed parts (%d) or metadata (%d)", sealed, meta)
	}

	for _, tc := range []struct {
		name string
		page int
		dst  []eventstore.Event
	}{
		{"OddPagesFreshDst", 7, nil},
		{"OddPagesReusedDst", 7, make([]eventstore.Event, 0, 7)},
		{"DstLargerThanPage", 13, append(make([]eventstore.Event, 0, 64), full[:40]...)},
		{"OnePage", len(full) + 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []eventstore.Event
			dst := tc.dst
			for from := uint64(1); ; {
				page, err := s.ReadAllLean(ctx, dst, from, tc.page)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if len(page) < tc.page {
					break
				}
				from = page[len(page)-1].Position + 1
				dst = page // the caller is done with it: the next read writes over it
			}
			if len(got) != len(full) {
				t.Fatalf("lean read %d events, ReadAll %d", len(got), len(full))
			}
			for i := range full {
				if want := lean(full[i]); !reflect.DeepEqual(got[i], want) {
					t.Fatalf("position %d:\n lean %+v\n want %+v", full[i].Position, got[i], want)
				}
			}
		})
	}

	t.Run("FromZeroAndUnbounded", func(t *testing.T) {
		got, err := s.ReadAllLean(ctx, nil, 0, 0)
		if err != nil || len(got) != len(full) || !reflect.DeepEqual(got[len(got)-1], lean(full[len(full)-1])) {
			t.Fatalf("ReadAllLean(0, 0) = %d events, %v; want %d", len(got), err, len(full))
		}
	})
	t.Run("PastTheHead", func(t *testing.T) {
		got, err := s.ReadAllLean(ctx, make([]eventstore.Event, 3), uint64(len(full))+1, 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("past the head: %d events, %v", len(got), err)
		}
	})
	t.Run("Closed", func(t *testing.T) {
		c, _, _ := leanHistory(t)
		c.Close()
		if _, err := c.ReadAllLean(ctx, nil, 1, 10); !errors.Is(err, eventstore.ErrClosed) {
			t.Fatalf("closed store: %v, want ErrClosed", err)
		}
	})
}

// A replay from PostgreSQL (lean pages, recycled pages and batches, small
// pages so every boundary is crossed) builds the same read models as the
// full events applied in one batch.
func TestReplayLeanMatchesFull(t *testing.T) {
	ctx := context.Background()
	s, env, h := leanHistory(t)
	full, err := s.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := projections.NewMemSet(env.Codec, projections.MemSetOptions{Now: readmodeltest.Clock})
	batch, err := projections.DecodeRecords(env.Codec, full)
	if err != nil {
		t.Fatal(err)
	}
	if err := want.ApplyBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, page := range []int{1, 7, 300} {
		got := projections.NewMemSet(env.Codec, projections.MemSetOptions{Now: readmodeltest.Clock})
		last, err := projections.Replay(ctx, s, env.Codec, got, projections.Until{}, projections.ReplayConfig{PageSize: page})
		if err != nil {
			t.Fatal(err)
		}
		if last != full[len(full)-1].Position {
			t.Fatalf("page %d: replayed to %d, want %d", page, last, full[len(full)-1].Position)
		}
		readmodeltest.Compare(t, want, got, h)
	}
}

// Subjects read through the shared cache render exactly as uuid.String,
// including after a collision replaced an entry.
func TestSubjectStringCache(t *testing.T) {
	ids := make([]uuid.UUID, 10000) // more than the cache holds: hits, misses and collisions
	for i := range ids {
		ids[i] = uuid.New()
		if i%2 == 0 {
			ids[i] = uuid.Must(uuid.NewV7())
		}
	}
	for range 3 {
		for _, id := range ids {
			if got := postgres.SubjectStringForTest(id[:]); got != id.String() {
				t.Fatalf("subject %s read as %s", id, got)
			}
		}
	}
}
