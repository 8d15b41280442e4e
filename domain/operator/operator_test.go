package operator_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/domaintest"
	"github.com/ledgerline/ledgerline/domain/operator"
)

var (
	now     = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tokenID = uuid.MustParse("0195f0a0-0000-7000-8000-0000000000a1")
	acct    = uuid.MustParse("0195f0a0-0000-7000-8000-000000000001")
)

func rnd() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{7}, 64)) }

func TestEvents(t *testing.T) { domaintest.CheckEvents(t, operator.Events()) }

func TestIssue(t *testing.T) {
	past := now.Add(-time.Hour)
	cases := []struct {
		name string
		p    operator.IssueParams
		err  error
	}{
		{"OK", operator.IssueParams{TokenID: tokenID, Role: operator.Admin, IssuedBy: "bootstrap"}, nil},
		{"OKCustomer", operator.IssueParams{TokenID: tokenID, Role: operator.Customer, AccountID: acct, IssuedBy: "cli"}, nil},
		{"ErrRoleRequired", operator.IssueParams{TokenID: tokenID, IssuedBy: "cli"}, &domain.RuleError{Field: "role", Rule: "required"}},
		{"ErrCustomerNeedsAccount", operator.IssueParams{TokenID: tokenID, Role: operator.Customer, IssuedBy: "cli"}, &domain.RuleError{Field: "account_id", Rule: "required"}},
		{"ErrStaffWithAccount", operator.IssueParams{TokenID: tokenID, Role: operator.Auditor, AccountID: acct, IssuedBy: "cli"}, &domain.RuleError{Field: "account_id", Rule: "customer_only"}},
		{"ErrExpiryPast", operator.IssueParams{TokenID: tokenID, Role: operator.Gateway, IssuedBy: "cli", ExpiresAt: &past}, &domain.RuleError{Field: "expires_at"}},
		{"ErrIssuerRequired", operator.IssueParams{TokenID: tokenID, Role: operator.Gateway}, &domain.RuleError{Field: "issued_by"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := operator.RehydrateTokens(nil)
			secret, tok, err := ts.Issue(c.p, rnd(), now)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				if len(ts.Changes()) != 0 {
					t.Fatal("failed issue recorded events")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !operator.WellFormed(secret) || !strings.HasPrefix(secret, "llt_") {
				t.Fatalf("secret %q not well formed", secret)
			}
			ev := ts.Changes()[0].(operator.TokenIssued)
			if ev.SecretHash != operator.HashSecret(secret) || ev.Prefix != secret[:operator.PrefixLen] {
				t.Fatalf("event does not carry hash and prefix: %+v", ev)
			}
			if b, _ := json.Marshal(ev); strings.Contains(string(b), secret) {
				t.Fatal("secret in event")
			}
			if !tok.Active(now) || tok.Role != c.p.Role {
				t.Fatalf("token %+v", tok)
			}
		})
	}
}

func TestRevokeAndAdmin(t *testing.T) {
	ts := operator.RehydrateTokens(nil)
	if _, _, err := ts.Issue(operator.IssueParams{TokenID: tokenID, Role: operator.Admin, IssuedBy: "bootstrap"}, rnd(), now); err != nil {
		t.Fatal(err)
	}
	hist := ts.Changes()
	ts = operator.RehydrateTokens(hist)
	if !ts.HasActiveAdmin(now) || ts.Version() != 1 {
		t.Fatal("admin not active after rehydrate")
	}
	if err := ts.Revoke(uuid.New(), "cli", now); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if err := ts.Revoke(tokenID, "cli", now); err != nil {
		t.Fatal(err)
	}
	if ts.HasActiveAdmin(now) {
		t.Fatal("revoked admin still active")
	}
	if err := ts.Revoke(tokenID, "cli", now); !errors.Is(err, domain.ErrStateConflict) {
		t.Fatalf("second revoke: %v", err)
	}
	exp := now.Add(time.Minute)
	ts2 := operator.RehydrateTokens(nil)
	_, tok, _ := ts2.Issue(operator.IssueParams{Role: operator.Admin, IssuedBy: "cli", ExpiresAt: &exp}, rnd(), now)
	if !tok.Active(now) || tok.Active(exp) || ts2.HasActiveAdmin(exp.Add(time.Second)) {
		t.Fatal("expiry not honoured")
	}
}

func TestRecordRead(t *testing.T) {
	ok := operator.ReadParams{ReaderTokenID: tokenID, ReaderRole: operator.Compliance, Subject: acct,
		What: operator.ReadExport, Reason: "ticket 42: access request"}
	ev, err := operator.RecordRead(ok, now)
	if err != nil || ev.Reason != "ticket 42: access request" || ev.What != "export" || ev.ReaderRole != "compliance" {
		t.Fatalf("%+v %v", ev, err)
	}
	noReason := ok
	noReason.Reason = "  "
	if _, err := operator.RecordRead(noReason, now); !errors.Is(err, &domain.RuleError{Field: "reason", Rule: "required"}) {
		t.Fatalf("no reason: %v", err)
	}
	cust := ok
	cust.ReaderRole = operator.Customer
	if _, err := operator.RecordRead(cust, now); !errors.Is(err, domain.ErrRule) {
		t.Fatalf("customer read recorded: %v", err)
	}
}

func TestRoles(t *testing.T) {
	for _, r := range operator.Roles() {
		back, err := operator.ParseRole(r.String())
		if err != nil || back != r {
			t.Fatalf("role %v round trip", r)
		}
	}
	if _, err := operator.ParseRole("root"); err == nil {
		t.Fatal("invented role accepted")
	}
}
