package commands

import (
	"context"

	"github.com/google/uuid"
)

// RotateAPIKey gives a usable key a new secret (returned once); the old one stops verifying.
// AccountID, when set, must own the key.
type RotateAPIKey struct {
	KeyID     uuid.UUID `json:"key_id" validate:"required"`
	AccountID uuid.UUID `json:"account_id,omitzero"`
}

func (s *Service) rotateAPIKey(ctx context.Context, c *RotateAPIKey) (Result, error) {
	now := s.clock()
	k, err := s.loadKey(ctx, c.KeyID, c.AccountID)
	if err != nil {
		return Result{}, err
	}
	secret, err := k.Rotate(lockedRand{s}, now)
	if err != nil {
		return Result{}, err
	}
	r, err := s.saveKey(ctx, k)
	if err != nil {
		return Result{}, err
	}
	return Result{Position: r.LastPosition, Data: APIKeyResult{KeyID: k.ID(), AccountID: k.AccountID(),
		Prefix: k.Prefix(), Secret: secret, ExpiresAt: k.ExpiresAt()}}, nil
}
