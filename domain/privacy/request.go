package privacy

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// Sentinels.
var (
	ErrRequestClosed       = domain.StateError("request already completed or rejected")
	ErrAlreadyAcknowledged = domain.StateError("request already acknowledged")
	ErrAlreadyExtended     = domain.StateError("request deadline already extended")
	ErrPastDue             = domain.StateError("deadline has passed; it can no longer be extended")
	ErrWrongKind           = errors.New("not allowed for this kind of request")
	ErrKeyShredded         = domain.StateError("subject key already shredded")
	ErrKeyNotShredded      = domain.StateError("subject key not shredded yet")
	ErrExportMissing       = domain.StateError("no export produced yet")
	ErrCertificateIssued   = domain.StateError("certificate already issued")
	ErrUnknownRequest      = fmt.Errorf("privacy request: %w", domain.ErrNotFound)
)

// RequestStream is the name of a request's stream.
func RequestStream(id uuid.UUID) string { return "privacy-" + id.String() }

// Request is the data-subject request aggregate.
type Request struct {
	id           uuid.UUID
	version      uint64
	changes      []any
	received     bool
	subject      uuid.UUID
	kind         Kind
	law          Law
	receivedAt   time.Time
	dueAt        time.Time
	ackDueAt     *time.Time
	acknowledged bool
	extended     bool
	closed       bool
	completed    bool
	deferredBy   []uuid.UUID
	exported     bool
	shredded     bool
	certified    bool
	channel      string
	keyID        string
	shreddedAt   time.Time
	certID       uuid.UUID
	failures     int
}

// ReceiveParams are the inputs of Receive. Details is optional free text (sealed).
type ReceiveParams struct {
	RequestID uuid.UUID
	Subject   uuid.UUID
	Kind      Kind
	Channel   Channel
	Law       Law
	Details   string
}

// Receive records a new request and fixes its deadlines from the law and now.
func Receive(p ReceiveParams, now time.Time) (*Request, error) {
	switch {
	case p.RequestID == uuid.Nil:
		return nil, domain.NewRuleError("request_id", "required", "is required")
	case p.Subject == uuid.Nil:
		return nil, domain.NewRuleError("subject_id", "required", "is required")
	case p.Kind == (Kind{}):
		return nil, domain.NewRuleError("kind", "required", "is required")
	case p.Channel == (Channel{}):
		return nil, domain.NewRuleError("channel", "required", "is required")
	case p.Law == (Law{}):
		return nil, domain.NewRuleError("law", "required", "is required")
	}
	if err := domain.CheckText("details", p.Details, 0, 5000); err != nil {
		return nil, err
	}
	var ack *time.Time
	if d, ok := AckDue(p.Law, now); ok {
		ack = &d
	}
	r := &Request{}
	r.record(Received{RequestID: p.RequestID, Subject: p.Subject, Kind: p.Kind.String(), Channel: p.Channel.String(),
		Law: p.Law.String(), ReceivedAt: now, DueAt: DueDate(p.Law, now), AckDueAt: ack,
		Personal: ReceivedPersonal{Details: p.Details}})
	return r, nil
}

// RehydrateRequest rebuilds a request from its stream.
func RehydrateRequest(id uuid.UUID, history []any) *Request {
	r := &Request{id: id}
	for _, e := range history {
		r.Apply(e)
		r.version++
	}
	return r
}

// Apply changes state for one event; unknown events are ignored.
func (r *Request) Apply(e any) {
	switch e := domain.Deref(e).(type) {
	case Received:
		r.id, r.subject, r.received = e.RequestID, e.Subject, true
		r.kind, _ = ParseKind(e.Kind)
		r.law, _ = ParseLaw(e.Law)
		r.receivedAt, r.dueAt, r.ackDueAt = e.ReceivedAt, e.DueAt, e.AckDueAt
		r.channel = e.Channel
	case Acknowledged:
		r.acknowledged = true
	case Extended:
		r.extended, r.dueAt = true, e.DueAt
	case Completed:
		r.closed, r.completed = true, true
	case Rejected:
		r.closed = true
	case Deferred:
		for _, h := range e.HoldIDs {
			if !slices.Contains(r.deferredBy, h) {
				r.deferredBy = append(r.deferredBy, h)
			}
		}
	case ExportProduced:
		r.exported = true
	case SubjectKeyShredded:
		r.shredded, r.keyID, r.shreddedAt = true, e.KeyID, e.ShreddedAt
	case CertificateIssued:
		r.certified, r.certID = true, e.CertificateID
	case ErasureVerificationFailed:
		r.failures++
	}
}

func (r *Request) record(e any) {
	r.Apply(e)
	r.changes = append(r.changes, e)
}

// ID returns the request id.
func (r *Request) ID() uuid.UUID { return r.id }

// Version is the number of events applied from history.
func (r *Request) Version() uint64 { return r.version }

// Changes returns the events recorded since load, in order.
func (r *Request) Changes() []any { return r.changes }

// ClearChanges forgets recorded events once they are stored.
func (r *Request) ClearChanges() { r.changes = nil }

// Subject is the account the request is about.
func (r *Request) Subject() uuid.UUID { return r.subject }

// Kind is the right exercised.
func (r *Request) Kind() Kind { return r.kind }

// Law is the statute whose deadlines apply.
func (r *Request) Law() Law { return r.law }

// DueAt is the current response deadline (after any extension).
func (r *Request) DueAt() time.Time { return r.dueAt }

// Closed reports whether the request was completed or rejected.
func (r *Request) Closed() bool { return r.closed }

// Completed reports whether the request was fulfilled.
func (r *Request) Completed() bool { return r.completed }

// Shredded reports whether the subject's key was recorded as shredded for this request.
func (r *Request) Shredded() bool { return r.shredded }

// ReceivedAt is when the request arrived.
func (r *Request) ReceivedAt() time.Time { return r.receivedAt }

// Channel is how the request arrived (web_form, email, api, support, account_closure).
func (r *Request) Channel() string { return r.channel }

// KeyID is the destroyed data key's id ("" until shredded).
func (r *Request) KeyID() string { return r.keyID }

// ShreddedAt is when the subject's key was recorded as destroyed (zero until then).
func (r *Request) ShreddedAt() time.Time { return r.shreddedAt }

// Certified reports whether the proof of deletion was issued.
func (r *Request) Certified() bool { return r.certified }

// CertificateID is the issued certificate's id (uuid.Nil until issued).
func (r *Request) CertificateID() uuid.UUID { return r.certID }

// VerificationFailures counts the recorded failed verifications of an erasure.
func (r *Request) VerificationFailures() int { return r.failures }

// DeferredBy lists the holds an erasure was deferred for (a copy).
func (r *Request) DeferredBy() []uuid.UUID { return slices.Clone(r.deferredBy) }

// IsOverdue reports whether the open request has passed its deadline at now.
func (r *Request) IsOverdue(now time.Time) bool { return r.received && !r.closed && now.After(r.dueAt) }

// AckOverdue reports whether a required acknowledgement is late at now.
func (r *Request) AckOverdue(now time.Time) bool {
	return r.received && !r.closed && !r.acknowledged && r.ackDueAt != nil && now.After(*r.ackDueAt)
}

func (r *Request) open() error {
	if !r.received {
		return ErrUnknownRequest
	}
	if r.closed {
		return ErrRequestClosed
	}
	return nil
}

func (r *Request) requireKind(k Kind) error {
	if r.kind != k {
		return &domain.RuleError{Field: "kind", Rule: "kind_" + k.String(), Message: "only for " + k.String() + " requests", Err: ErrWrongKind}
	}
	return nil
}

// Acknowledge records that the requester was told the request is being handled; once.
func (r *Request) Acknowledge(now time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	if r.acknowledged {
		return ErrAlreadyAcknowledged
	}
	r.record(Acknowledged{RequestID: r.id, AcknowledgedAt: now})
	return nil
}

// ExtendParams are the inputs of Extend: the reason and when the requester was told.
type ExtendParams struct {
	Reason       ExtensionReason
	NoticeSentAt time.Time
}

// Extend extends the deadline once (GDPR: by two months; CCPA: by 45 days), before it passes,
// with a reason and a notice already sent to the requester.
func (r *Request) Extend(p ExtendParams, now time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	if p.Reason == (ExtensionReason{}) {
		return domain.NewRuleError("reason", "required", "an extension needs a reason")
	}
	if p.NoticeSentAt.IsZero() {
		return domain.NewRuleError("notice_sent_at", "required", "the requester must be notified of the extension")
	}
	if p.NoticeSentAt.After(now) || p.NoticeSentAt.Before(r.receivedAt) || p.NoticeSentAt.After(r.dueAt) {
		return domain.NewRuleError("notice_sent_at", "within_deadline", "the notice must be sent after receipt and before the deadline")
	}
	if r.extended {
		return ErrAlreadyExtended
	}
	if now.After(r.dueAt) {
		return ErrPastDue
	}
	r.record(Extended{RequestID: r.id, Reason: p.Reason.String(), NoticeSentAt: p.NoticeSentAt,
		PreviousDueAt: r.dueAt, DueAt: ExtendedDueDate(r.law, r.receivedAt), ExtendedAt: now})
	return nil
}

// Defer records that an erasure waits for the given active holds (it is not refused).
func (r *Request) Defer(holdIDs []uuid.UUID, now time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := r.requireKind(Erasure); err != nil {
		return err
	}
	if len(holdIDs) == 0 || slices.Contains(holdIDs, uuid.Nil) {
		return domain.NewRuleError("hold_ids", "required", "at least one hold id is required")
	}
	r.record(Deferred{RequestID: r.id, HoldIDs: slices.Clone(holdIDs), DeferredAt: now})
	return nil
}

// RecordExport records the export produced for an access request.
func (r *Request) RecordExport(exportID uuid.UUID, sha256Hex string, now time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := r.requireKind(Access); err != nil {
		return err
	}
	if exportID == uuid.Nil {
		return domain.NewRuleError("export_id", "required", "is required")
	}
	if !domain.IsSHA256Hex(sha256Hex) {
		return domain.NewRuleError("sha256", "sha256_hex", "must be a lower-case hex SHA-256")
	}
	r.record(ExportProduced{RequestID: r.id, Subject: r.subject, ExportID: exportID, SHA256: sha256Hex, Format: "json", ProducedAt: now})
	return nil
}

// RecordKeyShredded records that the subject's data key was destroyed for an erasure; once.
func (r *Request) RecordKeyShredded(keyID string, now time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := r.requireKind(Erasure); err != nil {
		return err
	}
	if err := domain.CheckText("key_id", keyID, 1, 128); err != nil {
		return err
	}
	if r.shredded {
		return ErrKeyShredded
	}
	r.record(SubjectKeyShredded{RequestID: r.id, Subject: r.subject, KeyID: keyID, ShreddedAt: now})
	return nil
}

// IssueCertificate records the proof of deletion of an erasure whose key was shredded; once.
// It may follow completion.
func (r *Request) IssueCertificate(certificateID uuid.UUID, subjectPseudonym, certificateHash string, now time.Time) error {
	if !r.received {
		return ErrUnknownRequest
	}
	if err := r.requireKind(Erasure); err != nil {
		return err
	}
	if certificateID == uuid.Nil {
		return domain.NewRuleError("certificate_id", "required", "is required")
	}
	if err := domain.CheckText("subject_pseudonym", subjectPseudonym, 1, 128); err != nil {
		return err
	}
	if !domain.IsSHA256Hex(certificateHash) {
		return domain.NewRuleError("certificate_hash", "sha256_hex", "must be a lower-case hex SHA-256")
	}
	if !r.shredded {
		return ErrKeyNotShredded
	}
	if r.certified {
		return ErrCertificateIssued
	}
	r.record(CertificateIssued{RequestID: r.id, CertificateID: certificateID, SubjectPseudonym: subjectPseudonym,
		CertificateHash: certificateHash, IssuedAt: now})
	return nil
}

// IssueSignedCertificate is IssueCertificate that also records the signed
// certificate file itself (it holds no personal data), so it can be served
// exactly as signed.
func (r *Request) IssueSignedCertificate(certificateID uuid.UUID, subjectPseudonym string, file []byte, certificateHash string, now time.Time) error {
	if len(file) == 0 {
		return domain.NewRuleError("certificate", "required", "is required")
	}
	if err := r.IssueCertificate(certificateID, subjectPseudonym, certificateHash, now); err != nil {
		return err
	}
	e := r.changes[len(r.changes)-1].(CertificateIssued)
	e.Certificate = append([]byte(nil), file...)
	r.changes[len(r.changes)-1] = e
	return nil
}

// RecordVerificationFailed records that the checks after a shred did not all
// pass: the erasure stays open and no certificate may be issued until a
// later run passes.
func (r *Request) RecordVerificationFailed(checks []FailedCheck, now time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := r.requireKind(Erasure); err != nil {
		return err
	}
	if !r.shredded {
		return ErrKeyNotShredded
	}
	if len(checks) == 0 {
		return domain.NewRuleError("checks", "required", "at least one failed check is required")
	}
	r.record(ErasureVerificationFailed{RequestID: r.id, Subject: r.subject, Checks: slices.Clone(checks), FailedAt: now})
	return nil
}

// Complete closes the request as fulfilled: an access request needs its export, an erasure its
// shredded key.
func (r *Request) Complete(now time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	if r.kind == Access && !r.exported {
		return ErrExportMissing
	}
	if r.kind == Erasure && !r.shredded {
		return ErrKeyNotShredded
	}
	r.record(Completed{RequestID: r.id, CompletedAt: now})
	return nil
}

// Reject closes the request as refused.
func (r *Request) Reject(reason RejectReason, now time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	if reason == (RejectReason{}) {
		return domain.NewRuleError("reason", "required", "is required")
	}
	r.record(Rejected{RequestID: r.id, Reason: reason.String(), RejectedAt: now})
	return nil
}
