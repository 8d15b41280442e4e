package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/eventstore"
)

// RegisterAccount opens an account. Registration needs a confirmed age of at least 13. The
// first account of a normalised email (case, +tags and Gmail dots ignored) gets new-user
// credits; a returning address, even one whose owner was erased, does not.
type RegisterAccount struct {
	Email         string `json:"email" validate:"required,max=254,email"`
	Name          string `json:"name,omitempty" validate:"max=200"`
	AgeConfirmed  bool   `json:"age_confirmed"`                                      // the person confirms being at least 13
	BirthYear     int    `json:"birth_year,omitempty" validate:"omitempty,gte=1900"` // optional
	Region        string `json:"region" validate:"required,len=2,alpha"`             // ISO 3166-1 alpha-2
	Jurisdiction  string `json:"jurisdiction" validate:"required,jurisdiction"`      // EU, UK, US-CA, other
	PolicyVersion string `json:"policy_version" validate:"required,max=32"`          // the policy shown at signup
}

// RegisterAccountResult is the Data of RegisterAccount.
type RegisterAccountResult struct {
	AccountID      uuid.UUID `json:"account_id"`
	CreditsGranted bool      `json:"credits_granted"`
	CreditsMicros  int64     `json:"credits_micros"`
}

func (s *Service) registerAccount(ctx context.Context, c *RegisterAccount) (Result, error) {
	now := s.clock()
	j, err := domain.ParseJurisdiction(c.Jurisdiction)
	if err != nil {
		return Result{}, ruleErr("jurisdiction", "jurisdiction", "must be one of EU, UK, US-CA, other")
	}
	id, err := s.newID()
	if err != nil {
		return Result{}, err
	}
	hash := eventstore.EmailHash(s.pepper, account.NormaliseEmail(c.Email))
	acct, err := account.Register(account.RegisterParams{
		AccountID: id, Email: c.Email, Name: c.Name, EmailHash: hash, AgeConfirmed: c.AgeConfirmed,
		BirthYear: c.BirthYear, Region: c.Region, Jurisdiction: j,
	}, now)
	if err != nil {
		return Result{}, err
	}
	cons := consent.Rehydrate(id, nil)
	if err := cons.ApplyDefaults(j, c.PolicyVersion, now); err != nil {
		return Result{}, err
	}
	claim, err := account.ClaimEmailHash(hash, id, now)
	if err != nil {
		return Result{}, err
	}

	// The account is stored first: a failure after it leaves an account without credits, never
	// a claimed hash without an account.
	var pos positions
	r, err := s.save(ctx, account.Stream(id), eventstore.NoStream, acct.Changes())
	if err != nil {
		return Result{}, err
	}
	pos.add(r)
	if r, err = s.save(ctx, consent.Stream(id), eventstore.NoStream, cons.Changes()); err != nil {
		return Result{}, err
	}
	pos.add(r)

	out := RegisterAccountResult{AccountID: id}
	r, err = s.save(ctx, account.EmailHashStream(hash), eventstore.NoStream, claim.Changes())
	switch {
	case errors.Is(err, eventstore.ErrConcurrency):
		// Claimed before (by a live, closed or erased account): no new-user credits.
		return Result{Position: uint64(pos), Data: out}, nil
	case err != nil:
		return Result{}, err
	}
	pos.add(r)
	ledger := billing.Rehydrate(id, nil)
	if err := ledger.GrantCredits(billing.GrantParams{AmountMicros: s.newUserCredits, Reason: billing.NewUser, EmailHash: hash}, now); err != nil {
		return Result{}, err
	}
	if r, err = s.save(ctx, billing.Stream(id), eventstore.NoStream, ledger.Changes()); err != nil {
		return Result{}, err
	}
	pos.add(r)
	out.CreditsGranted, out.CreditsMicros = true, s.newUserCredits
	return Result{Position: uint64(pos), Data: out}, nil
}
