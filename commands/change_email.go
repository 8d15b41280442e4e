package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/eventstore"
)

// ChangeEmail replaces an account's email address. The new address's hash is claimed too (when
// unclaimed), so registering it later grants no new-user credits.
type ChangeEmail struct {
	AccountID uuid.UUID `json:"account_id" validate:"required"`
	Email     string    `json:"email" validate:"required,max=254,email"`
}

func (s *Service) changeEmail(ctx context.Context, c *ChangeEmail) (Result, error) {
	now := s.clock()
	hash := eventstore.EmailHash(s.pepper, account.NormaliseEmail(c.Email))
	res, err := s.accountCommand(ctx, c.AccountID, func(a *account.Account) error {
		return a.ChangeEmail(c.Email, hash, now)
	})
	if err != nil {
		return res, err
	}
	claim, err := account.ClaimEmailHash(hash, c.AccountID, now)
	if err != nil {
		return res, err
	}
	r, err := s.save(ctx, account.EmailHashStream(hash), eventstore.NoStream, claim.Changes())
	switch {
	case errors.Is(err, eventstore.ErrConcurrency):
		// Already claimed: nothing to do.
	case err != nil:
		return res, err
	default:
		res.Position = max(res.Position, r.LastPosition)
	}
	return res, nil
}
