package projections

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Privacy request statuses.
const (
	ReqReceived     = "received"
	ReqAcknowledged = "acknowledged"
	ReqExtended     = "extended"
	ReqDeferred     = "deferred"
	ReqCompleted    = "completed"
	ReqRejected     = "rejected"
)

// RequestRow is the stored state of one data-subject request.
type RequestRow struct {
	RequestID       uuid.UUID   `json:"request_id"`
	Subject         uuid.UUID   `json:"subject_id"`
	Kind            string      `json:"kind"`
	Channel         string      `json:"channel"`
	Law             string      `json:"law"`
	Status          string      `json:"status"`
	ReceivedAt      time.Time   `json:"received_at"`
	DueAt           time.Time   `json:"due_at"`
	AckDueAt        *time.Time  `json:"ack_due_at,omitempty"`
	AcknowledgedAt  *time.Time  `json:"acknowledged_at,omitempty"`
	ExtendedAt      *time.Time  `json:"extended_at,omitempty"`
	ExtensionReason string      `json:"extension_reason,omitempty"`
	DeferredBy      []uuid.UUID `json:"deferred_by,omitempty"`
	ExportID        *uuid.UUID  `json:"export_id,omitempty"`
	KeyShreddedAt   *time.Time  `json:"key_shredded_at,omitempty"`
	CertificateID   *uuid.UUID  `json:"certificate_id,omitempty"`
	ClosedAt        *time.Time  `json:"closed_at,omitempty"`
	RejectReason    string      `json:"reject_reason,omitempty"`
	Details         *SealedRef  `json:"-"`
}

// Open reports whether the request still needs an answer.
func (r *RequestRow) Open() bool { return r.Status != ReqCompleted && r.Status != ReqRejected }

// RequestView is a request as queries return it; Details is opened only by
// Request (single request reads).
type RequestView struct {
	RequestRow
	Overdue       bool   `json:"overdue"`
	Details       string `json:"details,omitempty"`
	DetailsErased bool   `json:"details_erased,omitempty"`
}

// HoldView is one legal hold.
type HoldView struct {
	HoldID     uuid.UUID  `json:"hold_id"`
	Subject    uuid.UUID  `json:"subject_id"`
	Categories []string   `json:"categories"`
	Basis      string     `json:"basis"`
	Reference  string     `json:"reference,omitempty"`
	ReviewAt   time.Time  `json:"review_at"`
	PlacedAt   time.Time  `json:"placed_at"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	Active     bool       `json:"active"`
	PlacedPos  uint64     `json:"-"`
}

// RequestFilter selects requests.
type RequestFilter struct {
	Subject  uuid.UUID // optional
	Kind     string    // optional
	OpenOnly bool
}

// PrivacyQuery answers questions about data-subject requests and legal
// holds. Safe for concurrent use.
type PrivacyQuery interface {
	// Request returns one request with its details opened, or ErrNotFound.
	Request(ctx context.Context, id uuid.UUID, now time.Time) (RequestView, error)
	// Requests lists requests by due date (then id).
	Requests(ctx context.Context, f RequestFilter, now time.Time) ([]RequestView, error)
	// Overdue lists open requests whose deadline passed before now, by due date.
	Overdue(ctx context.Context, now time.Time) ([]RequestView, error)
	// Holds lists a subject's holds in placing order (activeOnly: unreleased).
	Holds(ctx context.Context, subject uuid.UUID, activeOnly bool) ([]HoldView, error)
}

// PrivacyTouches lists the requests, holds and subjects a batch may change.
func PrivacyTouches(batch []Record) (requests, holds, subjects []uuid.UUID) {
	for i := range batch {
		switch e := batch[i].Payload.(type) {
		case privacy.Received:
			requests = append(requests, e.RequestID)
		case privacy.Acknowledged:
			requests = append(requests, e.RequestID)
		case privacy.Extended:
			requests = append(requests, e.RequestID)
		case privacy.Completed:
			requests = append(requests, e.RequestID)
		case privacy.Rejected:
			requests = append(requests, e.RequestID)
		case privacy.Deferred:
			requests = append(requests, e.RequestID)
		case privacy.ExportProduced:
			requests = append(requests, e.RequestID)
		case privacy.CertificateIssued:
			requests = append(requests, e.RequestID)
		case privacy.SubjectKeyShredded:
			requests = append(requests, e.RequestID)
			subjects = append(subjects, e.Subject)
		case privacy.HoldPlaced:
			holds = append(holds, e.HoldID)
		case privacy.HoldReleased:
			holds = append(holds, e.HoldID)
		}
	}
	return
}

// PrivacyState is what FoldPrivacy works on.
type PrivacyState struct {
	Requests  map[uuid.UUID]*RequestRow
	Holds     map[uuid.UUID]*HoldView
	BySubject func(subject uuid.UUID) []*RequestRow // requests of a subject present in Requests
	OnNew     func(r *RequestRow, h *HoldView)      // memory indexes; may be nil
}

// FoldPrivacy applies batch to st and marks changed rows dirty.
func FoldPrivacy(st *PrivacyState, batch []Record, dirtyReq, dirtyHold map[uuid.UUID]struct{}) {
	markR := func(id uuid.UUID) {
		if dirtyReq != nil {
			dirtyReq[id] = struct{}{}
		}
	}
	for i := range batch {
		rec := &batch[i]
		switch e := rec.Payload.(type) {
		case privacy.Received:
			if st.Requests[e.RequestID] != nil {
				continue
			}
			r := &RequestRow{RequestID: e.RequestID, Subject: e.Subject, Kind: e.Kind, Channel: e.Channel, Law: e.Law,
				Status: ReqReceived, ReceivedAt: TS(e.ReceivedAt), DueAt: TS(e.DueAt), AckDueAt: TSP(e.AckDueAt), Details: RefOf(*rec)}
			st.Requests[e.RequestID] = r
			if st.OnNew != nil {
				st.OnNew(r, nil)
			}
			markR(r.RequestID)
			continue
		case privacy.HoldPlaced:
			if st.Holds[e.HoldID] != nil {
				continue
			}
			h := &HoldView{HoldID: e.HoldID, Subject: e.Subject, Categories: slices.Clone(e.Categories), Basis: e.Basis,
				Reference: e.Reference, ReviewAt: TS(e.ReviewAt), PlacedAt: TS(e.PlacedAt), Active: true, PlacedPos: rec.Position}
			if h.Categories == nil {
				h.Categories = []string{}
			}
			st.Holds[e.HoldID] = h
			if st.OnNew != nil {
				st.OnNew(nil, h)
			}
			if dirtyHold != nil {
				dirtyHold[h.HoldID] = struct{}{}
			}
			continue
		case privacy.HoldReleased:
			if h := st.Holds[e.HoldID]; h != nil && h.Active {
				h.Active, h.ReleasedAt = false, TSP(&e.ReleasedAt)
				if dirtyHold != nil {
					dirtyHold[h.HoldID] = struct{}{}
				}
			}
			continue
		case privacy.SubjectKeyShredded:
			for _, r := range st.BySubject(e.Subject) {
				if r.Details != nil {
					r.Details = nil
					markR(r.RequestID)
				}
			}
		}
		var id uuid.UUID
		switch e := rec.Payload.(type) {
		case privacy.Acknowledged:
			id = e.RequestID
		case privacy.Extended:
			id = e.RequestID
		case privacy.Completed:
			id = e.RequestID
		case privacy.Rejected:
			id = e.RequestID
		case privacy.Deferred:
			id = e.RequestID
		case privacy.ExportProduced:
			id = e.RequestID
		case privacy.CertificateIssued:
			id = e.RequestID
		case privacy.SubjectKeyShredded:
			id = e.RequestID
		default:
			continue
		}
		r := st.Requests[id]
		if r == nil {
			continue
		}
		switch e := rec.Payload.(type) {
		case privacy.Acknowledged:
			r.AcknowledgedAt = TSP(&e.AcknowledgedAt)
			if r.Status == ReqReceived {
				r.Status = ReqAcknowledged
			}
		case privacy.Extended:
			r.DueAt, r.ExtendedAt, r.ExtensionReason = TS(e.DueAt), TSP(&e.ExtendedAt), e.Reason
			if r.Open() && r.Status != ReqDeferred {
				r.Status = ReqExtended
			}
		case privacy.Deferred:
			for _, h := range e.HoldIDs {
				if !slices.Contains(r.DeferredBy, h) {
					r.DeferredBy = append(r.DeferredBy, h)
				}
			}
			if r.Open() {
				r.Status = ReqDeferred
			}
		case privacy.ExportProduced:
			x := e.ExportID
			r.ExportID = &x
		case privacy.SubjectKeyShredded:
			r.KeyShreddedAt = TSP(&e.ShreddedAt)
			if r.Status == ReqDeferred {
				r.Status = ReqAcknowledged
			}
		case privacy.CertificateIssued:
			c := e.CertificateID
			r.CertificateID = &c
		case privacy.Completed:
			r.Status, r.ClosedAt = ReqCompleted, TSP(&e.CompletedAt)
		case privacy.Rejected:
			r.Status, r.ClosedAt, r.RejectReason = ReqRejected, TSP(&e.RejectedAt), e.Reason
		}
		markR(r.RequestID)
	}
}

// ViewRequest turns a row into its view; details are opened when asked.
func ViewRequest(ctx context.Context, codec *eventstore.Codec, r RequestRow, now time.Time, withDetails bool) (RequestView, error) {
	v := RequestView{RequestRow: r, Overdue: r.Open() && now.After(r.DueAt)}
	v.DeferredBy = slices.Clone(r.DeferredBy)
	if !withDetails {
		return v, nil
	}
	if r.Details == nil {
		v.DetailsErased = r.KeyShreddedAt != nil
		return v, nil
	}
	p, erased, err := r.Details.Open(ctx, codec)
	if err != nil {
		return RequestView{}, fmt.Errorf("projections: open details of request %s: %w", r.RequestID, err)
	}
	if erased {
		v.DetailsErased = true
	} else if e, ok := p.(privacy.Received); ok {
		v.Details = e.Personal.Details
	}
	return v, nil
}

// SortRequests orders views by due date, then id.
func SortRequests(vs []RequestView) {
	sort.Slice(vs, func(i, j int) bool {
		if !vs[i].DueAt.Equal(vs[j].DueAt) {
			return vs[i].DueAt.Before(vs[j].DueAt)
		}
		return vs[i].RequestID.String() < vs[j].RequestID.String()
	})
}

// MemPrivacy is the in-memory privacy read model.
type MemPrivacy struct {
	codec     *eventstore.Codec
	mu        sync.RWMutex
	requests  map[uuid.UUID]*RequestRow
	holds     map[uuid.UUID]*HoldView
	bySubject map[uuid.UUID][]*RequestRow
	holdsBy   map[uuid.UUID][]*HoldView
}

var _ PrivacyQuery = (*MemPrivacy)(nil)

// NewMemPrivacy returns an empty in-memory privacy read model.
func NewMemPrivacy(codec *eventstore.Codec) *MemPrivacy {
	return &MemPrivacy{codec: codec, requests: map[uuid.UUID]*RequestRow{}, holds: map[uuid.UUID]*HoldView{},
		bySubject: map[uuid.UUID][]*RequestRow{}, holdsBy: map[uuid.UUID][]*HoldView{}}
}

func (m *MemPrivacy) apply(batch []Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := PrivacyState{Requests: m.requests, Holds: m.holds,
		BySubject: func(s uuid.UUID) []*RequestRow { return m.bySubject[s] },
		OnNew: func(r *RequestRow, h *HoldView) {
			if r != nil {
				m.bySubject[r.Subject] = append(m.bySubject[r.Subject], r)
			}
			if h != nil {
				m.holdsBy[h.Subject] = append(m.holdsBy[h.Subject], h)
			}
		}}
	FoldPrivacy(&st, batch, nil, nil)
}

// Request implements PrivacyQuery.
func (m *MemPrivacy) Request(ctx context.Context, id uuid.UUID, now time.Time) (RequestView, error) {
	m.mu.RLock()
	r := m.requests[id]
	var c RequestRow
	if r != nil {
		c = *r
	}
	m.mu.RUnlock()
	if r == nil {
		return RequestView{}, ErrNotFound
	}
	return ViewRequest(ctx, m.codec, c, now, true)
}

// Requests implements PrivacyQuery.
func (m *MemPrivacy) Requests(ctx context.Context, f RequestFilter, now time.Time) ([]RequestView, error) {
	m.mu.RLock()
	var rows []*RequestRow
	if f.Subject != uuid.Nil {
		rows = m.bySubject[f.Subject]
	} else {
		for _, r := range m.requests {
			rows = append(rows, r)
		}
	}
	out := []RequestView{}
	for _, r := range rows {
		if (f.Kind != "" && r.Kind != f.Kind) || (f.OpenOnly && !r.Open()) {
			continue
		}
		v, _ := ViewRequest(ctx, nil, *r, now, false)
		out = append(out, v)
	}
	m.mu.RUnlock()
	SortRequests(out)
	return out, nil
}

// Overdue implements PrivacyQuery.
func (m *MemPrivacy) Overdue(ctx context.Context, now time.Time) ([]RequestView, error) {
	m.mu.RLock()
	out := []RequestView{}
	for _, r := range m.requests {
		if r.Open() && now.After(r.DueAt) {
			v, _ := ViewRequest(ctx, nil, *r, now, false)
			out = append(out, v)
		}
	}
	m.mu.RUnlock()
	SortRequests(out)
	return out, nil
}

// Holds implements PrivacyQuery.
func (m *MemPrivacy) Holds(_ context.Context, subject uuid.UUID, activeOnly bool) ([]HoldView, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := []HoldView{}
	for _, h := range m.holdsBy[subject] {
		if activeOnly && !h.Active {
			continue
		}
		c := *h
		c.Categories = slices.Clone(h.Categories)
		out = append(out, c)
	}
	return out, nil
}
