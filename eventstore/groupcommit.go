package eventstore

import (
	"context"
	"sync"
	"time"
)

// AppendRequest is one caller's Append waiting in a group commit. The commit
// function fills Result or Err for each request of its batch.
type AppendRequest struct {
	Ctx      context.Context
	Stream   string
	Expected ExpectedVersion
	Events   []Event // already validated by PrepareAppend
	Result   AppendResult
	Err      error
	done     chan struct{}
}

// GroupCommitter gathers concurrent appends into batches handled by one
// commit call (one transaction, one fsync), while each request keeps its own
// expected-version check and its own result. A single goroutine commits, so
// while one batch is being written the next one fills up: throughput grows
// with the number of writers instead of being bounded by one fsync each.
type GroupCommitter struct {
	reqs      chan *AppendRequest
	commit    func([]*AppendRequest)
	maxEvents int
	linger    time.Duration
	closeOnce sync.Once
	stopped   chan struct{}
	mu        sync.RWMutex
	closed    bool
}

// DefaultLinger is how long a batch may wait for writers the previous commit
// released; far below one commit's duration.
const DefaultLinger = 150 * time.Microsecond

// NewGroupCommitter starts the committing goroutine. maxEvents bounds the
// events of one batch (a single request larger than that is its own batch).
func NewGroupCommitter(maxEvents int, commit func([]*AppendRequest)) *GroupCommitter {
	if maxEvents <= 0 {
		maxEvents = 2000
	}
	g := &GroupCommitter{
		reqs:      make(chan *AppendRequest, 1024),
		commit:    commit,
		maxEvents: maxEvents,
		linger:    DefaultLinger,
		stopped:   make(chan struct{}),
	}
	go g.loop()
	return g
}

// Submit queues an append and waits for its batch to commit. Once queued the
// request is seen through even if ctx ends, so an acknowledged error never
// hides a write that happened.
func (g *GroupCommitter) Submit(ctx context.Context, stream string, expected ExpectedVersion, events []Event) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	r := &AppendRequest{Ctx: ctx, Stream: stream, Expected: expected, Events: events, done: make(chan struct{})}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return AppendResult{}, ErrClosed
	}
	g.reqs <- r
	g.mu.RUnlock()
	<-r.done
	return r.Result, r.Err
}

func (g *GroupCommitter) loop() {
	defer close(g.stopped)
	var carry *AppendRequest
	lastSize := 0
	for {
		first := carry
		carry = nil
		if first == nil {
			r, ok := <-g.reqs
			if !ok {
				return
			}
			first = r
		}
		batch := []*AppendRequest{first}
		n := len(first.Events)
		var linger <-chan time.Time
	gather:
		for n < g.maxEvents {
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break gather
				}
				if n+len(r.Events) > g.maxEvents {
					carry = r
					break gather
				}
				batch = append(batch, r)
				n += len(r.Events)
				continue
			default:
			}
			// Closed-loop writers released by the previous commit come
			// back within microseconds. Waiting briefly for as many
			// requests as the last batch had merges them into this batch
			// instead of leaving two half-size batches alternating.
			if len(batch) >= lastSize || g.linger <= 0 {
				break gather
			}
			if linger == nil {
				linger = time.After(g.linger)
			}
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break gather
				}
				if n+len(r.Events) > g.maxEvents {
					carry = r
					break gather
				}
				batch = append(batch, r)
				n += len(r.Events)
			case <-linger:
				break gather
			}
		}
		lastSize = len(batch)
		live := batch[:0:0]
		for _, r := range batch {
			if err := r.Ctx.Err(); err != nil {
				r.Err = err
				close(r.done)
				continue
			}
			live = append(live, r)
		}
		if len(live) > 0 {
			g.commit(live)
			for _, r := range live {
				close(r.done)
			}
		}
	}
}

// Close stops accepting appends, lets queued ones commit, and waits.
func (g *GroupCommitter) Close() {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		close(g.reqs)
		g.mu.Unlock()
		<-g.stopped
	})
}
