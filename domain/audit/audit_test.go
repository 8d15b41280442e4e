package audit_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/domain/audit"
)

func TestCheckpointSignVerify(t *testing.T) {
	seed := sha256.Sum256([]byte("checkpoint test key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	hash := sha256.Sum256([]byte("head"))
	at := time.Date(2026, 3, 1, 12, 0, 0, 123000, time.FixedZone("X", 3600))
	e, err := audit.SignCheckpoint(42, hash, at, priv)
	if err != nil {
		t.Fatal(err)
	}
	if e.SignedAt.Location() != time.UTC || !e.SignedAt.Equal(at) {
		t.Fatalf("signed_at = %v", e.SignedAt)
	}
	got, err := e.Verify(pub)
	if err != nil || got != hash {
		t.Fatalf("Verify = %x, %v", got, err)
	}
	if _, err := audit.SignCheckpoint(0, hash, at, priv); err == nil {
		t.Fatal("signed an empty log")
	}
	cases := []struct {
		name   string
		mutate func(*audit.ChainCheckpointSigned)
		key    ed25519.PublicKey
	}{
		{"ErrWrongKey", func(*audit.ChainCheckpointSigned) {}, other},
		{"ErrPosition", func(e *audit.ChainCheckpointSigned) { e.Position++ }, pub},
		{"ErrHash", func(e *audit.ChainCheckpointSigned) { e.Hash = "00" + e.Hash[2:] }, pub},
		{"ErrUpperHash", func(e *audit.ChainCheckpointSigned) { e.Hash = "AB" + e.Hash[2:] }, pub},
		{"ErrTime", func(e *audit.ChainCheckpointSigned) { e.SignedAt = e.SignedAt.Add(time.Microsecond) }, pub},
		{"ErrSignature", func(e *audit.ChainCheckpointSigned) { e.Signature = "A" + e.Signature[1:] }, pub},
		{"ErrAlgorithm", func(e *audit.ChainCheckpointSigned) { e.Algorithm = "RSA" }, pub},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := e
			c.mutate(&m)
			if _, err := m.Verify(c.key); !errors.Is(err, audit.ErrCheckpoint) {
				t.Fatalf("Verify = %v, want ErrCheckpoint", err)
			}
		})
	}
}
