package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/apikey"
)

// RevokeAPIKey disables a key for good. AccountID, when set, must own the key.
type RevokeAPIKey struct {
	KeyID     uuid.UUID `json:"key_id" validate:"required"`
	AccountID uuid.UUID `json:"account_id,omitzero"`
	Reason    string    `json:"reason" validate:"required,revoke_reason"`
}

func (s *Service) revokeAPIKey(ctx context.Context, c *RevokeAPIKey) (Result, error) {
	now := s.clock()
	reason, err := apikey.ParseRevokeReason(c.Reason)
	if err != nil {
		return Result{}, ruleErr("reason", "revoke_reason", enumRules["revoke_reason"].msg)
	}
	k, err := s.loadKey(ctx, c.KeyID, c.AccountID)
	if err != nil {
		return Result{}, err
	}
	if err := k.Revoke(reason, now); err != nil {
		return Result{}, err
	}
	r, err := s.saveKey(ctx, k)
	if err != nil {
		return Result{}, err
	}
	return Result{Position: r.LastPosition, Data: APIKeyResult{KeyID: k.ID(), AccountID: k.AccountID(), Prefix: k.Prefix()}}, nil
}
