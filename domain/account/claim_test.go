package account_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/domaintest"
)

func TestEmailHashClaim(t *testing.T) {
	other := uuid.MustParse("0195f0a0-0000-7000-8000-000000000002")
	claimed := account.EmailHashClaimed{EmailHash: hashA, AccountID: id, ClaimedAt: now}
	type C = domaintest.Case[*account.EmailHashClaim]
	load := func(h []any) *account.EmailHashClaim { return account.RehydrateEmailHashClaim(hashA, h) }
	domaintest.Run(t, load, []C{
		{Name: "FirstClaimOK", When: func(c *account.EmailHashClaim) error { return c.Claim(id, now) },
			Then: []any{claimed}},
		{Name: "ErrSecondClaim", Given: []any{claimed},
			When: func(c *account.EmailHashClaim) error { return c.Claim(other, now) },
			Err:  account.ErrEmailHashClaimed},
		{Name: "ErrAccountRequired", When: func(c *account.EmailHashClaim) error { return c.Claim(uuid.Nil, now) },
			Err: &domain.RuleError{Field: "account_id"}},
	})
	if _, err := account.ClaimEmailHash("not-hex", id, now); err == nil {
		t.Fatal("bad hash accepted")
	}
	c, err := account.ClaimEmailHash(hashA, id, now)
	if err != nil || !c.Claimed() || c.AccountID() != id || c.Hash() != hashA || c.Version() != 0 {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	if got := account.EmailHashStream(hashA); got != "emailhash-"+hashA {
		t.Fatal(got)
	}
	if got := account.Stream(id); got != "account-"+id.String() {
		t.Fatal(got)
	}
}
