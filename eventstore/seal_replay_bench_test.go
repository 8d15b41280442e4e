package eventstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// The shapes of `ledgerline bench vault`: identical public parts, one with a
// personal part of three short strings.
type vaultBenchPlain struct {
	Account uuid.UUID `json:"account"`
	Model   string    `json:"model"`
	Tokens  int64     `json:"tokens"`
	Cost    int64     `json:"cost"`
}

func (vaultBenchPlain) EventType() string { return "test.vault_bench_plain" }

type vaultBenchPersonal struct {
	Email     string `json:"email"`
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
}

type vaultBenchSealed struct {
	Account  uuid.UUID          `json:"account"`
	Model    string             `json:"model"`
	Tokens   int64              `json:"tokens"`
	Cost     int64              `json:"cost"`
	Personal vaultBenchPersonal `json:"-"`
}

func (vaultBenchSealed) EventType() string      { return "test.vault_bench_sealed" }
func (e vaultBenchSealed) SubjectID() uuid.UUID { return e.Account }

const replayPage = 4096

// BenchmarkReplayPage decodes pages of 4096 events of the vault bench's
// shapes, 1000 subjects, with each page rebuilt first the way a PostgreSQL
// ReadAll builds it (a fresh slice of envelopes, one allocation per row for
// its bytes), so the collector sees what a replay gives it. An op is a page.
func BenchmarkReplayPage(b *testing.B) {
	for _, sealed := range []bool{false, true} {
		name := "plain"
		if sealed {
			name = "sealed"
		}
		b.Run(name, func(b *testing.B) { benchReplayPage(b, sealed) })
	}
}

func benchReplayPage(b *testing.B, sealed bool) {
	kr := eventstore.NewMemKeyring()
	sealer := eventstore.NewSealer(eventstore.NewMemVault(kr), 100_000)
	reg := eventstore.NewRegistry()
	if err := reg.Register(vaultBenchPlain{}, vaultBenchSealed{}); err != nil {
		b.Fatal(err)
	}
	codec, err := eventstore.NewCodec(reg, sealer)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	subjects := make([]uuid.UUID, 1000)
	for i := range subjects {
		subjects[i] = uuid.New()
	}
	// the stored log: 4 pages, subjects interleaved as 64 writers leave them
	stored := make([]eventstore.Event, 4*replayPage)
	for i := range stored {
		acct := subjects[(i*7919)%len(subjects)]
		var payload any = vaultBenchPlain{Account: acct, Model: "gpt-4o", Tokens: int64(i), Cost: 42}
		if sealed {
			payload = vaultBenchSealed{Account: acct, Model: "gpt-4o", Tokens: int64(i), Cost: 42,
				Personal: vaultBenchPersonal{Email: "someone@example.com", ClientIP: "203.0.113.7", UserAgent: "bench/1.0"}}
		}
		ev, err := codec.Encode(ctx, payload, eventstore.Metadata{})
		if err != nil {
			b.Fatal(err)
		}
		ev.Position = uint64(i + 1)
		stored[i] = ev
	}
	// what ReadAll returns: fresh envelopes, bytes copied per row
	readPage := func(from int) []eventstore.Event {
		page := make([]eventstore.Event, 0, replayPage)
		for _, s := range stored[from : from+replayPage] {
			e := s
			buf := make([]byte, len(s.Data)+len(s.Sealed))
			k := copy(buf, s.Data)
			e.Data = buf[:k:k]
			e.Sealed = nil
			if s.Sealed != nil {
				copy(buf[k:], s.Sealed)
				e.Sealed = buf[k:]
			}
			page = append(page, e)
		}
		return page
	}
	var sink any
	b.ReportAllocs()
	pages := 0
	for b.Loop() {
		page := readPage(pages % 4 * replayPage)
		for _, e := range page {
			d, err := codec.Decode(ctx, e)
			if err != nil || d.Erased {
				b.Fatal(err, d.Erased)
			}
			sink = d.Payload
		}
		pages++
	}
	_ = sink
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pages*replayPage), "ns/event")
}
