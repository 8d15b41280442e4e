package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/projections"
	"github.com/ledgerline/ledgerline/projections/readmodeltest"
)

func TestHubRunWaitForRebuildAsOf(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, err := readmodeltest.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := readmodeltest.Generate(ctx, env, readmodeltest.GenConfig{Accounts: 6})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := projections.NewHub(env.Store, env.Codec, projections.HubConfig{Now: readmodeltest.Clock, Runner: projections.RunnerConfig{PollInterval: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var invalidated []uuid.UUID
	hub.Keys().OnInvalidate(func(id uuid.UUID) { invalidated = append(invalidated, id) })
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	head, _ := env.Store.Head(ctx)
	if err := hub.WaitFor(ctx, head.Position); err != nil {
		t.Fatalf("WaitFor head: %v", err)
	}
	lag, err := hub.Lag(ctx)
	if err != nil || lag.Positions != 0 {
		t.Fatalf("lag = %+v, %v", lag, err)
	}
	// read-your-writes after a new event (the erasure) and bounded wait
	if err := readmodeltest.Erase(ctx, env, h, h.End.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	head2, _ := env.Store.Head(ctx)
	if err := hub.WaitFor(ctx, head2.Position); err != nil {
		t.Fatalf("WaitFor after erase: %v", err)
	}
	if a, _ := hub.Accounts().Account(ctx, h.Canary.AccountID); !a.Erased || a.Email != "" {
		t.Fatalf("after erasure: %+v", a)
	}
	if len(invalidated) == 0 {
		t.Error("erasure fired no key invalidation")
	}
	short, c2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer c2()
	if err := hub.WaitFor(short, head2.Position+1000); err != projections.ErrNotCaughtUp {
		t.Fatalf("WaitFor beyond head = %v, want ErrNotCaughtUp", err)
	}

	// rebuild beside the live set and swap: same answers
	before := hub.Current()
	pos, err := hub.Rebuild(ctx, projections.ReplayConfig{PageSize: 50})
	if err != nil || pos != head2.Position || hub.Current() == before {
		t.Fatalf("rebuild = %d, %v", pos, err)
	}
	readmodeltest.Compare(t, before, hub, h)

	// as-of: the state before the erasure still shows the person's profile
	old, err := projections.AsOf(ctx, env.Store, env.Codec, projections.Until{Position: head.Position})
	if err != nil {
		t.Fatal(err)
	}
	if old.Position() != head.Position {
		t.Fatalf("as-of position %d", old.Position())
	}
	a, _ := old.Accounts().Account(ctx, h.Canary.AccountID)
	if a.Status == projections.StatusErased {
		t.Fatalf("as-of before erasure shows erased status")
	}
	if !a.Erased { // the key is shredded now, so the past profile cannot be opened either
		t.Fatalf("as-of replay opened shredded personal data: %+v", a)
	}
	byTime, err := projections.AsOf(ctx, env.Store, env.Codec, projections.Until{Time: time.Now().Add(-time.Hour)})
	if err != nil || byTime.Position() != 0 {
		t.Fatalf("as-of an hour ago = %d, %v", byTime.Position(), err)
	}
	cancel()
	<-done
}

func TestVerifyAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	env, _ := readmodeltest.NewEnv(nil)
	h, err := readmodeltest.Generate(ctx, env, readmodeltest.GenConfig{Accounts: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := projections.NewMemSet(env.Codec, projections.MemSetOptions{})
	if _, err := projections.Replay(ctx, env.Store, env.Codec, s, projections.Until{}, projections.ReplayConfig{}); err != nil {
		t.Fatal(err)
	}
	hash := h.SecretHashes[0]
	if _, ok := s.KeyVerifier().Verify(hash); !ok {
		t.Fatal("key does not verify")
	}
	if n := testing.AllocsPerRun(1000, func() { s.KeyVerifier().Verify(hash) }); n != 0 {
		t.Fatalf("Verify allocates %v times", n)
	}
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	env, _ := readmodeltest.NewEnv(nil)
	h, _ := readmodeltest.Generate(ctx, env, readmodeltest.GenConfig{Accounts: 50})
	s := projections.NewMemSet(env.Codec, projections.MemSetOptions{})
	projections.Replay(ctx, env.Store, env.Codec, s, projections.Until{}, projections.ReplayConfig{})
	hash := h.SecretHashes[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.KeyVerifier().Verify(hash)
		}
	})
}
