package privacy

import (
	"time"

	"github.com/google/uuid"
)

// Stable names of the bookkeeping events that let commands find a subject's holds, the erasures
// waiting for them, and the erasures scheduled after account closure without asking a read model.
const (
	TypeHoldIndexed      = "privacy.hold_indexed"
	TypeErasureWaiting   = "privacy.erasure_waiting"
	TypeErasureScheduled = "privacy.erasure_scheduled"
)

// SubjectHoldsStream is the per-subject index of legal holds (HoldIndexed) and of erasure
// requests waiting for them (ErasureWaiting). Entries are only ever added; whether a hold is still
// active is read from its own stream.
func SubjectHoldsStream(subject uuid.UUID) string { return "holds-" + subject.String() }

// ErasureScheduleStream is the single stream of erasures scheduled after account closure.
const ErasureScheduleStream = "erasure-schedule"

// HoldIndexed lists a hold in its subject's index stream.
type HoldIndexed struct {
	HoldID    uuid.UUID `json:"hold_id"`
	Subject   uuid.UUID `json:"subject_id"`
	IndexedAt time.Time `json:"indexed_at"`
}

// ErasureWaiting lists, in its subject's index stream, an erasure request that was deferred by
// legal holds, so that releasing the last hold can run it.
type ErasureWaiting struct {
	RequestID uuid.UUID   `json:"request_id"`
	Subject   uuid.UUID   `json:"subject_id"`
	HoldIDs   []uuid.UUID `json:"hold_ids"`
	At        time.Time   `json:"at"`
}

// ErasureScheduled records that a subject's personal data is to be erased at DueAt (after the
// grace period that follows account closure). RequestID is the id the erasure request will get.
type ErasureScheduled struct {
	RequestID   uuid.UUID `json:"request_id"`
	Subject     uuid.UUID `json:"subject_id"`
	Reason      string    `json:"reason"`
	DueAt       time.Time `json:"due_at"`
	ScheduledAt time.Time `json:"scheduled_at"`
}

func (HoldIndexed) EventType() string      { return TypeHoldIndexed }
func (ErasureWaiting) EventType() string   { return TypeErasureWaiting }
func (ErasureScheduled) EventType() string { return TypeErasureScheduled }
