package privacy

import (
	"time"

	"github.com/google/uuid"
)

// Stable event type names.
const (
	TypeReceived           = "privacy.request_received"
	TypeAcknowledged       = "privacy.request_acknowledged"
	TypeExtended           = "privacy.request_extended"
	TypeCompleted          = "privacy.request_completed"
	TypeRejected           = "privacy.request_rejected"
	TypeDeferred           = "privacy.request_deferred"
	TypeExportProduced     = "privacy.export_produced"
	TypeSubjectKeyShredded = "privacy.subject_key_shredded"
	TypeCertificateIssued  = "privacy.certificate_issued"
	TypeHoldPlaced         = "privacy.hold_placed"
	TypeHoldReleased       = "privacy.hold_released"
	// TypeErasureVerificationFailed: the checks after a shred found personal data.
	TypeErasureVerificationFailed = "privacy.erasure_verification_failed"
)

// Events returns one zero value of every event type of this package, for the registry.
func Events() []any {
	return []any{Received{}, Acknowledged{}, Extended{}, Completed{}, Rejected{}, Deferred{},
		ExportProduced{}, SubjectKeyShredded{}, CertificateIssued{}, HoldPlaced{}, HoldReleased{},
		HoldIndexed{}, ErasureWaiting{}, ErasureScheduled{}, ErasureVerificationFailed{}}
}

// Received: a data-subject request arrived; its deadlines are fixed by law at this moment.
type Received struct {
	RequestID  uuid.UUID        `json:"request_id"`
	Subject    uuid.UUID        `json:"subject_id"` // the account the request is about
	Kind       string           `json:"kind"`
	Channel    string           `json:"channel"`
	Law        string           `json:"law"`
	ReceivedAt time.Time        `json:"received_at"`
	DueAt      time.Time        `json:"due_at"`
	AckDueAt   *time.Time       `json:"ack_due_at,omitempty"` // CCPA only
	Personal   ReceivedPersonal `json:"-"`
}

// ReceivedPersonal is sealed: the request's own words may contain anything about the person.
type ReceivedPersonal struct {
	Details string `json:"details,omitempty"`
}

// Acknowledged: the requester was told the request is being handled.
type Acknowledged struct {
	RequestID      uuid.UUID `json:"request_id"`
	AcknowledgedAt time.Time `json:"acknowledged_at"`
}

// Extended: the deadline was extended once, with a reason and a notice to the requester.
type Extended struct {
	RequestID     uuid.UUID `json:"request_id"`
	Reason        string    `json:"reason"`
	NoticeSentAt  time.Time `json:"notice_sent_at"`
	PreviousDueAt time.Time `json:"previous_due_at"`
	DueAt         time.Time `json:"due_at"`
	ExtendedAt    time.Time `json:"extended_at"`
}

// Completed: the request was fulfilled.
type Completed struct {
	RequestID   uuid.UUID `json:"request_id"`
	CompletedAt time.Time `json:"completed_at"`
}

// Rejected: the request was refused, for a reason from a fixed set.
type Rejected struct {
	RequestID  uuid.UUID `json:"request_id"`
	Reason     string    `json:"reason"`
	RejectedAt time.Time `json:"rejected_at"`
}

// Deferred: an erasure waits for legal holds to be released.
type Deferred struct {
	RequestID  uuid.UUID   `json:"request_id"`
	HoldIDs    []uuid.UUID `json:"hold_ids"`
	DeferredAt time.Time   `json:"deferred_at"`
}

// ExportProduced: the machine-readable export for an access request exists.
type ExportProduced struct {
	RequestID  uuid.UUID `json:"request_id"`
	Subject    uuid.UUID `json:"subject_id"`
	ExportID   uuid.UUID `json:"export_id"`
	SHA256     string    `json:"sha256"` // of the export document
	Format     string    `json:"format"`
	ProducedAt time.Time `json:"produced_at"`
}

// SubjectKeyShredded: the subject's data key was destroyed; their personal parts are unreadable.
type SubjectKeyShredded struct {
	RequestID  uuid.UUID `json:"request_id"`
	Subject    uuid.UUID `json:"subject_id"`
	KeyID      string    `json:"key_id"` // vault key id
	ShreddedAt time.Time `json:"shredded_at"`
}

// CertificateIssued: the signed proof of deletion exists.
type CertificateIssued struct {
	RequestID        uuid.UUID `json:"request_id"`
	CertificateID    uuid.UUID `json:"certificate_id"`
	SubjectPseudonym string    `json:"subject_pseudonym"`
	CertificateHash  string    `json:"certificate_hash"` // SHA-256 of the signed certificate
	IssuedAt         time.Time `json:"issued_at"`
	// Certificate is the signed certificate file, byte for byte (base64 in
	// JSON). It holds no personal data: the subject is only a pseudonym.
	Certificate []byte `json:"certificate,omitempty"`
}

// ErasureVerificationFailed: after the subject's key was destroyed, a check
// still found personal data (or could not run); the request stays open and
// no certificate is issued. It names checks and places, never values.
type ErasureVerificationFailed struct {
	RequestID uuid.UUID     `json:"request_id"`
	Subject   uuid.UUID     `json:"subject_id"`
	Checks    []FailedCheck `json:"checks"`
	FailedAt  time.Time     `json:"failed_at"`
}

// FailedCheck is one verification that did not pass.
type FailedCheck struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
}

// HoldPlaced: some of a subject's data must be kept (dispute, tax retention...).
type HoldPlaced struct {
	HoldID     uuid.UUID `json:"hold_id"`
	Subject    uuid.UUID `json:"subject_id"`
	Categories []string  `json:"categories"`
	Basis      string    `json:"basis"`
	Reference  string    `json:"reference,omitempty"` // e.g. the dispute id
	ReviewAt   time.Time `json:"review_at"`
	PlacedAt   time.Time `json:"placed_at"`
}

// HoldReleased: the hold ended; a deferred erasure may now run.
type HoldReleased struct {
	HoldID     uuid.UUID `json:"hold_id"`
	Subject    uuid.UUID `json:"subject_id"`
	ReleasedAt time.Time `json:"released_at"`
}

func (Received) EventType() string           { return TypeReceived }
func (e Received) SubjectID() uuid.UUID      { return e.Subject }
func (Acknowledged) EventType() string       { return TypeAcknowledged }
func (Extended) EventType() string           { return TypeExtended }
func (Completed) EventType() string          { return TypeCompleted }
func (Rejected) EventType() string           { return TypeRejected }
func (Deferred) EventType() string           { return TypeDeferred }
func (ExportProduced) EventType() string     { return TypeExportProduced }
func (SubjectKeyShredded) EventType() string { return TypeSubjectKeyShredded }
func (CertificateIssued) EventType() string  { return TypeCertificateIssued }
func (HoldPlaced) EventType() string         { return TypeHoldPlaced }
func (HoldReleased) EventType() string       { return TypeHoldReleased }
func (ErasureVerificationFailed) EventType() string {
	return TypeErasureVerificationFailed
}
