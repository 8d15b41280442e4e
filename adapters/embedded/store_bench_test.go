package embedded

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
)

func benchStore(b *testing.B, opts Options) *Store {
	b.Helper()
	s, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchEvent() eventstore.Event {
	return eventstore.Event{Type: "usage.recorded", Data: []byte(`{"account":"acct-0190f3a4","model":"m-large","tokens_in":1234,"tokens_out":567,"cost_micros":8910}`),
		Meta: eventstore.Metadata{CorrelationID: "corr-0190f3a4-7b1c", Actor: "key-42", ActorRole: "service"}}
}

// BenchmarkAppend64Writers: 64 goroutines appending one event each call, each
// to its own stream — the group commit's home ground. b.N is total events.
func BenchmarkAppend64Writers(b *testing.B) {
	for _, c := range []struct {
		name string
		opts Options
	}{{"Durable", Options{}}, {"NoSync", Options{NoSync: true}}} {
		b.Run(c.name, func(b *testing.B) {
			s := benchStore(b, c.opts)
			const writers = 64
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					stream := fmt.Sprintf("writer-%d", w)
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Append(bg, stream, eventstore.Any, benchEvent()); err != nil {
							b.Error(err)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAppendBatch500: one writer appending 500 events per call.
func BenchmarkAppendBatch500(b *testing.B) {
	s := benchStore(b, Options{})
	batch := make([]eventstore.Event, 500)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			batch[j] = benchEvent()
		}
		if _, err := s.Append(bg, fmt.Sprintf("batch-%d", i), eventstore.NoStream, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadAll: reading a 100k-event log front to back in pages of 4096.
func BenchmarkReadAll(b *testing.B) {
	const total = 100_000
	s := benchStore(b, Options{NoSync: true})
	batch := make([]eventstore.Event, 1000)
	for i := 0; i < total/len(batch); i++ {
		for j := range batch {
			batch[j] = benchEvent()
		}
		if _, err := s.Append(bg, fmt.Sprintf("s-%d", i%50), eventstore.Any, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n := 0
		for from := uint64(1); ; {
			page, err := s.ReadAll(bg, from, 4096)
			if err != nil {
				b.Fatal(err)
			}
			n += len(page)
			if len(page) < 4096 {
				break
			}
			from = page[len(page)-1].Position + 1
		}
		if n != total {
			b.Fatalf("read %d events", n)
		}
	}
	b.ReportMetric(float64(b.N*total)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCommit64: the committer's own cost for batches of 64 single-event
// requests on 64 streams, without fsync and without goroutine hand-offs.
func BenchmarkCommit64(b *testing.B) {
	s := benchStore(b, Options{NoSync: true})
	streams := make([]string, 64)
	for i := range streams {
		streams[i] = fmt.Sprintf("writer-%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		batch := make([]*eventstore.AppendRequest, 64)
		for j := range batch {
			batch[j] = req(streams[j], eventstore.Any, benchEvent())
		}
		s.commit(batch)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	st := s.db.Stats().TxStats
	commits := float64(b.N) / 64
	b.ReportMetric(float64(st.GetWrite())/commits, "pagewrites/commit")
	b.ReportMetric(float64(st.GetNodeCount())/commits, "nodes/commit")
	b.ReportMetric(float64(st.GetSplit())/commits, "splits/commit")
}
