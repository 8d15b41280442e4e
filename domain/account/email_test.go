package account_test

import (
	"testing"

	"github.com/ledgerline/ledgerline/domain/account"
)

func TestNormaliseEmail(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"AlreadyNormal", "ada@example.com", "ada@example.com"},
		{"TrimAndLower", "  Ada@Example.COM \n", "ada@example.com"},
		{"PlusTag", "ada+news@example.com", "ada@example.com"},
		{"PlusTagEmpty", "ada+@example.com", "ada@example.com"},
		{"DotsKeptOutsideGmail", "a.da@example.com", "a.da@example.com"},
		{"GmailDots", "A.d.a@gmail.com", "ada@gmail.com"},
		{"GmailDotsAndTag", "a.da+promo@Gmail.com", "ada@gmail.com"},
		{"GooglemailMapped", "a.da+x@googlemail.com", "ada@gmail.com"},
		{"TrailingDomainDot", "ada@example.com.", "ada@example.com"},
		{"LeadingPlusKept", "+ada@example.com", "+ada@example.com"},
		{"NoAt", " Not-An-Email ", "not-an-email"},
		{"LastAtSplits", "\"a@b\"@example.com", "\"a@b\"@example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := account.NormaliseEmail(c.in); got != c.want {
				t.Fatalf("NormaliseEmail(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
