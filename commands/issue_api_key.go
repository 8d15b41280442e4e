package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/apikey"
)

// IssueAPIKey creates a key for an active account. The result carries the secret once; the
// store keeps only its SHA-256 and a display prefix.
type IssueAPIKey struct {
	AccountID uuid.UUID  `json:"account_id" validate:"required"`
	Name      string     `json:"name" validate:"required,max=64"`
	Scopes    []string   `json:"scopes" validate:"required,min=1,max=8,unique,dive,scope"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func (s *Service) issueAPIKey(ctx context.Context, c *IssueAPIKey) (Result, error) {
	now := s.clock()
	if err := s.requireActiveAccount(ctx, c.AccountID); err != nil {
		return Result{}, err
	}
	keyID, err := s.newID()
	if err != nil {
		return Result{}, err
	}
	k, secret, err := apikey.Issue(apikey.IssueParams{KeyID: keyID, AccountID: c.AccountID, Name: c.Name,
		Scopes: c.Scopes, ExpiresAt: c.ExpiresAt}, lockedRand{s}, now)
	if err != nil {
		return Result{}, err
	}
	r, err := s.saveKey(ctx, k)
	if err != nil {
		return Result{}, err
	}
	s.keyAccounts.Store(keyID, c.AccountID)
	return Result{Position: r.LastPosition, Data: IssueAPIKeyResult{KeyID: keyID, AccountID: c.AccountID,
		Prefix: k.Prefix(), Secret: secret, ExpiresAt: k.ExpiresAt()}}, nil
}
