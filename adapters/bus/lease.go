package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrLeaseHeld means another holder has the lease.
var ErrLeaseHeld = errors.New("bus: lease held by another node")

// leaseClass is the first key of the two-key advisory lock form, so lease
// locks never collide with single-bigint advisory locks (the event store's).
const leaseClass = 0x4c4c // "LL"

// LeaseCheckInterval is how often a held lease checks its connection.
var LeaseCheckInterval = 2 * time.Second

// Lease is a named singleton right (e.g. "run projection usage") held as a
// session-level PostgreSQL advisory lock on a connection taken out of the
// pool for the purpose. If the holder dies or its connection breaks, the
// server ends the session and the lock passes to the next AcquireLease. Lost
// is closed when the holder notices its connection is gone: stop the leased
// work then, since another node may already have taken over.
type Lease struct {
	name string
	conn *pgx.Conn

	mu       sync.Mutex // serialises use of conn
	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func leaseKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// TryAcquireLease takes the lease named name if nobody holds it, or fails
// with ErrLeaseHeld.
func TryAcquireLease(ctx context.Context, pool *pgxpool.Pool, name string) (*Lease, error) {
	if pool == nil || name == "" {
		return nil, errors.New("bus: TryAcquireLease: pool and name are required")
	}
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: lease %s: %w", name, err)
	}
	// The lock lives as long as this session: take the connection out of the
	// pool so it is never reused, reset or closed behind our back.
	conn := pc.Hijack()
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", int32(leaseClass), leaseKey(name)).Scan(&ok); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("bus: lease %s: %w", name, err)
	}
	if !ok {
		conn.Close(context.Background())
		return nil, ErrLeaseHeld
	}
	l := &Lease{name: name, conn: conn, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch()
	return l, nil
}

// AcquireLease waits until it holds the lease named name (retrying every
// retry, default 1s when 0) or ctx ends.
func AcquireLease(ctx context.Context, pool *pgxpool.Pool, name string, retry time.Duration) (*Lease, error) {
	if retry <= 0 {
		retry = time.Second
	}
	for {
		l, err := TryAcquireLease(ctx, pool, name)
		if !errors.Is(err, ErrLeaseHeld) {
			return l, err
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// Name is the lease's name.
func (l *Lease) Name() string { return l.name }

// Lost is closed when the lease's connection is found broken (or after
// Release).
func (l *Lease) Lost() <-chan struct{} { return l.lost }

func (l *Lease) markLost() { l.lostOnce.Do(func() { close(l.lost) }) }

func (l *Lease) watch() {
	defer close(l.done)
	t := time.NewTicker(LeaseCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), LeaseCheckInterval)
		l.mu.Lock()
		err := l.conn.Ping(ctx)
		l.mu.Unlock()
		cancel()
		if err != nil {
			l.markLost()
			l.conn.Close(context.Background())
			return
		}
	}
}

// Release gives the lease up and closes its connection (which would free
// the lock even if the unlock failed).
func (l *Lease) Release(ctx context.Context) error {
	var err error
	l.stopOnce.Do(func() {
		close(l.stop)
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.conn.IsClosed() {
			_, err = l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", int32(leaseClass), leaseKey(l.name))
			if cerr := l.conn.Close(ctx); err == nil {
				err = cerr
			}
		}
		l.markLost()
	})
	return err
}
