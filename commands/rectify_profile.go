package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
)

// RectifyProfile corrects profile fields (today: the name), on the person's initiative or on a
// rectification request (RequestID). A nil Name means "not corrected"; "" clears it.
type RectifyProfile struct {
	AccountID uuid.UUID `json:"account_id" validate:"required"`
	Name      *string   `json:"name" validate:"omitnil,max=200"`
	RequestID uuid.UUID `json:"request_id,omitzero"` // the privacy request, if any
}

func (s *Service) rectifyProfile(ctx context.Context, c *RectifyProfile) (Result, error) {
	now := s.clock()
	return s.accountCommand(ctx, c.AccountID, func(a *account.Account) error {
		return a.Rectify(account.RectifyParams{Name: c.Name, RequestID: c.RequestID}, now)
	})
}
