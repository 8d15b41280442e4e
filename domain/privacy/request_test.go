package privacy_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/domaintest"
	"github.com/ledgerline/ledgerline/domain/privacy"
)

var (
	now   = day(2026, 3, 10)
	reqID = uuid.MustParse("0195f0a0-0000-7000-8000-0000000000e1")
	subj  = uuid.MustParse("0195f0a0-0000-7000-8000-000000000001")
	hold1 = uuid.MustParse("0195f0a0-0000-7000-8000-0000000000b1")
	hexA  = strings.Repeat("a", 64)
)

func TestEvents(t *testing.T) { domaintest.CheckEvents(t, privacy.Events()) }

func received(kind, law string) privacy.Received {
	e := privacy.Received{RequestID: reqID, Subject: subj, Kind: kind, Channel: "web_form", Law: law, ReceivedAt: now,
		DueAt: privacy.DueDate(mustLaw(law), now)}
	if d, ok := privacy.AckDue(mustLaw(law), now); ok {
		e.AckDueAt = &d
	}
	return e
}

func mustLaw(s string) privacy.Law { l, _ := privacy.ParseLaw(s); return l }

func TestReceive(t *testing.T) {
	valid := privacy.ReceiveParams{RequestID: reqID, Subject: subj, Kind: privacy.Erasure, Channel: privacy.WebForm, Law: privacy.CCPA, Details: "delete me"}
	with := func(f func(*privacy.ReceiveParams)) privacy.ReceiveParams { p := valid; f(&p); return p }
	want := received("erasure", "CCPA")
	want.Personal.Details = "delete me"
	cases := []struct {
		name string
		p    privacy.ReceiveParams
		want []any
		err  error
	}{
		{"OK", valid, []any{want}, nil},
		{"OKGDPRNoAck", with(func(p *privacy.ReceiveParams) { p.Law, p.Details, p.Kind = privacy.GDPR, "", privacy.Access }),
			[]any{received("access", "GDPR")}, nil},
		{"ErrRequestID", with(func(p *privacy.ReceiveParams) { p.RequestID = uuid.Nil }), nil, &domain.RuleError{Field: "request_id"}},
		{"ErrSubject", with(func(p *privacy.ReceiveParams) { p.Subject = uuid.Nil }), nil, &domain.RuleError{Field: "subject_id"}},
		{"ErrKind", with(func(p *privacy.ReceiveParams) { p.Kind = privacy.Kind{} }), nil, &domain.RuleError{Field: "kind"}},
		{"ErrChannel", with(func(p *privacy.ReceiveParams) { p.Channel = privacy.Channel{} }), nil, &domain.RuleError{Field: "channel"}},
		{"ErrLaw", with(func(p *privacy.ReceiveParams) { p.Law = privacy.Law{} }), nil, &domain.RuleError{Field: "law"}},
		{"ErrDetailsTooLong", with(func(p *privacy.ReceiveParams) { p.Details = strings.Repeat("x", 5001) }), nil, &domain.RuleError{Field: "details", Rule: "max_length"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := privacy.Receive(c.p, now)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("error = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(r.Changes(), c.want) {
				t.Fatalf("Receive = %#v, %v", r.Changes(), err)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	gdprErasure, gdprAccess, ccpaErasure := received("erasure", "GDPR"), received("access", "GDPR"), received("erasure", "CCPA")
	rectification := received("rectification", "GDPR")
	later := now.Add(24 * time.Hour)
	gdprDue := privacy.DueDate(privacy.GDPR, now)
	extended := privacy.Extended{RequestID: reqID, Reason: "complexity", NoticeSentAt: now, PreviousDueAt: gdprDue,
		DueAt: day(2026, 6, 10), ExtendedAt: later}
	completed := privacy.Completed{RequestID: reqID, CompletedAt: later}
	shredded := privacy.SubjectKeyShredded{RequestID: reqID, Subject: subj, KeyID: "dek-1", ShreddedAt: later}
	exported := privacy.ExportProduced{RequestID: reqID, Subject: subj, ExportID: hold1, SHA256: hexA, Format: "json", ProducedAt: later}
	extend := func(p privacy.ExtendParams, at time.Time) func(*privacy.Request) error {
		return func(r *privacy.Request) error { return r.Extend(p, at) }
	}
	certID := uuid.MustParse("0195f0a0-0000-7000-8000-0000000000c1")
	certify := func(r *privacy.Request) error { return r.IssueCertificate(certID, "subj-pseudo", hexA, later) }
	type C = domaintest.Case[*privacy.Request]
	load := func(h []any) *privacy.Request { return privacy.RehydrateRequest(reqID, h) }
	domaintest.Run(t, load, []C{
		{Name: "AcknowledgeOK", Given: []any{ccpaErasure}, When: func(r *privacy.Request) error { return r.Acknowledge(later) },
			Then: []any{privacy.Acknowledged{RequestID: reqID, AcknowledgedAt: later}}},
		{Name: "ErrAcknowledgeTwice", Given: []any{ccpaErasure, privacy.Acknowledged{RequestID: reqID}},
			When: func(r *privacy.Request) error { return r.Acknowledge(later) }, Err: privacy.ErrAlreadyAcknowledged},
		{Name: "ErrAcknowledgeUnknown", When: func(r *privacy.Request) error { return r.Acknowledge(later) }, Err: domain.ErrNotFound},

		{Name: "ExtendGDPROK", Given: []any{gdprErasure}, When: extend(privacy.ExtendParams{Reason: privacy.Complexity, NoticeSentAt: now}, later),
			Then: []any{extended}},
		{Name: "ExtendCCPAOK", Given: []any{ccpaErasure}, When: extend(privacy.ExtendParams{Reason: privacy.NumberOfRequests, NoticeSentAt: later}, later),
			Then: []any{privacy.Extended{RequestID: reqID, Reason: "number_of_requests", NoticeSentAt: later,
				PreviousDueAt: now.AddDate(0, 0, 45), DueAt: now.AddDate(0, 0, 90), ExtendedAt: later}}},
		{Name: "ExtendOnDueDateOK", Given: []any{gdprErasure}, When: extend(privacy.ExtendParams{Reason: privacy.Complexity, NoticeSentAt: gdprDue}, gdprDue),
			Then: []any{privacy.Extended{RequestID: reqID, Reason: "complexity", NoticeSentAt: gdprDue, PreviousDueAt: gdprDue, DueAt: day(2026, 6, 10), ExtendedAt: gdprDue}}},
		{Name: "ErrExtendTwice", Given: []any{gdprErasure, extended},
			When: extend(privacy.ExtendParams{Reason: privacy.Complexity, NoticeSentAt: later}, later), Err: privacy.ErrAlreadyExtended},
		{Name: "ErrExtendNoReason", Given: []any{gdprErasure}, When: extend(privacy.ExtendParams{NoticeSentAt: now}, later),
			Err: &domain.RuleError{Field: "reason", Rule: "required"}},
		{Name: "ErrExtendNoNotice", Given: []any{gdprErasure}, When: extend(privacy.ExtendParams{Reason: privacy.Complexity}, later),
			Err: &domain.RuleError{Field: "notice_sent_at", Rule: "required"}},
		{Name: "ErrExtendNoticeInFuture", Given: []any{gdprErasure},
			When: extend(privacy.ExtendParams{Reason: privacy.Complexity, NoticeSentAt: later.Add(time.Hour)}, later),
			Err:  &domain.RuleError{Field: "notice_sent_at", Rule: "within_deadline"}},
		{Name: "ErrExtendPastDue", Given: []any{gdprErasure},
			When: extend(privacy.ExtendParams{Reason: privacy.Complexity, NoticeSentAt: later}, gdprDue.Add(time.Second)), Err: privacy.ErrPastDue},
		{Name: "ErrExtendClosed", Given: []any{gdprErasure, shredded, completed},
			When: extend(privacy.ExtendParams{Reason: privacy.Complexity, NoticeSentAt: later}, later), Err: privacy.ErrRequestClosed},

		{Name: "DeferErasureOK", Given: []any{gdprErasure}, When: func(r *privacy.Request) error { return r.Defer([]uuid.UUID{hold1}, later) },
			Then: []any{privacy.Deferred{RequestID: reqID, HoldIDs: []uuid.UUID{hold1}, DeferredAt: later}}},
		{Name: "ErrDeferAccess", Given: []any{gdprAccess}, When: func(r *privacy.Request) error { return r.Defer([]uuid.UUID{hold1}, later) },
			Err: privacy.ErrWrongKind},
		{Name: "ErrDeferNoHolds", Given: []any{gdprErasure}, When: func(r *privacy.Request) error { return r.Defer(nil, later) },
			Err: &domain.RuleError{Field: "hold_ids", Rule: "required"}},

		{Name: "RecordExportOK", Given: []any{gdprAccess}, When: func(r *privacy.Request) error { return r.RecordExport(hold1, hexA, later) },
			Then: []any{exported}},
		{Name: "ErrExportOnErasure", Given: []any{gdprErasure}, When: func(r *privacy.Request) error { return r.RecordExport(hold1, hexA, later) },
			Err: &domain.RuleError{Field: "kind", Rule: "kind_access"}},
		{Name: "ErrExportHash", Given: []any{gdprAccess}, When: func(r *privacy.Request) error { return r.RecordExport(hold1, "nope", later) },
			Err: &domain.RuleError{Field: "sha256"}},
		{Name: "KeyShreddedOK", Given: []any{gdprErasure}, When: func(r *privacy.Request) error { return r.RecordKeyShredded("dek-1", later) },
			Then: []any{shredded}},
		{Name: "KeyShreddedAfterDeferralOK", Given: []any{gdprErasure, privacy.Deferred{RequestID: reqID, HoldIDs: []uuid.UUID{hold1}}},
			When: func(r *privacy.Request) error { return r.RecordKeyShredded("dek-1", later) }, Then: []any{shredded}},
		{Name: "ErrKeyShreddedTwice", Given: []any{gdprErasure, shredded},
			When: func(r *privacy.Request) error { return r.RecordKeyShredded("dek-1", later) }, Err: privacy.ErrKeyShredded},
		{Name: "ErrKeyShreddedNoKeyID", Given: []any{gdprErasure},
			When: func(r *privacy.Request) error { return r.RecordKeyShredded("", later) }, Err: &domain.RuleError{Field: "key_id"}},

		{Name: "CertificateOK", Given: []any{gdprErasure, shredded, completed}, When: certify,
			Then: []any{privacy.CertificateIssued{RequestID: reqID, CertificateID: certID, SubjectPseudonym: "subj-pseudo", CertificateHash: hexA, IssuedAt: later}}},
		{Name: "ErrCertificateBeforeShred", Given: []any{gdprErasure}, When: certify, Err: privacy.ErrKeyNotShredded},
		{Name: "ErrCertificateTwice", Given: []any{gdprErasure, shredded, privacy.CertificateIssued{RequestID: reqID}}, When: certify, Err: privacy.ErrCertificateIssued},
		{Name: "ErrCertificateForAccess", Given: []any{gdprAccess}, When: certify, Err: privacy.ErrWrongKind},

		{Name: "CompleteErasureOK", Given: []any{gdprErasure, shredded}, When: func(r *privacy.Request) error { return r.Complete(later) },
			Then: []any{completed}},
		{Name: "CompleteAccessOK", Given: []any{gdprAccess, exported}, When: func(r *privacy.Request) error { return r.Complete(later) },
			Then: []any{completed}},
		{Name: "CompleteRectificationOK", Given: []any{rectification}, When: func(r *privacy.Request) error { return r.Complete(later) },
			Then: []any{completed}},
		{Name: "ErrCompleteErasureBeforeShred", Given: []any{gdprErasure}, When: func(r *privacy.Request) error { return r.Complete(later) },
			Err: privacy.ErrKeyNotShredded},
		{Name: "ErrCompleteAccessWithoutExport", Given: []any{gdprAccess}, When: func(r *privacy.Request) error { return r.Complete(later) },
			Err: privacy.ErrExportMissing},
		{Name: "ErrCompleteTwice", Given: []any{rectification, completed}, When: func(r *privacy.Request) error { return r.Complete(later) },
			Err: privacy.ErrRequestClosed},

		{Name: "RejectOK", Given: []any{gdprAccess}, When: func(r *privacy.Request) error { return r.Reject(privacy.IdentityNotVerified, later) },
			Then: []any{privacy.Rejected{RequestID: reqID, Reason: "identity_not_verified", RejectedAt: later}}},
		{Name: "ErrRejectNoReason", Given: []any{gdprAccess}, When: func(r *privacy.Request) error { return r.Reject(privacy.RejectReason{}, later) },
			Err: &domain.RuleError{Field: "reason"}},
		{Name: "ErrRejectCompleted", Given: []any{rectification, completed}, When: func(r *privacy.Request) error { return r.Reject(privacy.Excessive, later) },
			Err: domain.ErrStateConflict},
	})
}

func TestOverdue(t *testing.T) {
	gdpr, ccpa := received("rectification", "GDPR"), received("rectification", "CCPA")
	ackDue := *ccpa.AckDueAt
	cases := []struct {
		name          string
		history       []any
		at            time.Time
		overdue, late bool
	}{
		{"OpenBeforeDue", []any{gdpr}, gdpr.DueAt, false, false},
		{"OpenAfterDue", []any{gdpr}, gdpr.DueAt.Add(time.Second), true, false},
		{"ExtendedNotOverdue", []any{gdpr, privacy.Extended{DueAt: gdpr.DueAt.AddDate(0, 2, 0)}}, gdpr.DueAt.Add(time.Hour), false, false},
		{"CompletedNeverOverdue", []any{gdpr, privacy.Completed{}}, gdpr.DueAt.AddDate(1, 0, 0), false, false},
		{"CCPAAckLate", []any{ccpa}, ackDue.Add(time.Second), false, true},
		{"CCPAAckedNotLate", []any{ccpa, privacy.Acknowledged{}}, ackDue.Add(time.Second), false, false},
		{"Unknown", nil, now, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := privacy.RehydrateRequest(reqID, c.history)
			if r.IsOverdue(c.at) != c.overdue || r.AckOverdue(c.at) != c.late {
				t.Fatalf("IsOverdue=%v AckOverdue=%v", r.IsOverdue(c.at), r.AckOverdue(c.at))
			}
		})
	}
}

func TestStreams(t *testing.T) {
	if privacy.RequestStream(reqID) != "privacy-"+reqID.String() || privacy.HoldStream(hold1) != "hold-"+hold1.String() {
		t.Fatal("stream names")
	}
}
