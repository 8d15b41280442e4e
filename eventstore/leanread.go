package eventstore

import "context"

// LeanReader is implemented by stores that can read the log for projections
// more cheaply than ReadAll, by leaving out what no projector uses: the
// envelope's Stream, Version, PrevHash and Hash are left zero. Every other
// field (Position, ID, Type, Schema, RecordedAt, Data, Subject, Sealed, Meta)
// is exactly what ReadAll returns for the same position.
//
// Implementations keep ReadAll's contract otherwise: up to limit events with
// Position >= from, in order, with the same visibility (a lean read never
// sees an event ReadAll would not), safe for concurrent use.
//
// The events are written over dst[:0] when its capacity allows (a replay
// recycles its pages: allocating and zeroing a megabyte-sized page per
// read was a tenth of its time), so the caller must be done with dst's
// elements; the byte fields they point to are never reused. Callers must
// not modify the byte fields of the events returned.
//
// Auditors and anything that checks the chain use ReadAll, never this.
type LeanReader interface {
	ReadAllLean(ctx context.Context, dst []Event, from uint64, limit int) ([]Event, error)
}

// ReadAllLean reads like ReadAll, leanly when s implements LeanReader (then
// into dst, see LeanReader): the read of callers that need only the fields
// LeanReader keeps.
func ReadAllLean(ctx context.Context, s Store, dst []Event, from uint64, limit int) ([]Event, error) {
	if l, ok := s.(LeanReader); ok {
		return l.ReadAllLean(ctx, dst, from, limit)
	}
	return s.ReadAll(ctx, from, limit)
}
