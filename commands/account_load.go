package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/eventstore"
)

// loadAccount rebuilds an account (an unknown id yields an empty one whose methods return
// account.ErrNotRegistered).
func (s *Service) loadAccount(ctx context.Context, id uuid.UUID) (*account.Account, error) {
	h, _, err := s.load(ctx, account.Stream(id))
	if err != nil {
		return nil, err
	}
	return account.Rehydrate(id, h), nil
}

// accountCommand loads an account, runs decide and stores what it recorded.
func (s *Service) accountCommand(ctx context.Context, id uuid.UUID, decide func(*account.Account) error) (Result, error) {
	a, err := s.loadAccount(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if err := decide(a); err != nil {
		return Result{}, err
	}
	r, err := s.save(ctx, account.Stream(id), eventstore.Exact(a.Version()), a.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{Position: r.LastPosition, Data: AccountResult{AccountID: id}}, nil
}

// AccountResult is the Data of the account lifecycle commands.
type AccountResult struct {
	AccountID uuid.UUID `json:"account_id"`
}
