package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/consent"
)

// WithdrawConsent records withdrawal of consent to one purpose: one call, like GiveConsent.
// Essential processing cannot be withdrawn.
type WithdrawConsent struct {
	AccountID     uuid.UUID `json:"account_id" validate:"required"`
	Purpose       string    `json:"purpose" validate:"required,purpose"`
	Method        string    `json:"method" validate:"required,consent_method"`
	PolicyVersion string    `json:"policy_version" validate:"required,max=32"`
}

func (s *Service) withdrawConsent(ctx context.Context, c *WithdrawConsent) (Result, error) {
	now := s.clock()
	p, m, err := parsePurposeMethod(c.Purpose, c.Method)
	if err != nil {
		return Result{}, err
	}
	return s.consentCommand(ctx, c.AccountID, func(cs *consent.Consents, actor string) error {
		return cs.Withdraw(p, consent.Receipt{Method: m, PolicyVersion: c.PolicyVersion, Actor: actor}, now)
	})
}
