package eventstore

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Broadcaster wakes every waiter when the log head moves. The zero value is
// ready to use.
type Broadcaster struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns a channel closed at the next Notify. Take it before reading, so
// an append between the read and the wait is not missed.
func (b *Broadcaster) Wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Notify wakes every current waiter.
func (b *Broadcaster) Notify() {
	b.mu.Lock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
	b.mu.Unlock()
}

// FollowConfig tunes Follow.
type FollowConfig struct {
	PageSize     int           // events per ReadAll; default 1000
	PollInterval time.Duration // re-read even without a wake-up; default 1s
}

// Follow implements Store.Subscribe for any backend: it pages through readAll
// from position from, calling fn for each event, and when caught up waits for
// wake (or the poll interval) before reading again. Positions are checked to
// be gapless so a backend bug shows up as an error, not as a silent skip.
func Follow(ctx context.Context, from uint64, readAll func(context.Context, uint64, int) ([]Event, error),
	wake func() <-chan struct{}, cfg FollowConfig, fn func(Event) error) error {
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	next := from
	if next == 0 {
		next = 1
	}
	timer := time.NewTimer(cfg.PollInterval)
	defer timer.Stop()
	for {
		woken := wake()
		page, err := readAll(ctx, next, cfg.PageSize)
		if err != nil {
			return err
		}
		for _, e := range page {
			if e.Position != next {
				return fmt.Errorf("eventstore: subscription expected position %d, got %d", next, e.Position)
			}
			if err := fn(e); err != nil {
				return err
			}
			next++
		}
		if len(page) == cfg.PageSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(cfg.PollInterval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-woken:
		case <-timer.C:
		}
	}
}
