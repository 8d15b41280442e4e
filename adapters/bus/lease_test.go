package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
)

func TestLeaseMovesWhenHolderDies(t *testing.T) {
	url := pgtest.URL(t)
	old := LeaseCheckInterval
	LeaseCheckInterval = 100 * time.Millisecond
	defer func() { LeaseCheckInterval = old }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	poolA, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer poolA.Close()
	poolB, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer poolB.Close()
	name := "test-lease-" + time.Now().Format(time.RFC3339Nano)

	a, err := TryAcquireLease(ctx, poolA, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryAcquireLease(ctx, poolB, name); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second holder while the first is alive: want ErrLeaseHeld, got %v", err)
	}
	// the holder's connection dies without unlocking
	a.mu.Lock()
	a.conn.PgConn().Conn().Close()
	a.mu.Unlock()

	start := time.Now()
	b, err := AcquireLease(ctx, poolB, name, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("lease did not move to the second holder: %v", err)
	}
	t.Logf("lease moved %v after the holder's connection died", time.Since(start))
	select {
	case <-a.Lost():
	case <-ctx.Done():
		t.Fatal("the first holder never noticed it lost the lease")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := TryAcquireLease(ctx, poolA, name)
	if err != nil {
		t.Fatalf("released lease not free: %v", err)
	}
	c.Release(ctx)
	a.Release(ctx)
}
