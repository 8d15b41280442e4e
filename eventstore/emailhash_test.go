package eventstore_test

import (
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
)

func TestEmailHash(t *testing.T) {
	pepper := []byte("0123456789abcdef0123456789abcdef")
	base := eventstore.EmailHash(pepper, "adalovelace@gmail.com")
	if eventstore.EmailHash(pepper, "adalovelace@gmail.com") != base {
		t.Fatal("same input, different hash")
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
	t.Run("PepperMatters", func(t *testing.T) {
		if eventstore.EmailHash([]byte("another pepper, another hash...."), "adalovelace@gmail.com") == base {
			t.Fatal("hash does not depend on the pepper")
		}
	})
	t.Run("Format", func(t *testing.T) {
		if len(base) != 64 {
			t.Fatalf("hash %q is not 64 hex characters", base)
		}
	})
}
