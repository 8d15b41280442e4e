package eventstore

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors every backend returns (wrapped or not); check with errors.Is.
var (
	ErrConcurrency   = errors.New("eventstore: expected version does not match")
	ErrNotFound      = errors.New("eventstore: not found")
	ErrDuplicateID   = errors.New("eventstore: event id already stored with different content or stream")
	ErrInvalidEvent  = errors.New("eventstore: invalid event")
	ErrClosed        = errors.New("eventstore: store closed")
	ErrUnavailable   = errors.New("eventstore: backend unavailable")
	ErrChainBroken   = errors.New("eventstore: hash chain broken")
	ErrKeyShredded   = errors.New("eventstore: subject key shredded")
	ErrUnknownType   = errors.New("eventstore: unknown event type")
	ErrUpcastMissing = errors.New("eventstore: no upcaster for schema")
)

// ConcurrencyError carries the details of a failed expected-version check.
// errors.Is(err, ErrConcurrency) holds for it.
type ConcurrencyError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   uint64
}

func (e *ConcurrencyError) Error() string {
	return fmt.Sprintf("eventstore: stream %q expected version %d, actual %d", e.Stream, e.Expected, e.Actual)
}

func (e *ConcurrencyError) Unwrap() error { return ErrConcurrency }

// ChainError locates the first broken link of the hash chain.
type ChainError struct {
	Position uint64
	Reason   string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("eventstore: hash chain broken at position %d: %s", e.Position, e.Reason)
}

func (e *ChainError) Unwrap() error { return ErrChainBroken }

// Store is the log. Implementations must keep this contract (checked by
// eventstore/storetest):
//
//   - Append is atomic per call and durable before it returns. It checks
//     expected against the stream's current version and fails with an error
//     matching ErrConcurrency otherwise. Events with an id already stored in the
//     same stream with the same type and data are not stored again: when every
//     event of the call is such a repeat the call returns the original
//     positions with Duplicate set, whatever expected says. A repeat id with
//     different content fails with ErrDuplicateID.
//   - Positions are global, start at 1, have no gaps and become visible to
//     readers in order: a reader that has seen N has seen every event <= N.
//   - Appends may be batched with other callers' appends (group commit) but each
//     call keeps its own check and its own result.
//   - Every method is safe for concurrent use.
type Store interface {
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...Event) (AppendResult, error)
	// ReadStream returns up to limit events of stream with Version >= from
	// (from 1), in version order. A missing stream yields no events, no error.
	ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]Event, error)
	// ReadAll returns up to limit events with Position >= from, in order.
	ReadAll(ctx context.Context, from uint64, limit int) ([]Event, error)
	// Subscribe calls fn for every event with Position >= from, in order,
	// first catching up and then following new appends, until ctx ends or fn
	// returns an error (which Subscribe returns). No gaps, no repeats.
	Subscribe(ctx context.Context, from uint64, fn func(Event) error) error
	// Head returns the last position and its chain hash (zero when empty).
	Head(ctx context.Context) (Head, error)
	Close() error
}

// ChangeNotifier is implemented by stores that can tell in-process readers
// when the log may have grown, so followers need not poll. The returned
// channel is closed at the next change (take it before reading).
type ChangeNotifier interface {
	Changed() <-chan struct{}
}

// RawTamperer is implemented by backends whose tests can alter a stored byte
// directly in storage (to prove the chain detects it). Test use only.
type RawTamperer interface {
	TamperData(ctx context.Context, position uint64) error
}
