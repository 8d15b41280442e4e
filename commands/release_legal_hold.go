package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// ReleaseLegalHold ends a hold. When it was the subject's last active hold, the
// EraseOnHoldReleased policy runs the erasures it deferred.
type ReleaseLegalHold struct {
	HoldID uuid.UUID `json:"hold_id" validate:"required"`
}

func (s *Service) releaseLegalHold(ctx context.Context, c *ReleaseLegalHold) (Result, error) {
	now := s.clock()
	h, err := s.loadHold(ctx, c.HoldID)
	if err != nil {
		return Result{}, err
	}
	if err := h.Release(now); err != nil {
		return Result{}, err
	}
	r, err := s.save(ctx, privacy.HoldStream(c.HoldID), eventstore.Exact(h.Version()), h.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{Position: r.LastPosition, Data: HoldResult{HoldID: c.HoldID, SubjectID: h.Subject()}}, nil
}
