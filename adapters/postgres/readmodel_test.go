package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
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
