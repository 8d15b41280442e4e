package apikey_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/domaintest"
)

var (
	now     = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	keyID   = uuid.MustParse("0195f0a0-0000-7000-8000-0000000000a1")
	account = uuid.MustParse("0195f0a0-0000-7000-8000-000000000001")
)

func rnd(b byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{b}, 64)) }

func TestEvents(t *testing.T) { domaintest.CheckEvents(t, apikey.Events()) }

func TestHashSecret(t *testing.T) {
	// SHA-256("abc"), a published test vector.
	if got := apikey.HashSecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal(got)
	}
}

func TestIssue(t *testing.T) {
	past, future := now.Add(-time.Second), now.Add(24*time.Hour)
	valid := func() apikey.IssueParams {
		return apikey.IssueParams{KeyID: keyID, AccountID: account, Name: "ci server", Scopes: []string{"inference", "usage:read"}}
	}
	with := func(f func(*apikey.IssueParams)) apikey.IssueParams { p := valid(); f(&p); return p }
	cases := []struct {
		name string
		p    apikey.IssueParams
		rand func() *bytes.Reader
		err  error
	}{
		{"OK", valid(), nil, nil},
		{"OKWithExpiry", with(func(p *apikey.IssueParams) { p.ExpiresAt = &future }), nil, nil},
		{"OKGeneratedKeyID", with(func(p *apikey.IssueParams) { p.KeyID = uuid.Nil }), nil, nil},
		{"ErrAccountRequired", with(func(p *apikey.IssueParams) { p.AccountID = uuid.Nil }), nil,
			&domain.RuleError{Field: "account_id", Rule: "required"}},
		{"ErrNameRequired", with(func(p *apikey.IssueParams) { p.Name = " " }), nil,
			&domain.RuleError{Field: "name", Rule: "required"}},
		{"ErrNameTooLong", with(func(p *apikey.IssueParams) { p.Name = strings.Repeat("n", apikey.MaxNameLen+1) }), nil,
			&domain.RuleError{Field: "name", Rule: "max_length"}},
		{"ErrScopesRequired", with(func(p *apikey.IssueParams) { p.Scopes = nil }), nil,
			&domain.RuleError{Field: "scopes", Rule: "required"}},
		{"ErrUnknownScope", with(func(p *apikey.IssueParams) { p.Scopes = []string{"admin"} }), nil,
			&domain.RuleError{Field: "scopes", Rule: "known_scope"}},
		{"ErrDuplicateScope", with(func(p *apikey.IssueParams) { p.Scopes = []string{"inference", "inference"} }), nil,
			&domain.RuleError{Field: "scopes", Rule: "unique"}},
		{"ErrExpiryInPast", with(func(p *apikey.IssueParams) { p.ExpiresAt = &past }), nil,
			&domain.RuleError{Field: "expires_at", Rule: "in_future"}},
		{"ErrShortRandomness", valid(), func() *bytes.Reader { return bytes.NewReader(make([]byte, 5)) }, apikey.ErrRandomness},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rnd(7)
			if c.rand != nil {
				r = c.rand()
			}
			k, secret, err := apikey.Issue(c.p, r, now)
			if c.err != nil {
				if !errors.Is(err, c.err) || k != nil || secret != "" {
					t.Fatalf("Issue = %v, %q, %v; want error %v", k, secret, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !apikey.WellFormed(secret) || len(secret) != apikey.SecretLen {
				t.Fatalf("secret %q is malformed", secret)
			}
			ev := k.Changes()[0].(apikey.Issued)
			if ev.SecretHash != apikey.HashSecret(secret) || ev.Prefix != secret[:apikey.PrefixLen] ||
				k.SecretHash() != ev.SecretHash || ev.IssuedAt != now || ev.Personal.Name != c.p.Name {
				t.Fatalf("issued = %+v", ev)
			}
			if c.p.KeyID != uuid.Nil && ev.KeyID != c.p.KeyID || ev.KeyID == uuid.Nil || k.ID() != ev.KeyID {
				t.Fatalf("key id = %v", ev.KeyID)
			}
			if c.p.ExpiresAt != nil && (ev.ExpiresAt == c.p.ExpiresAt || !ev.ExpiresAt.Equal(*c.p.ExpiresAt)) {
				t.Fatal("expiry must be copied, not aliased")
			}
			// Privacy checklist 1: the secret appears in no event, public or personal part.
			if strings.Contains(fmtAll(k.Changes()), secret) || strings.Contains(fmtAll(k.Changes()), secret[apikey.PrefixLen:]) {
				t.Fatal("secret leaked into an event")
			}
			if !k.HasScope(apikey.ScopeInference) || k.HasScope(apikey.ScopeBillingRead) {
				t.Fatal("scopes")
			}
		})
	}
}

func fmtAll(events []any) string { return fmt.Sprintf("%+v", events) }

func TestIssueSecretsDiffer(t *testing.T) {
	p := apikey.IssueParams{AccountID: account, Name: "a", Scopes: []string{"inference"}}
	_, s1, _ := apikey.Issue(p, rnd(1), now)
	_, s2, _ := apikey.Issue(p, rnd(2), now)
	if s1 == s2 {
		t.Fatal("different randomness gave the same secret")
	}
	if _, _, err := apikey.Issue(p, iotest.ErrReader(errors.New("boom")), now); !errors.Is(err, apikey.ErrRandomness) {
		t.Fatal(err)
	}
	if _, _, err := apikey.Issue(p, nil, now); !errors.Is(err, apikey.ErrRandomness) {
		t.Fatal(err)
	}
}

func TestCommands(t *testing.T) {
	expiry := now.Add(time.Hour)
	issued := apikey.Issued{KeyID: keyID, AccountID: account, Prefix: "ll_AAAAAAAA", SecretHash: strings.Repeat("1", 64),
		Scopes: []string{"inference"}, IssuedAt: now, Personal: apikey.IssuedPersonal{Name: "ci"}}
	expiring := issued
	expiring.ExpiresAt = &expiry
	revoked := apikey.Revoked{KeyID: keyID, AccountID: account, Reason: "compromised", RevokedAt: now}
	expired := apikey.Expired{KeyID: keyID, AccountID: account, ExpiredAt: expiry}
	// The secret Rotate draws from rnd(9).
	_, want9, _ := apikey.Issue(apikey.IssueParams{KeyID: keyID, AccountID: account, Name: "x", Scopes: []string{"inference"}}, rnd(9), now)
	load := func(h []any) *apikey.Key { return apikey.Rehydrate(keyID, h) }
	type C = domaintest.Case[*apikey.Key]
	rotate := func(at time.Time) func(*apikey.Key) error {
		return func(k *apikey.Key) error { _, err := k.Rotate(rnd(9), at); return err }
	}
	domaintest.Run(t, load, []C{
		{Name: "RotateOK", Given: []any{issued}, When: rotate(now),
			Then: []any{apikey.Rotated{KeyID: keyID, AccountID: account, Prefix: apikey.PrefixOf(want9),
				SecretHash: apikey.HashSecret(want9), RetiredSecretHash: issued.SecretHash, RotatedAt: now}}},
		{Name: "ErrRotateRevoked", Given: []any{issued, revoked}, When: rotate(now), Err: apikey.ErrRevoked},
		{Name: "ErrRotateExpiredByTime", Given: []any{expiring}, When: rotate(expiry), Err: apikey.ErrExpired},
		{Name: "ErrRotateExpiredByEvent", Given: []any{expiring, expired}, When: rotate(now), Err: apikey.ErrExpired},
		{Name: "ErrRotateUnknown", When: rotate(now), Err: domain.ErrNotFound},
		{Name: "RevokeOK", Given: []any{issued},
			When: func(k *apikey.Key) error { return k.Revoke(apikey.RevokeCompromised, now) }, Then: []any{revoked}},
		{Name: "RevokeExpiredOK", Given: []any{expiring, expired},
			When: func(k *apikey.Key) error { return k.Revoke(apikey.RevokeCompromised, now) }, Then: []any{revoked}},
		{Name: "ErrRevokeTwice", Given: []any{issued, revoked},
			When: func(k *apikey.Key) error { return k.Revoke(apikey.RevokeAdmin, now) }, Err: apikey.ErrRevoked},
		{Name: "ErrRevokeNoReason", Given: []any{issued},
			When: func(k *apikey.Key) error { return k.Revoke(apikey.RevokeReason{}, now) },
			Err:  &domain.RuleError{Field: "reason", Rule: "required"}},
		{Name: "ExpireOK", Given: []any{expiring},
			When: func(k *apikey.Key) error { return k.Expire(expiry) }, Then: []any{expired}},
		{Name: "ErrExpireEarly", Given: []any{expiring},
			When: func(k *apikey.Key) error { return k.Expire(now) }, Err: apikey.ErrNotExpiring},
		{Name: "ErrExpireNoExpiry", Given: []any{issued},
			When: func(k *apikey.Key) error { return k.Expire(now.AddDate(10, 0, 0)) }, Err: apikey.ErrNotExpiring},
		{Name: "ErrExpireTwice", Given: []any{expiring, expired},
			When: func(k *apikey.Key) error { return k.Expire(expiry) }, Err: apikey.ErrExpired},
		{Name: "ErrExpireRevoked", Given: []any{expiring, revoked},
			When: func(k *apikey.Key) error { return k.Expire(expiry) }, Err: apikey.ErrRevoked},
	})
}

func TestUsable(t *testing.T) {
	expiry := now.Add(time.Hour)
	issued := apikey.Issued{KeyID: keyID, AccountID: account, Scopes: []string{"inference"}, ExpiresAt: &expiry}
	cases := []struct {
		name    string
		history []any
		at      time.Time
		err     error
	}{
		{"OK", []any{issued}, now, nil},
		{"OKJustBeforeExpiry", []any{issued}, expiry.Add(-time.Nanosecond), nil},
		{"ErrExpiredAtExpiry", []any{issued}, expiry, apikey.ErrExpired},
		{"ErrRevoked", []any{issued, apikey.Revoked{KeyID: keyID}}, now, apikey.ErrRevoked},
		{"ErrExpiredEvent", []any{issued, apikey.Expired{KeyID: keyID}}, now, apikey.ErrExpired},
		{"ErrNotIssued", nil, now, domain.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := apikey.Rehydrate(keyID, c.history).Usable(c.at); !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("Usable = %v, want %v", err, c.err)
			}
		})
	}
}

func TestRotationRetiresOldHash(t *testing.T) {
	k, s1, err := apikey.Issue(apikey.IssueParams{AccountID: account, Name: "a", Scopes: []string{"inference"}}, rnd(3), now)
	if err != nil {
		t.Fatal(err)
	}
	k = apikey.Rehydrate(k.ID(), k.Changes())
	s2, err := k.Rotate(rnd(4), now)
	if err != nil || s2 == s1 || k.SecretHash() != apikey.HashSecret(s2) || k.Prefix() != apikey.PrefixOf(s2) || k.Version() != 1 {
		t.Fatalf("rotate: %v", err)
	}
}

func TestParse(t *testing.T) {
	for _, s := range apikey.Scopes() {
		if got, err := apikey.ParseScope(s.String()); err != nil || got != s {
			t.Fatal(s, err)
		}
	}
	if _, err := apikey.ParseScope("root"); !errors.Is(err, apikey.ErrUnknownValue) {
		t.Fatal(err)
	}
	if r, err := apikey.ParseRevokeReason("account_closed"); err != nil || r != apikey.RevokeAccountClosed {
		t.Fatal(err)
	}
	if apikey.WellFormed("ll_short") || apikey.WellFormed("xx_"+strings.Repeat("A", 43)) || !apikey.WellFormed("ll_"+strings.Repeat("A", 43)) {
		t.Fatal("WellFormed")
	}
}
