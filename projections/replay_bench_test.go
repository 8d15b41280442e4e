package projections_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
	"github.com/ledgerline/ledgerline/projections/readmodeltest"
)

// benchHistory is a realistic history (mostly usage, sealed personal data)
// shared by the replay benchmarks.
var benchHistory = sync.OnceValues(func() (*readmodeltest.Env, []eventstore.Event) {
	env, err := readmodeltest.NewEnv(nil)
	if err != nil {
		panic(err)
	}
	if _, err := readmodeltest.Generate(context.Background(), env, readmodeltest.GenConfig{Accounts: 40, KeysPerAccount: 2, UsagePerKey: 250}); err != nil {
		panic(err)
	}
	evs, err := env.Store.ReadAll(context.Background(), 1, 0)
	if err != nil {
		panic(err)
	}
	return env, evs
})

const benchPage = 5000

// BenchmarkDecodeRecords is the decode stage of a rebuild, per event.
func BenchmarkDecodeRecords(b *testing.B) {
	env, evs := benchHistory()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lo := (i * benchPage) % len(evs)
		if _, err := projections.DecodeRecords(env.Codec, evs[lo:min(lo+benchPage, len(evs))]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPage), "ns/event")
}

// BenchmarkMemSetApply is the apply stage of a rebuild: the whole history
// into fresh in-memory read models, per event.
func BenchmarkMemSetApply(b *testing.B) {
	env, evs := benchHistory()
	var batches [][]projections.Record
	for lo := 0; lo < len(evs); lo += benchPage {
		batch, err := projections.DecodeRecords(env.Codec, evs[lo:min(lo+benchPage, len(evs))])
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, batch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := projections.NewMemSet(env.Codec, projections.MemSetOptions{})
		for _, batch := range batches {
			if err := s.ApplyBatch(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}
