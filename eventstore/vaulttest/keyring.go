package vaulttest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
)

// KeyringFeatures describes the keyring under test.
type KeyringFeatures struct {
	// New returns a fresh keyring and registers its own cleanup.
	New func(t *testing.T) eventstore.Keyring
	// Reopen, when set, loads the same keyring storage again.
	Reopen func(t *testing.T, kr eventstore.Keyring) eventstore.Keyring
}

// RunKeyring runs the keyring contract against f.
func RunKeyring(t *testing.T, f KeyringFeatures) {
	t.Helper()
	t.Run("Fresh", func(t *testing.T) {
		kr := f.New(t)
		epoch, kek, err := kr.Current()
		if err != nil || epoch != 1 || len(kek) != eventstore.KeySize {
			t.Fatalf("Current() = %d, %d-byte key, %v; want epoch 1 and a 32-byte key", epoch, len(kek), err)
		}
		if len(kr.Pepper()) < 32 {
			t.Fatalf("pepper has %d bytes, want at least 32", len(kr.Pepper()))
		}
		if len(kr.SigningKey()) != ed25519.PrivateKeySize {
			t.Fatal("no Ed25519 signing key")
		}
		epochs, err := kr.Epochs()
		if err != nil || len(epochs) != 1 || epochs[0].Epoch != 1 || epochs[0].CreatedAt.IsZero() || epochs[0].Retired() {
			t.Fatalf("Epochs() = %+v, %v", epochs, err)
		}
		_, err = kr.KEK(7)
		wantErr(t, "KEK of an unknown epoch", err, eventstore.ErrNotFound)
	})
	t.Run("CopiesNotAliases", func(t *testing.T) {
		kr := f.New(t)
		_, kek, _ := kr.Current()
		kek[0] ^= 0xff
		_, again, _ := kr.Current()
		if bytes.Equal(kek, again) {
			t.Fatal("Current returns the keyring's own slice")
		}
	})
	t.Run("RotateAndRetire", func(t *testing.T) {
		kr := f.New(t)
		_, k1, _ := kr.Current()
		e2, err := kr.Rotate()
		if err != nil || e2.Epoch != 2 || e2.CreatedAt.IsZero() {
			t.Fatalf("Rotate() = %+v, %v", e2, err)
		}
		cur, k2, _ := kr.Current()
		if cur != 2 || bytes.Equal(k1, k2) {
			t.Fatal("after Rotate the current epoch should be 2 with a new key")
		}
		if got, err := kr.KEK(1); err != nil || !bytes.Equal(got, k1) {
			t.Fatalf("old epoch unreadable before retirement: %v", err)
		}
		if _, err := kr.Retire(2); err == nil {
			t.Fatal("retiring the current epoch succeeded")
		}
		r, err := kr.Retire(1)
		if err != nil || !r.Retired() {
			t.Fatalf("Retire(1) = %+v, %v", r, err)
		}
		_, err = kr.KEK(1)
		wantErr(t, "KEK of a retired epoch", err, eventstore.ErrEpochRetired)
		again, err := kr.Retire(1)
		if err != nil || !again.RetiredAt.Equal(r.RetiredAt) {
			t.Fatalf("retiring twice: %+v, %v", again, err)
		}
		pepper, signing := kr.Pepper(), kr.SigningKey()
		if f.Reopen == nil {
			return
		}
		kr = f.Reopen(t, kr)
		_, err = kr.KEK(1)
		wantErr(t, "KEK of a retired epoch after reopen", err, eventstore.ErrEpochRetired)
		if cur, k, err := kr.Current(); err != nil || cur != 2 || !bytes.Equal(k, k2) {
			t.Fatalf("current epoch after reopen: %d, %v", cur, err)
		}
		if !bytes.Equal(kr.Pepper(), pepper) || !signing.Equal(kr.SigningKey()) {
			t.Fatal("pepper or signing key changed across reopen")
		}
		epochs, _ := kr.Epochs()
		if len(epochs) != 2 || !epochs[0].RetiredAt.Equal(r.RetiredAt) || !epochs[1].CreatedAt.Equal(e2.CreatedAt) {
			t.Fatalf("epoch records after reopen: %+v", epochs)
		}
	})
	t.Run("RetireUnknown", func(t *testing.T) {
		kr := f.New(t)
		_, err := kr.Retire(9)
		if !errors.Is(err, eventstore.ErrNotFound) {
			t.Fatalf("Retire of an unknown epoch: %v", err)
		}
	})
}
