package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/consent"
)

// GiveConsent records consent to one purpose, with a receipt: method, policy version, the
// actor (from the context) and the time. Repeating it under the same policy version records
// nothing.
type GiveConsent struct {
	AccountID     uuid.UUID `json:"account_id" validate:"required"`
	Purpose       string    `json:"purpose" validate:"required,purpose"`
	Method        string    `json:"method" validate:"required,consent_method"`
	PolicyVersion string    `json:"policy_version" validate:"required,max=32"`
}

func (s *Service) giveConsent(ctx context.Context, c *GiveConsent) (Result, error) {
	now := s.clock()
	p, m, err := parsePurposeMethod(c.Purpose, c.Method)
	if err != nil {
		return Result{}, err
	}
	return s.consentCommand(ctx, c.AccountID, func(cs *consent.Consents, actor string) error {
		return cs.Give(p, consent.Receipt{Method: m, PolicyVersion: c.PolicyVersion, Actor: actor}, now)
	})
}
