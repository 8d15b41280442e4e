package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// RectifyProfile corrects profile fields (today: the name), on the person's initiative or on a
// rectification request (RequestID). A nil Name means "not corrected"; "" clears it. With a
// RequestID the request must be an open rectification request about this account; the
// correction completes it (privacy.request_completed, in the same command).
type RectifyProfile struct {
	AccountID uuid.UUID `json:"account_id" validate:"required"`
	Name      *string   `json:"name" validate:"omitnil,max=200"`
	RequestID uuid.UUID `json:"request_id,omitzero"` // the privacy request, if any
}

func (s *Service) rectifyProfile(ctx context.Context, c *RectifyProfile) (Result, error) {
	now := s.clock()
	var req *privacy.Request
	if c.RequestID != uuid.Nil {
		r, err := s.loadRequest(ctx, c.RequestID)
		if err != nil {
			return Result{}, err
		}
		switch {
		case r.Kind() != privacy.Rectification:
			return Result{}, ruleErr("request_id", "kind_rectification", "is not a rectification request")
		case r.Subject() != c.AccountID:
			return Result{}, ruleErr("request_id", "same_subject", "is a request about another account")
		case r.Closed():
			return Result{}, privacy.ErrRequestClosed
		}
		req = r
	}
	res, err := s.accountCommand(ctx, c.AccountID, func(a *account.Account) error {
		return a.Rectify(account.RectifyParams{Name: c.Name, RequestID: c.RequestID}, now)
	})
	if err != nil || req == nil {
		return res, err
	}
	if err := req.Complete(now); err != nil {
		return Result{}, err
	}
	a, err := s.save(ctx, privacy.RequestStream(req.ID()), eventstore.Exact(req.Version()), req.Changes())
	if err != nil {
		return Result{}, err
	}
	res.Position = max(res.Position, a.LastPosition)
	return res, nil
}
