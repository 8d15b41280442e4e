package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
)

// ReinstateAccount ends a suspension.
type ReinstateAccount struct {
	AccountID uuid.UUID `json:"account_id" validate:"required"`
}

func (s *Service) reinstateAccount(ctx context.Context, c *ReinstateAccount) (Result, error) {
	now := s.clock()
	return s.accountCommand(ctx, c.AccountID, func(a *account.Account) error { return a.Reinstate(now) })
}
