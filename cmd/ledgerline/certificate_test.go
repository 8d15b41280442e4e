package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
)

func mustPublicKey(t *testing.T, text string) ed25519.PublicKey {
	t.Helper()
	pub, err := certificate.ParsePublicKey(text)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func testCertificate() certificate.Certificate {
	day := func(d int) time.Time { return time.Date(2026, 5, d, 12, 0, 0, 0, time.UTC) }
	return certificate.Certificate{
		ID:               uuid.New(),
		IssuedAt:         day(10),
		Request:          certificate.Request{ID: uuid.New(), Channel: "email", ReceivedAt: day(1), DueAt: day(31), CompletedAt: day(10)},
		SubjectPseudonym: "9c2f0e",
		LegalBasis:       "GDPR Art. 17(1)(a)",
		Erased:           []certificate.Erasure{{Category: "email, name", Store: "event log", Method: certificate.CryptoShredding}},
		Key:              certificate.KeyDestruction{KeyID: "dek-1", DestroyedAt: day(10), KEKEpoch: 1, KEKRetiredAt: day(17), KEKRetirementScheduled: true},
		Retained:         []certificate.Retention{{Category: "email hash", Reason: certificate.FraudPrevention, Basis: "fraud prevention"}},
		Checks: []certificate.Check{
			{Name: certificate.CheckEventsUndecryptable, Result: certificate.Passed},
			{Name: certificate.CheckReadModelsClean, Result: certificate.Passed},
			{Name: certificate.CheckPlaintextScan, Result: certificate.Passed},
		},
		ChainHead:       certificate.ChainHead{Position: 12, Hash: strings.Repeat("0f", 32)},
		Operator:        "staff-1",
		SoftwareVersion: "test",
	}
}

func TestCertificateCLI(t *testing.T) {
	dir := t.TempDir()
	kr, err := keyring.Open(keyring.DefaultPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := certificate.Sign(testCertificate(), kr.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "certificate.json")
	if err := os.WriteFile(file, signed.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	pub, err := runCLI(t, "certificate", "public-key", "--data-dir", dir)
	if err != nil || !strings.HasPrefix(pub, certificate.PublicKeyPrefix) || strings.Count(pub, "\n") != 1 {
		t.Fatalf("public-key: %v %q", err, pub)
	}
	pub = strings.TrimSpace(pub)
	t.Setenv(keyring.EnvPath, keyring.DefaultPath(dir))
	if again, err := runCLI(t, "certificate", "public-key"); err != nil || strings.TrimSpace(again) != pub {
		t.Fatalf("public-key from %s: %v %q", keyring.EnvPath, err, again)
	}
	keyFile := filepath.Join(t.TempDir(), "issuer.pub")
	if err := os.WriteFile(keyFile, []byte(pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for name, args := range map[string][]string{
		"FlagAfterFile":  {"certificate", "verify", file, "--public-key", pub},
		"FlagBeforeFile": {"certificate", "verify", "--public-key", pub, file},
		"KeyFile":        {"certificate", "verify", file, "--public-key-file", keyFile},
	} {
		out, err := runCLI(t, args...)
		if err != nil || !strings.HasPrefix(out, "OK: certificate "+signed.Certificate.ID.String()) || strings.Count(out, "\n") != 1 {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}

	// Any flipped byte fails, with a reason.
	data := signed.Bytes()
	altered := filepath.Join(t.TempDir(), "altered.json")
	for _, i := range []int{0, 20, len(data) / 2, len(data) - 10, len(data) - 1} {
		b := append([]byte(nil), data...)
		b[i] ^= 0x01
		if err := os.WriteFile(altered, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runCLI(t, "certificate", "verify", altered, "--public-key", pub)
		if err == nil || !strings.Contains(err.Error(), "does NOT verify") || strings.Contains(out, "OK") {
			t.Fatalf("byte %d flipped: err = %v, out = %q", i, err, out)
		}
	}

	other := certificate.FormatPublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	if _, err := runCLI(t, "certificate", "verify", file, "--public-key", other); !errors.Is(err, certificate.ErrWrongKey) {
		t.Fatalf("wrong key: err = %v", err)
	}
	for name, args := range map[string][]string{
		"NoKey":      {"certificate", "verify", file},
		"BadKey":     {"certificate", "verify", file, "--public-key", "nonsense"},
		"NoFile":     {"certificate", "verify", "--public-key", pub},
		"TwoFiles":   {"certificate", "verify", file, file, "--public-key", pub},
		"Missing":    {"certificate", "verify", file + ".missing", "--public-key", pub},
		"BothKeys":   {"certificate", "verify", file, "--public-key", pub, "--public-key-file", keyFile},
		"UnknownCmd": {"certificate", "sign"},
	} {
		if _, err := runCLI(t, args...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	// Render: to standard output, verified; to a file; refused when altered.
	out, err := runCLI(t, "certificate", "render", file, "--public-key", pub)
	if err != nil || !strings.Contains(out, "<!DOCTYPE html>") || !strings.Contains(out, signed.Certificate.ID.String()) {
		t.Fatalf("render: %v\n%.200s", err, out)
	}
	page := filepath.Join(t.TempDir(), "certificate.html")
	if _, err := runCLI(t, "certificate", "render", "--out", page, file); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), "Certificate of erasure") {
		t.Fatalf("rendered file: %v", err)
	}
	if _, err := runCLI(t, "certificate", "render", altered, "--public-key", pub); err == nil {
		t.Fatal("render of an altered certificate with a key accepted")
	}
}

func TestCertificatePublicKeyNeverCreatesKeyring(t *testing.T) {
	t.Setenv(keyring.EnvPath, "")
	dir := t.TempDir()
	_, err := runCLI(t, "certificate", "public-key", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "no keyring") {
		t.Fatalf("err = %v", err)
	}
	if _, statErr := os.Stat(keyring.DefaultPath(dir)); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatal("public-key created a keyring")
	}
}

func TestCertificateHelp(t *testing.T) {
	for _, args := range [][]string{
		{"certificate", "--help"}, {"certificate", "verify", "--help"},
		{"certificate", "public-key", "--help"}, {"certificate", "render", "-h"},
	} {
		if _, err := runCLI(t, args...); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
