package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
	"github.com/ledgerline/ledgerline/projections/readmodeltest"
)

func openReadModels(t *testing.T, url string, codec *eventstore.Codec) (*postgres.ReadModels, *pgxpool.Pool) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	rm, err := postgres.OpenReadModels(context.Background(), postgres.ReadModelsConfig{Pool: pool, Codec: codec, Now: readmodeltest.Clock})
	if err != nil {
		t.Fatal(err)
	}
	return rm, pool
}

func pgImpl(rm *postgres.ReadModels, url string) readmodeltest.Impl {
	return readmodeltest.Impl{Models: rm, Projector: rm.Projector(), Dump: func(t testing.TB) string {
		s, err := rm.DumpReadModels(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

func TestReadModelsDifferential(t *testing.T) {
	var lastURL string
	readmodeltest.Run(t, readmodeltest.Features{
		New: func(t *testing.T, codec *eventstore.Codec) readmodeltest.Impl {
			url, _ := pgtest.Schema(t)
			lastURL = url
			rm, _ := openReadModels(t, url, codec)
			return pgImpl(rm, url)
		},
		Reopen: func(t *testing.T, codec *eventstore.Codec, _ readmodeltest.Impl) readmodeltest.Impl {
			// a new pool and new read models over the same schema: nothing
			// survives in process but what PostgreSQL stored
			rm, _ := openReadModels(t, lastURL, codec)
			return pgImpl(rm, lastURL)
		},
	})
}

func TestReadModelsRebuildSwap(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.Schema(t)
	env, err := readmodeltest.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := readmodeltest.Generate(ctx, env, readmodeltest.GenConfig{Accounts: 6})
	if err != nil {
		t.Fatal(err)
	}
	rm, pool := openReadModels(t, url, env.Codec)
	head, _ := env.Store.Head(ctx)
	if _, err := projections.Replay(ctx, env.Store, env.Codec, rm.Projector(), projections.Until{Position: head.Position / 2}, projections.ReplayConfig{}); err != nil {
		t.Fatal(err)
	}
	last, err := postgres.RebuildReadModels(ctx, pool, env.Store, env.Codec, projections.ReplayConfig{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if last != head.Position {
		t.Fatalf("rebuilt to %d, want %d", last, head.Position)
	}
	cps, err := rm.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n, p := range cps {
		if p != head.Position {
			t.Errorf("checkpoint %s = %d after swap", n, p)
		}
	}
	ref := projections.NewMemSet(env.Codec, projections.MemSetOptions{Now: readmodeltest.Clock})
	if _, err := projections.Replay(ctx, env.Store, env.Codec, ref, projections.Until{}, projections.ReplayConfig{}); err != nil {
		t.Fatal(err)
	}
	readmodeltest.Compare(t, ref, rm, h)
}

// TestReadModelsUsageBuckets drives the two ways a usage bucket is written
// in a large batch (a plain insert when its day is after the account's last
// stored day, an upsert otherwise: same-day repeats, late events), a batch
// that is only partly past the checkpoint, and a small batch (upserts
// only), against the in-memory reference.
func TestReadModelsUsageBuckets(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.Schema(t)
	env, err := readmodeltest.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := openReadModels(t, url, env.Codec)
	ref := projections.NewMemSet(env.Codec, projections.MemSetOptions{Now: readmodeltest.Clock})
	acct, key := uuid.New(), uuid.New()
	type use struct {
		day   int
		model string
	}
	var log []projections.Record
	// batch appends the usage, then records no read model uses up to size
	batch := func(size int, uses ...use) []projections.Record {
		from := len(log)
		for _, u := range uses {
			pos := uint64(len(log) + 1)
			at := readmodeltest.Clock().AddDate(0, 0, u.day).Add(3 * time.Hour)
			log = append(log, projections.Record{
				Event: eventstore.Event{ID: uuid.New(), Position: pos, Type: usage.TypeRecorded, Schema: 1, RecordedAt: at},
				Payload: usage.Recorded{RequestID: fmt.Sprint("r", pos), KeyID: key, AccountID: acct, Provider: "p", Model: u.model,
					InputTokens: int64(pos), OutputTokens: 1, CostMicros: 10 * int64(pos), Status: "ok", LatencyMs: 1, OccurredAt: at},
			})
		}
		for len(log)-from < size {
			log = append(log, projections.Record{Event: eventstore.Event{ID: uuid.New(), Position: uint64(len(log) + 1), Type: "test.filler", Schema: 1}})
		}
		return log[from:]
	}
	b1 := batch(100, use{2, "m"}, use{2, "n"})
	b2 := batch(100, use{1, "m"}, use{2, "m"}, use{3, "m"}, use{3, "m"}) // late, same day, new day
	b3 := batch(100, use{3, "n"}, use{4, "m"})
	b4 := batch(3, use{0, "n"}, use{4, "m"}, use{5, "n"}) // small
	overlap := log[len(b1)+len(b2)-30 : len(b1)+len(b2)+len(b3)]
	for i, b := range [][]projections.Record{b1, b2, overlap, b4} {
		if err := rm.Projector().ApplyBatch(ctx, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	for i, b := range [][]projections.Record{b1, b2, b3, b4} {
		if err := ref.ApplyBatch(ctx, b); err != nil {
			t.Fatalf("reference batch %d: %v", i, err)
		}
	}
	f := projections.UsageFilter{AccountID: acct, GroupBy: []projections.UsageDimension{projections.ByDay, projections.ByModel}}
	want, err := ref.Usage().Usage(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rm.Usage().Usage(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if w, g := readmodeltest.DumpValue(want), readmodeltest.DumpValue(got); w != g || len(want) != 8 {
		t.Fatalf("usage by day and model:\n got %s\nwant %s (8 buckets)", g, w)
	}
}
