package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/consent"
)

// AcceptPolicy records that an account accepted a published policy version.
type AcceptPolicy struct {
	AccountID     uuid.UUID `json:"account_id" validate:"required"`
	PolicyVersion string    `json:"policy_version" validate:"required,max=32"`
	Method        string    `json:"method" validate:"required,consent_method"`
}

func (s *Service) acceptPolicy(ctx context.Context, c *AcceptPolicy) (Result, error) {
	now := s.clock()
	m, err := consent.ParseMethod(c.Method)
	if err != nil {
		return Result{}, ruleErr("method", "consent_method", enumRules["consent_method"].msg)
	}
	h, _, err := s.load(ctx, consent.PolicyStream)
	if err != nil {
		return Result{}, err
	}
	published := false
	for _, e := range h {
		if p, ok := e.(consent.PolicyVersionPublished); ok && p.Version == c.PolicyVersion {
			published = true
		}
	}
	if !published {
		return Result{}, ruleErr("policy_version", "published", "is not a published policy version")
	}
	return s.consentCommand(ctx, c.AccountID, func(cs *consent.Consents, actor string) error {
		return cs.AcceptPolicy(c.PolicyVersion, consent.Receipt{Method: m, Actor: actor}, now)
	})
}
