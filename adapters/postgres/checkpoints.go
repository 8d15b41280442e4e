package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/commands"
)

// checkpointMigrations hold the positions of log readers that are not read
// models (the outbox relay). Component "checkpoints".
var checkpointMigrations = []Migration{{
	Version: 1,
	Name:    "reader checkpoints",
	SQL: `
CREATE TABLE IF NOT EXISTS reader_checkpoints (
	name       text        PRIMARY KEY,
	position   bigint      NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);
`,
}}

// CheckpointsConfig configures NewCheckpoints.
type CheckpointsConfig struct {
	// Pool is the database (normally Store.Pool()); its search_path decides
	// the schema. Required.
	Pool *pgxpool.Pool
	// WriteBehind, when > 0, lets Save return after recording the position in
	// memory; a background flush writes it at most WriteBehind later (and
	// Flush/Close write it at once). A crash then loses at most that window of
	// progress, so the next reader re-reads it. Use it only for readers whose
	// effects are idempotent and delivered at least once anyway, such as the
	// outbox relay (message id = event id, idempotent policies): it turns one
	// durable commit per relayed event into one per window. 0 (the default)
	// keeps the commands.Checkpoints contract to the letter: every Save is
	// durable before it returns.
	WriteBehind time.Duration
}

// Checkpoints is a commands.Checkpoints in PostgreSQL (table
// reader_checkpoints), shared by every node on the database, so a reader that
// moves to another node (the relay under a lease) resumes where the last one
// stopped. Positions only move forward: a Save below the stored position
// (a late write from a node that just lost its lease) is ignored. Safe for
// concurrent use.
type Checkpoints struct {
	pool  *pgxpool.Pool
	every time.Duration

	mu      sync.Mutex
	pending map[string]uint64 // write-behind: saved in memory, not yet flushed
	flushMu sync.Mutex        // one flush at a time
	stop    chan struct{}
	done    chan struct{}
	closed  bool
}

var _ commands.Checkpoints = (*Checkpoints)(nil)

// NewCheckpoints applies the checkpoint migration and returns the checkpoints.
// With WriteBehind, call Close to stop the flusher and write what is pending.
func NewCheckpoints(ctx context.Context, cfg CheckpointsConfig) (*Checkpoints, error) {
	if cfg.Pool == nil {
		return nil, errors.New("postgres: checkpoints need a pool")
	}
	if cfg.WriteBehind < 0 {
		return nil, errors.New("postgres: CheckpointsConfig.WriteBehind must not be negative")
	}
	if err := ApplyMigrations(ctx, cfg.Pool, "checkpoints", checkpointMigrations); err != nil {
		return nil, err
	}
	c := &Checkpoints{pool: cfg.Pool, every: cfg.WriteBehind, pending: map[string]uint64{}}
	if c.every > 0 {
		c.stop, c.done = make(chan struct{}), make(chan struct{})
		go c.flusher()
	}
	return c, nil
}

// Load implements commands.Checkpoints: the stored position (or a pending
// later one of this process), 0 for an unknown name.
func (c *Checkpoints) Load(ctx context.Context, name string) (uint64, error) {
	var p int64
	err := c.pool.QueryRow(ctx, `SELECT position FROM reader_checkpoints WHERE name = $1`, name).Scan(&p)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres: load checkpoint %s: %w", name, mapErr(err))
	}
	pos := uint64(p)
	c.mu.Lock()
	if q, ok := c.pending[name]; ok && q > pos {
		pos = q
	}
	c.mu.Unlock()
	return pos, nil
}

// Save implements commands.Checkpoints (see CheckpointsConfig.WriteBehind
// for when it is durable).
func (c *Checkpoints) Save(ctx context.Context, name string, position uint64) error {
	if c.every > 0 {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			return errors.New("postgres: checkpoints closed")
		}
		if position > c.pending[name] {
			c.pending[name] = position
		}
		return nil
	}
	return c.write(ctx, map[string]uint64{name: position})
}

func (c *Checkpoints) write(ctx context.Context, ps map[string]uint64) error {
	if len(ps) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for n, p := range ps {
		b.Queue(`INSERT INTO reader_checkpoints (name, position) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET position = GREATEST(reader_checkpoints.position, EXCLUDED.position), updated_at = now()`,
			n, int64(p))
	}
	if err := c.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: save checkpoints: %w", mapErr(err))
	}
	return nil
}

// Flush writes the pending write-behind positions now.
func (c *Checkpoints) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	ps := c.pending
	c.pending = map[string]uint64{}
	c.mu.Unlock()
	if err := c.write(ctx, ps); err != nil {
		// keep them for the next flush unless a later Save superseded them
		c.mu.Lock()
		for n, p := range ps {
			if p > c.pending[n] {
				c.pending[n] = p
			}
		}
		c.mu.Unlock()
		return err
	}
	return nil
}

func (c *Checkpoints) flusher() {
	defer close(c.done)
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = c.Flush(ctx) // retried at the next tick
		cancel()
	}
}

// Close stops the write-behind flusher and writes what is pending. The pool
// stays open.
func (c *Checkpoints) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	if c.stop != nil {
		close(c.stop)
		<-c.done
	}
	return c.Flush(ctx)
}
