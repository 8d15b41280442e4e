package eventstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/eventstore/vaulttest"
)

func TestMemVault(t *testing.T) {
	vaulttest.Run(t, vaulttest.Features{
		New: func(t *testing.T) (eventstore.Vault, eventstore.Keyring) {
			kr := eventstore.NewMemKeyring()
			v := eventstore.NewMemVault(kr)
			t.Cleanup(func() { v.Close() })
			return v, kr
		},
	})
}

func TestMemKeyring(t *testing.T) {
	vaulttest.RunKeyring(t, vaulttest.KeyringFeatures{
		New: func(t *testing.T) eventstore.Keyring { return eventstore.NewMemKeyring() },
	})
}

func TestWrapDEK(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, eventstore.KeySize)
	dek, err := eventstore.NewDEK()
	if err != nil {
		t.Fatal(err)
	}
	w, err := eventstore.WrapDEK(kek, "s1", 3, dek)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		kek     []byte
		subject string
		epoch   int
		wrapped []byte
	}{
		{"ErrOtherSubject", kek, "s2", 3, w},
		{"ErrOtherEpoch", kek, "s1", 4, w},
		{"ErrOtherKEK", bytes.Repeat([]byte{8}, eventstore.KeySize), "s1", 3, w},
		{"ErrTruncated", kek, "s1", 3, w[:10]},
		{"ErrEmpty", kek, "s1", 3, nil},
		{"ErrVersion", kek, "s1", 3, append([]byte{9}, w[1:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := eventstore.UnwrapDEK(tc.kek, tc.subject, tc.epoch, tc.wrapped); !errors.Is(err, eventstore.ErrSealBroken) {
				t.Fatalf("got %v, want ErrSealBroken", err)
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		got, err := eventstore.UnwrapDEK(kek, "s1", 3, w)
		if err != nil || got != dek {
			t.Fatalf("round trip: %v", err)
		}
	})
	t.Run("ErrShortKEK", func(t *testing.T) {
		if _, err := eventstore.WrapDEK(kek[:16], "s1", 3, dek); err == nil {
			t.Fatal("a 16-byte KEK was accepted")
		}
	})
}

func TestRotateKEKFailureRetiresNothing(t *testing.T) {
	kr := eventstore.NewMemKeyring()
	v := eventstore.NewMemVault(kr)
	ctx := context.Background()
	if _, err := v.DataKey(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	v.Close()
	if _, err := eventstore.RotateKEK(ctx, kr, v); err == nil {
		t.Fatal("rotation over a closed vault succeeded")
	}
	if _, err := kr.KEK(1); err != nil {
		t.Fatalf("a failed re-wrap must not retire the old epoch: %v", err)
	}
}
