package commands

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// PlaceLegalHold keeps some of a subject's data (payments, tax records...) for a legal basis
// until released; while it is active, erasure of the subject is deferred. HoldID is optional;
// giving one (policies derive it from the dispute) makes a repeat a no-op.
type PlaceLegalHold struct {
	HoldID     uuid.UUID `json:"hold_id,omitzero"`
	SubjectID  uuid.UUID `json:"subject_id" validate:"required"`
	Categories []string  `json:"categories" validate:"required,min=1,max=4,unique,dive,hold_category"`
	Basis      string    `json:"basis" validate:"required,hold_basis"`
	Reference  string    `json:"reference,omitempty" validate:"max=255"` // required for a dispute: its id
	ReviewAt   time.Time `json:"review_at" validate:"required"`
}

// HoldResult is the Data of the legal hold commands.
type HoldResult struct {
	HoldID    uuid.UUID `json:"hold_id"`
	SubjectID uuid.UUID `json:"subject_id"`
	Active    bool      `json:"active"`
	Duplicate bool      `json:"duplicate,omitempty"` // the hold existed already
}

func (s *Service) placeLegalHold(ctx context.Context, c *PlaceLegalHold) (Result, error) {
	now := s.clock()
	basis, err := privacy.ParseBasis(c.Basis)
	if err != nil {
		return Result{}, ruleErr("basis", "hold_basis", enumRules["hold_basis"].msg)
	}
	cats := make([]privacy.Category, 0, len(c.Categories))
	for _, name := range c.Categories {
		cat, err := privacy.ParseCategory(name)
		if err != nil {
			return Result{}, ruleErr("categories", "hold_category", enumRules["hold_category"].msg)
		}
		cats = append(cats, cat)
	}
	id := c.HoldID
	if id == uuid.Nil {
		if id, err = s.newID(); err != nil {
			return Result{}, err
		}
	} else {
		existing, err := s.loadHold(ctx, id)
		if err != nil {
			return Result{}, err
		}
		if existing.Version() > 0 {
			if existing.Subject() != c.SubjectID {
				return Result{}, ruleErr("hold_id", "unique", "is already used by another hold")
			}
			return Result{Data: HoldResult{HoldID: id, SubjectID: c.SubjectID, Active: existing.Active(), Duplicate: true}}, nil
		}
	}
	h, err := privacy.PlaceHold(privacy.HoldParams{HoldID: id, Subject: c.SubjectID, Categories: cats, Basis: basis,
		Reference: c.Reference, ReviewAt: c.ReviewAt.UTC().Truncate(time.Microsecond)}, now)
	if err != nil {
		return Result{}, err
	}
	// Index first: a hold that exists is always found by erasure; an indexed hold whose
	// placement failed reads as inactive.
	var pos positions
	r, err := s.indexEntry(ctx, c.SubjectID, derivedID("hold-indexed", id.String()),
		privacy.HoldIndexed{HoldID: id, Subject: c.SubjectID, IndexedAt: now})
	if err != nil {
		return Result{}, err
	}
	pos.add(r)
	r, err = s.save(ctx, privacy.HoldStream(id), eventstore.NoStream, h.Changes())
	switch {
	case errors.Is(err, eventstore.ErrConcurrency) && c.HoldID != uuid.Nil:
		// Placed concurrently by a repeat of this command.
		return Result{Data: HoldResult{HoldID: id, SubjectID: c.SubjectID, Active: true, Duplicate: true}}, nil
	case err != nil:
		return Result{}, err
	}
	pos.add(r)
	return Result{Position: uint64(pos), Data: HoldResult{HoldID: id, SubjectID: c.SubjectID, Active: true}}, nil
}
