package privacy

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// Sentinels.
var (
	ErrHoldReleased = domain.StateError("hold already released")
	ErrUnknownHold  = fmt.Errorf("legal hold: %w", domain.ErrNotFound)
)

// HoldStream is the name of a hold's stream.
func HoldStream(id uuid.UUID) string { return "hold-" + id.String() }

// Hold is the legal hold aggregate: while active it defers erasure of its categories.
type Hold struct {
	id         uuid.UUID
	version    uint64
	changes    []any
	placed     bool
	released   bool
	subject    uuid.UUID
	categories []Category
	basis      Basis
	reviewAt   time.Time
}

// HoldParams are the inputs of PlaceHold.
type HoldParams struct {
	HoldID     uuid.UUID
	Subject    uuid.UUID
	Categories []Category
	Basis      Basis
	Reference  string // required for a dispute: the dispute id
	ReviewAt   time.Time
}

// PlaceHold validates p and places a new hold.
func PlaceHold(p HoldParams, now time.Time) (*Hold, error) {
	switch {
	case p.HoldID == uuid.Nil:
		return nil, domain.NewRuleError("hold_id", "required", "is required")
	case p.Subject == uuid.Nil:
		return nil, domain.NewRuleError("subject_id", "required", "is required")
	case len(p.Categories) == 0:
		return nil, domain.NewRuleError("categories", "required", "at least one category is required")
	case p.Basis == (Basis{}):
		return nil, domain.NewRuleError("basis", "required", "is required")
	case !p.ReviewAt.After(now):
		return nil, domain.NewRuleError("review_at", "in_future", "must be in the future")
	}
	cats := make([]string, 0, len(p.Categories))
	for _, c := range p.Categories {
		if c == (Category{}) {
			return nil, domain.NewRuleError("categories", "known_category", "contains an empty category")
		}
		if slices.Contains(cats, c.String()) {
			return nil, domain.NewRuleError("categories", "unique", "contains a category twice")
		}
		cats = append(cats, c.String())
	}
	if p.Basis == Dispute && p.Reference == "" {
		return nil, domain.NewRuleError("reference", "required", "a dispute hold needs the dispute id")
	}
	if err := domain.CheckText("reference", p.Reference, 0, 255); err != nil {
		return nil, err
	}
	h := &Hold{}
	h.record(HoldPlaced{HoldID: p.HoldID, Subject: p.Subject, Categories: cats, Basis: p.Basis.String(),
		Reference: p.Reference, ReviewAt: p.ReviewAt, PlacedAt: now})
	return h, nil
}

// RehydrateHold rebuilds a hold from its stream.
func RehydrateHold(id uuid.UUID, history []any) *Hold {
	h := &Hold{id: id}
	for _, e := range history {
		h.Apply(e)
		h.version++
	}
	return h
}

// Apply changes state for one event; unknown events are ignored.
func (h *Hold) Apply(e any) {
	switch e := domain.Deref(e).(type) {
	case HoldPlaced:
		h.id, h.subject, h.placed, h.reviewAt = e.HoldID, e.Subject, true, e.ReviewAt
		h.basis, _ = ParseBasis(e.Basis)
		h.categories = h.categories[:0]
		for _, s := range e.Categories {
			if c, err := ParseCategory(s); err == nil {
				h.categories = append(h.categories, c)
			}
		}
	case HoldReleased:
		h.released = true
	}
}

func (h *Hold) record(e any) {
	h.Apply(e)
	h.changes = append(h.changes, e)
}

// ID returns the hold id.
func (h *Hold) ID() uuid.UUID { return h.id }

// Version is the number of events applied from history.
func (h *Hold) Version() uint64 { return h.version }

// Changes returns the events recorded since load, in order.
func (h *Hold) Changes() []any { return h.changes }

// ClearChanges forgets recorded events once they are stored.
func (h *Hold) ClearChanges() { h.changes = nil }

// Subject is the held person's account id.
func (h *Hold) Subject() uuid.UUID { return h.subject }

// Basis is the legal ground of the hold.
func (h *Hold) Basis() Basis { return h.basis }

// ReviewAt is when the hold must be reviewed.
func (h *Hold) ReviewAt() time.Time { return h.reviewAt }

// Categories lists what the hold keeps (a copy).
func (h *Hold) Categories() []Category { return slices.Clone(h.categories) }

// Active reports whether the hold is placed and not released.
func (h *Hold) Active() bool { return h.placed && !h.released }

// Covers reports whether the active hold keeps category c.
func (h *Hold) Covers(c Category) bool { return h.Active() && slices.Contains(h.categories, c) }

// CoversPersonalData reports whether the active hold keeps a category that
// holds sealed personal data (profile: email and name; usage: client IP and
// user agent). Only such a hold defers an erasure: payment and tax records
// carry no personal data, so they are kept whatever happens to the key and a
// hold on them alone never blocks erasing the person.
func (h *Hold) CoversPersonalData() bool { return h.Covers(Profile) || h.Covers(Usage) }

// ReviewDue reports whether the active hold has reached its review date at now.
func (h *Hold) ReviewDue(now time.Time) bool { return h.Active() && !now.Before(h.reviewAt) }

// Release ends the hold; once.
func (h *Hold) Release(now time.Time) error {
	if !h.placed {
		return ErrUnknownHold
	}
	if h.released {
		return ErrHoldReleased
	}
	h.record(HoldReleased{HoldID: h.id, Subject: h.subject, ReleasedAt: now})
	return nil
}
