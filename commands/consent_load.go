package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/eventstore"
)

// ConsentResult is the Data of the consent commands. Changed is false when the command
// repeated the current state and nothing was recorded.
type ConsentResult struct {
	AccountID uuid.UUID `json:"account_id"`
	Changed   bool      `json:"changed"`
}

// consentCommand loads an account's consents (registration applied their defaults, so an empty
// stream means an unknown account), runs decide with the ctx actor's receipt and stores the
// result.
func (s *Service) consentCommand(ctx context.Context, id uuid.UUID, decide func(*consent.Consents, string) error) (Result, error) {
	h, _, err := s.load(ctx, consent.Stream(id))
	if err != nil {
		return Result{}, err
	}
	c := consent.Rehydrate(id, h)
	if c.Version() == 0 {
		return Result{}, account.ErrNotRegistered
	}
	a, _ := ActorFrom(ctx)
	if err := decide(c, a.ID); err != nil {
		return Result{}, err
	}
	r, err := s.save(ctx, consent.Stream(id), eventstore.Exact(c.Version()), c.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{Position: r.LastPosition, Data: ConsentResult{AccountID: id, Changed: len(c.Changes()) > 0}}, nil
}

func parsePurposeMethod(purpose, method string) (consent.Purpose, consent.Method, error) {
	p, err := consent.ParsePurpose(purpose)
	if err != nil {
		return p, consent.Method{}, ruleErr("purpose", "purpose", enumRules["purpose"].msg)
	}
	m, err := consent.ParseMethod(method)
	if err != nil {
		return p, m, ruleErr("method", "consent_method", enumRules["consent_method"].msg)
	}
	return p, m, nil
}
