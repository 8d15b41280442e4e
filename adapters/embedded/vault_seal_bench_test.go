package embedded

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// Events for the sealing benchmarks: the same fields, personal part sealed
// or all public.
type benchSealed struct {
	Account  uuid.UUID         `json:"account"`
	Plan     string            `json:"plan"`
	Personal benchSealedPerson `json:"-"`
}

type benchSealedPerson struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

type benchPlain struct {
	Account uuid.UUID `json:"account"`
	Plan    string    `json:"plan"`
	Email   string    `json:"email"`
	Name    string    `json:"name"`
}

func (benchSealed) EventType() string      { return "bench.sealed" }
func (e benchSealed) SubjectID() uuid.UUID { return e.Account }
func (benchPlain) EventType() string       { return "bench.plain" }

const benchSealSubjects = 1000

func benchSealEvent(sealed bool, subject uuid.UUID) any {
	p := benchSealedPerson{Email: "someone.with.a.name@example.com", Name: "Someone With A Name"}
	if sealed {
		return benchSealed{Account: subject, Plan: "pro", Personal: p}
	}
	return benchPlain{Account: subject, Plan: "pro", Email: p.Email, Name: p.Name}
}

// benchSealRig is an embedded store with its vault in the same directory, as
// the service runs them.
func benchSealRig(b *testing.B) (*Store, *eventstore.Codec, []uuid.UUID) {
	b.Helper()
	dir := b.TempDir()
	store, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	vault, err := OpenVault(DefaultVaultPath(dir), eventstore.NewMemKeyring())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { vault.Close() })
	codec, err := eventstore.NewCodec(eventstore.NewRegistry().MustRegister(benchSealed{}, benchPlain{}), eventstore.NewSealer(vault, 0))
	if err != nil {
		b.Fatal(err)
	}
	subjects := make([]uuid.UUID, benchSealSubjects)
	for i := range subjects {
		subjects[i] = uuid.New()
	}
	return store, codec, subjects
}

// BenchmarkSealedAppend: concurrent single-event appends (group-committed,
// fsync on), sealed personal part against the same fields public. The keys
// are created before the timer starts, as for a running service.
func BenchmarkSealedAppend(b *testing.B) {
	for _, mode := range []struct {
		name   string
		sealed bool
	}{{"plain", false}, {"sealed", true}} {
		b.Run(mode.name, func(b *testing.B) {
			store, codec, subjects := benchSealRig(b)
			ctx := context.Background()
			for _, s := range subjects {
				if _, err := codec.Encode(ctx, benchSealEvent(mode.sealed, s), eventstore.Metadata{}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					ev, err := codec.Encode(ctx, benchSealEvent(mode.sealed, subjects[i%benchSealSubjects]), eventstore.Metadata{})
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := store.Append(ctx, "s-"+subjects[i%benchSealSubjects].String(), eventstore.Any, ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSealedReplay: read the log in pages of 1000 and decode every
// event, opening the personal parts (keys cached after the first pass).
func BenchmarkSealedReplay(b *testing.B) {
	for _, mode := range []struct {
		name   string
		sealed bool
	}{{"plain", false}, {"sealed", true}} {
		b.Run(mode.name, func(b *testing.B) {
			store, codec, subjects := benchSealRig(b)
			ctx := context.Background()
			const total = 20000
			batch := make([]eventstore.Event, 0, 1000)
			for i := range total {
				ev, err := codec.Encode(ctx, benchSealEvent(mode.sealed, subjects[i%benchSealSubjects]), eventstore.Metadata{})
				if err != nil {
					b.Fatal(err)
				}
				batch = append(batch, ev)
				if len(batch) == cap(batch) {
					if _, err := store.Append(ctx, "log", eventstore.Any, batch...); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			decoded := 0
			for decoded < b.N {
				for from := uint64(1); from <= total && decoded < b.N; from += 1000 {
					page, err := store.ReadAll(ctx, from, 1000)
					if err != nil {
						b.Fatal(err)
					}
					for _, ev := range page {
						d, err := codec.Decode(ctx, ev)
						if err != nil || d.Erased {
							b.Fatal(d.Erased, err)
						}
						if p, ok := d.Payload.(benchSealed); ok && p.Personal.Name == "" {
							b.Fatal("personal part not opened")
						}
						decoded++
					}
				}
			}
		})
	}
}
