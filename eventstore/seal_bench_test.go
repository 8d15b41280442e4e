package eventstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

const benchSubjects = 1000

func benchSetup(b *testing.B) (*eventstore.Codec, []uuid.UUID, []byte) {
	b.Helper()
	kr := eventstore.NewMemKeyring()
	codec := newCodec(b, eventstore.NewSealer(eventstore.NewMemVault(kr), 0))
	subjects := make([]uuid.UUID, benchSubjects)
	for i := range subjects {
		subjects[i] = uuid.New()
	}
	return codec, subjects, kr.Pepper()
}

func benchEvent(sealed bool, subject uuid.UUID, pepper []byte) any {
	p := signedUpPerson{Email: "someone.with.a.name@example.com", Name: "Someone With A Name"}
	h := eventstore.EmailHash(pepper, p.Email)
	if sealed {
		return signedUp{Account: subject, Plan: "pro", EmailHash: h, Personal: p}
	}
	return plainSignedUp{Account: subject, Plan: "pro", EmailHash: h, Email: p.Email, Name: p.Name}
}

func BenchmarkSeal(b *testing.B) {
	s, _ := newSealer(b, 0)
	ctx := context.Background()
	plain := []byte(`{"email":"someone.with.a.name@example.com","name":"Someone With A Name"}`)
	subject, id := uuid.NewString(), uuid.New()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(ctx, subject, id, plain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s, _ := newSealer(b, 0)
	ctx := context.Background()
	plain := []byte(`{"email":"someone.with.a.name@example.com","name":"Someone With A Name"}`)
	subject, id := uuid.NewString(), uuid.New()
	sealed, _ := s.Seal(ctx, subject, id, plain)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(ctx, subject, id, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenParallel(b *testing.B) {
	s, _ := newSealer(b, 0)
	ctx := context.Background()
	plain := []byte(`{"email":"someone.with.a.name@example.com","name":"Someone With A Name"}`)
	subject, id := uuid.NewString(), uuid.New()
	sealed, _ := s.Seal(ctx, subject, id, plain)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Open(ctx, subject, id, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAppend: encode and append one event per call to a MemStore, with
// the personal part sealed or the same fields public.
func BenchmarkAppend(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchAppend(b, false) })
	b.Run("sealed", func(b *testing.B) { benchAppend(b, true) })
}

// BenchmarkReplay: decode stored events, personal parts opened or public.
func BenchmarkReplay(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchReplay(b, false) })
	b.Run("sealed", func(b *testing.B) { benchReplay(b, true) })
}

func benchAppend(b *testing.B, sealed bool) {
	codec, subjects, pepper := benchSetup(b)
	store := eventstore.NewMemStore()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev, err := codec.Encode(ctx, benchEvent(sealed, subjects[i%benchSubjects], pepper), eventstore.Metadata{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store.Append(ctx, "s", eventstore.Any, ev); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchReplay(b *testing.B, sealed bool) {
	codec, subjects, pepper := benchSetup(b)
	ctx := context.Background()
	events := make([]eventstore.Event, 4*benchSubjects)
	for i := range events {
		ev, err := codec.Encode(ctx, benchEvent(sealed, subjects[i%benchSubjects], pepper), eventstore.Metadata{})
		if err != nil {
			b.Fatal(err)
		}
		events[i] = ev
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d, err := codec.Decode(ctx, events[i%len(events)])
		if err != nil || d.Erased {
			b.Fatal(err)
		}
		i++
	}
}
