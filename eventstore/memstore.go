package eventstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// MemStore is an in-memory Store for unit tests. It keeps the whole contract
// but nothing survives the process.
type MemStore struct {
	mu      sync.RWMutex
	events  []Event
	streams map[string][]uint64 // stream -> positions
	byID    map[uuid.UUID]uint64
	closed  bool
	wake    Broadcaster
	scratch []byte
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{streams: map[string][]uint64{}, byID: map[uuid.UUID]uint64{}}
}

// Append implements Store.
func (m *MemStore) Append(ctx context.Context, stream string, expected ExpectedVersion, events ...Event) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	in := append([]Event(nil), events...)
	if err := PrepareAppend(stream, expected, in); err != nil {
		return AppendResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return AppendResult{}, ErrClosed
	}
	current := uint64(len(m.streams[stream]))
	if res, done, err := m.repeats(in); done || err != nil {
		res.NextVersion = current
		return res, err
	}
	if !expected.Check(current) {
		return AppendResult{}, &ConcurrencyError{Stream: stream, Expected: expected, Actual: current}
	}
	var prev Hash
	if n := len(m.events); n > 0 {
		prev = m.events[n-1].Hash
	}
	now := Now()
	res := AppendResult{FirstPosition: uint64(len(m.events)) + 1}
	for i := range in {
		e := &in[i]
		current++
		e.Version = current
		e.Position = uint64(len(m.events)) + 1
		e.RecordedAt = now
		e.Data = append([]byte(nil), e.Data...)
		e.Sealed = append([]byte(nil), e.Sealed...)
		m.scratch = Link(e, prev, m.scratch)
		prev = e.Hash
		m.events = append(m.events, *e)
		m.streams[stream] = append(m.streams[stream], e.Position)
		m.byID[e.ID] = e.Position
	}
	res.LastPosition = uint64(len(m.events))
	res.NextVersion = current
	m.wake.Notify()
	return res, nil
}

// repeats handles ids already stored: all repeats → the original result;
// some repeats → ErrDuplicateID; none → not done.
func (m *MemStore) repeats(in []Event) (AppendResult, bool, error) {
	var res AppendResult
	found := 0
	for i := range in {
		pos, ok := m.byID[in[i].ID]
		if !ok {
			continue
		}
		if !IsRepeat(&m.events[pos-1], &in[i]) {
			return res, false, fmt.Errorf("%w: event %d is stored in another stream or with another type", ErrDuplicateID, i)
		}
		if found == 0 {
			res.FirstPosition = pos
		}
		res.LastPosition = pos
		found++
	}
	switch {
	case found == 0:
		return res, false, nil
	case found < len(in):
		return AppendResult{}, false, fmt.Errorf("%w: only some events of the call are already stored", ErrDuplicateID)
	}
	res.Duplicate = true
	return res, true, nil
}

// ReadStream implements Store.
func (m *MemStore) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	positions := m.streams[stream]
	if from == 0 {
		from = 1
	}
	var out []Event
	for v := from; v <= uint64(len(positions)) && (limit <= 0 || len(out) < limit); v++ {
		out = append(out, m.events[positions[v-1]-1])
	}
	return out, nil
}

// ReadAll implements Store.
func (m *MemStore) ReadAll(ctx context.Context, from uint64, limit int) ([]Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	if from == 0 {
		from = 1
	}
	if from > uint64(len(m.events)) {
		return nil, nil
	}
	end := uint64(len(m.events))
	if limit > 0 && from-1+uint64(limit) < end {
		end = from - 1 + uint64(limit)
	}
	return append([]Event(nil), m.events[from-1:end]...), nil
}

// Subscribe implements Store.
func (m *MemStore) Subscribe(ctx context.Context, from uint64, fn func(Event) error) error {
	return Follow(ctx, from, m.ReadAll, m.wake.Wait, FollowConfig{}, fn)
}

// Changed implements ChangeNotifier.
func (m *MemStore) Changed() <-chan struct{} { return m.wake.Wait() }

// Head implements Store.
func (m *MemStore) Head(ctx context.Context) (Head, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Head{}, ErrClosed
	}
	if n := len(m.events); n > 0 {
		return Head{Position: m.events[n-1].Position, Hash: m.events[n-1].Hash}, nil
	}
	return Head{}, nil
}

// Close implements Store.
func (m *MemStore) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.wake.Notify()
	return nil
}

// TamperData flips a byte of the stored data at position (test use only).
func (m *MemStore) TamperData(ctx context.Context, position uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if position == 0 || position > uint64(len(m.events)) {
		return ErrNotFound
	}
	d := append([]byte(nil), m.events[position-1].Data...)
	d[len(d)/2] ^= 0x01
	m.events[position-1].Data = d
	return nil
}
