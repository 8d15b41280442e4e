package eventstore_test

import (
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
)

func TestEmailHash(t *testing.T) {
	pepper := []byte("0123456789abcdef0123456789abcdef")
	base := eventstore.EmailHash(pepper, "ada.lovelace@gmail.com")
	same := []struct{ name, email string }{
		{"OK", "ada.lovelace@gmail.com"},
		{"Case", "Ada.Lovelace@GMail.com"},
		{"Spaces", "  ada.lovelace@gmail.com\t"},
		{"PlusTag", "ada.lovelace+promo@gmail.com"},
		{"GmailDots", "a.d.a.l.o.v.e.l.a.c.e@gmail.com"},
		{"NoDots", "adalovelace@gmail.com"},
		{"Googlemail", "Ada.Lovelace+x@googlemail.com"},
	}
	for _, tc := range same {
		t.Run(tc.name, func(t *testing.T) {
			if got := eventstore.EmailHash(pepper, tc.email); got != base {
				t.Fatalf("EmailHash(%q) differs from the canonical spelling", tc.email)
			}
		})
	}
	work := eventstore.EmailHash(pepper, "ada.lovelace@example.com")
	differ := []struct{ name, email string }{
		{"DotsCountOutsideGmail", "adalovelace@example.com"},
		{"OtherDomain", "ada.lovelace@gmail.co"},
		{"OtherLocal", "ada.lovelac@example.com"},
	}
	for _, tc := range differ {
		t.Run(tc.name, func(t *testing.T) {
			if eventstore.EmailHash(pepper, tc.email) == work {
				t.Fatalf("EmailHash(%q) collides with ada.lovelace@example.com", tc.email)
			}
		})
	}
	t.Run("PlusTagOutsideGmail", func(t *testing.T) {
		if eventstore.EmailHash(pepper, "Ada.Lovelace+billing@Example.com") != work {
			t.Fatal("+tag not dropped for a non-Gmail address")
		}
	})
	t.Run("PepperMatters", func(t *testing.T) {
		if eventstore.EmailHash([]byte("another pepper, another hash...."), "ada.lovelace@gmail.com") == base {
			t.Fatal("hash does not depend on the pepper")
		}
	})
	t.Run("Format", func(t *testing.T) {
		if len(base) != 64 {
			t.Fatalf("hash %q is not 64 hex characters", base)
		}
	})
}
