// Package eventstore defines Ledgerline's log: the event envelope, the Store
// contract every backend keeps, the codec that turns domain events into
// envelopes (sealing their personal part), the hash chain, and an in-memory
// store for unit tests.
//
// It must never import an adapter, a driver or anything outside the standard
// library, google/uuid and x/crypto-level packages: backends depend on it,
// never the other way round.
package eventstore

import (
	"time"

	"github.com/google/uuid"
)

// Event is one stored envelope. Fields marked "store" are assigned by the
// store on append; callers fill the rest.
type Event struct {
	ID         uuid.UUID // UUIDv7; appending the same id twice is idempotent
	Stream     string    // store: copied from the Append call
	Version    uint64    // store: 1-based version within the stream
	Position   uint64    // store: global, gapless, strictly increasing, from 1
	Type       string    // stable dotted name, e.g. "account.registered"
	Schema     int       // payload schema version (>= 1)
	RecordedAt time.Time // store: UTC, microsecond precision
	Data       []byte    // public payload (JSON); never personal data
	Subject    string    // data subject id, a canonical UUID; empty when the event has no personal part
	Sealed     []byte    // personal part, AES-256-GCM under the subject's key
	Meta       Metadata
	PrevHash   Hash // store: hash of the event at Position-1 (zero for position 1)
	Hash       Hash // store: SHA-256 over PrevHash and the canonical envelope
}

// Metadata travels with every event. It names who did what and why; it must
// not carry personal data (actors are ids, not emails).
type Metadata struct {
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	Actor         string `json:"actor,omitempty"`
	ActorRole     string `json:"actor_role,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
}

// ExpectedVersion is the optimistic-concurrency condition of an append:
// NoStream, Any, StreamExists, or an exact version (>= 1) obtained from
// Exact.
type ExpectedVersion int64

const (
	// NoStream: the stream must not exist yet.
	NoStream ExpectedVersion = 0
	// Any: no check.
	Any ExpectedVersion = -1
	// StreamExists: the stream must have at least one event.
	StreamExists ExpectedVersion = -2
)

// Exact expects the stream to be at version v (v == 0 is NoStream).
func Exact(v uint64) ExpectedVersion { return ExpectedVersion(v) }

// Check reports whether a stream currently at version current satisfies e.
func (e ExpectedVersion) Check(current uint64) bool {
	switch {
	case e == Any:
		return true
	case e == StreamExists:
		return current > 0
	case e >= 0:
		return uint64(e) == current
	}
	return false
}

// AppendResult tells the caller where its events landed.
type AppendResult struct {
	FirstPosition uint64
	LastPosition  uint64
	NextVersion   uint64 // the stream's version after the append
	Duplicate     bool   // every event was already stored; nothing was written
}

// Head is the end of the log.
type Head struct {
	Position uint64
	Hash     Hash
}
