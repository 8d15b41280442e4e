package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ledgerline/ledgerline/eventstore"
)

// ErrOffsetMoved means another consumer of the same group advanced the offset
// since it was claimed (another node sharing the offsets). The subscriber
// gives up its claim and claims again from the newer offset; the message it
// had delivered may therefore have been handled twice.
var ErrOffsetMoved = errors.New("bus: consumer-group offset moved by another consumer")

// Offsets keeps the acknowledged position of each consumer group in each
// topic. Implementations must be safe for concurrent use.
type Offsets interface {
	// Claim waits until the caller is the only consumer of group on topic
	// among those sharing this Offsets value (competing consumers queue
	// behind it) and returns the claim, or ctx's error. A group never seen
	// starts at offset 0 (the beginning of the topic).
	Claim(ctx context.Context, group, topic string) (Claim, error)
}

// Claim is one consumer's exclusive hold on a group's offset in a topic.
type Claim interface {
	// Offset is the last acknowledged stream version (0: nothing yet).
	Offset() uint64
	// Commit records offset as acknowledged. It fails with ErrOffsetMoved
	// when the stored offset is no longer the one this claim last saw.
	Commit(ctx context.Context, offset uint64) error
	// Release gives the claim up; the next waiting consumer gets it.
	Release()
}

// keyLocks serialises claims per (group, topic) inside one process.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

func (k *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]chan struct{}{}
	}
	ch, ok := k.locks[key]
	if !ok {
		ch = make(chan struct{}, 1)
		k.locks[key] = ch
	}
	k.mu.Unlock()
	select {
	case ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-ch }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func offsetKey(group, topic string) string { return group + "\x00" + topic }

// MemOffsets keeps offsets in memory: for tests and for the in-process
// (single-node) deployment. The zero value is ready to use.
type MemOffsets struct {
	locks   keyLocks
	mu      sync.Mutex
	offsets map[string]uint64
}

// Claim implements Offsets.
func (m *MemOffsets) Claim(ctx context.Context, group, topic string) (Claim, error) {
	key := offsetKey(group, topic)
	unlock, err := m.locks.lock(ctx, key)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	off := m.offsets[key]
	m.mu.Unlock()
	return &memClaim{m: m, key: key, offset: off, unlock: unlock}, nil
}

type memClaim struct {
	m      *MemOffsets
	key    string
	offset uint64
	unlock func()
}

func (c *memClaim) Offset() uint64 { return c.offset }

func (c *memClaim) Commit(ctx context.Context, offset uint64) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.offsets == nil {
		c.m.offsets = map[string]uint64{}
	}
	if c.m.offsets[c.key] != c.offset {
		return ErrOffsetMoved
	}
	c.m.offsets[c.key] = offset
	c.offset = offset
	return nil
}

func (c *memClaim) Release() { c.unlock() }

// OffsetCommittedType is the event type of a store-backed checkpoint.
const OffsetCommittedType = "bus.offset_committed"

// StoreOffsets keeps offsets as checkpoint events in the event store itself,
// one stream per group and topic ("bus-offset-<group>@<topic>"), each commit
// appended with the expected version it last saw. Consumers of one group on
// several nodes are therefore detected (ErrOffsetMoved) rather than
// serialised: across nodes delivery is at-least-once, within one process the
// claim is exclusive. Every acknowledged message costs one checkpoint event in
// the log; use it where that is acceptable (low-rate topics, tests) and
// MemOffsets or a broker elsewhere.
type StoreOffsets struct {
	store eventstore.Store
	locks keyLocks
}

// NewStoreOffsets returns offsets kept in store.
func NewStoreOffsets(store eventstore.Store) (*StoreOffsets, error) {
	if store == nil {
		return nil, errors.New("bus: NewStoreOffsets: store is required")
	}
	return &StoreOffsets{store: store}, nil
}

type offsetData struct {
	Group  string `json:"group"`
	Topic  string `json:"topic"`
	Offset uint64 `json:"offset"`
}

func offsetStream(group, topic string) (string, error) {
	if strings.Contains(group, "@") {
		return "", fmt.Errorf("bus: consumer group %q must not contain '@'", group)
	}
	return "bus-offset-" + group + "@" + topic, nil
}

// Claim implements Offsets.
func (s *StoreOffsets) Claim(ctx context.Context, group, topic string) (Claim, error) {
	stream, err := offsetStream(group, topic)
	if err != nil {
		return nil, err
	}
	unlock, err := s.locks.lock(ctx, offsetKey(group, topic))
	if err != nil {
		return nil, err
	}
	c := &storeClaim{s: s, stream: stream, group: group, topic: topic, unlock: unlock}
	if err := c.load(ctx); err != nil {
		unlock()
		return nil, err
	}
	return c, nil
}

type storeClaim struct {
	s                    *StoreOffsets
	stream, group, topic string
	version, offset      uint64
	unlock               func()
}

// load reads the checkpoint stream to its end; the last event holds the offset.
func (c *storeClaim) load(ctx context.Context) error {
	for {
		page, err := c.s.store.ReadStream(ctx, c.stream, c.version+1, 1000)
		if err != nil {
			return fmt.Errorf("bus: read offsets of %s: %w", c.stream, err)
		}
		for _, e := range page {
			var d offsetData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return fmt.Errorf("bus: offset event at %s v%d: %w", c.stream, e.Version, err)
			}
			c.offset, c.version = d.Offset, e.Version
		}
		if len(page) < 1000 {
			return nil
		}
	}
}

func (c *storeClaim) Offset() uint64 { return c.offset }

func (c *storeClaim) Commit(ctx context.Context, offset uint64) error {
	data, _ := json.Marshal(offsetData{Group: c.group, Topic: c.topic, Offset: offset})
	res, err := c.s.store.Append(ctx, c.stream, eventstore.Exact(c.version), eventstore.Event{Type: OffsetCommittedType, Data: data})
	if errors.Is(err, eventstore.ErrConcurrency) {
		return ErrOffsetMoved
	}
	if err != nil {
		return fmt.Errorf("bus: commit offset of %s: %w", c.stream, err)
	}
	c.version, c.offset = res.NextVersion, offset
	return nil
}

func (c *storeClaim) Release() { c.unlock() }
