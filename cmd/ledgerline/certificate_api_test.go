package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/httpapi"
	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// TestCertificateVerifyFromAPI: a certificate fetched from the API verifies
// with `ledgerline certificate verify` and the key the API publishes, and
// fails once one byte is flipped.
func TestCertificateVerifyFromAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := eventstore.NewMemStore()
	kr := eventstore.NewMemKeyring()
	vault := eventstore.NewMemVault(kr)
	sealer := eventstore.NewSealer(vault, 0)
	reg, err := cmdsvc.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := eventstore.NewCodec(reg, sealer)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cmdsvc.New(cmdsvc.Deps{Store: store, Codec: codec, Shredder: sealer, Pepper: kr.Pepper()})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := projections.NewHub(store, codec, projections.HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hub.Run(ctx) }()
	kek, err := cmdsvc.NewKEKRotation(kr, vault, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetErasureProof(&cmdsvc.ErasureProof{Keyring: kr, Vault: vault, ReadModels: hub, WaitFor: hub.WaitFor,
		Scanners: []eventstore.StoreScanner{embedded.DirScanner{Dir: t.TempDir()}}, NextKEKRotation: kek.RetiredBy, SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	tokens, err := httpapi.NewTokenIndex(store, codec, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := httpapi.TokenWriter{Store: store, Codec: codec, Rand: rand.Reader}
	admin, _, err := w.Issue(ctx, operator.IssueParams{Role: operator.Admin, IssuedBy: "test"}, eventstore.Metadata{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Store: store, Codec: codec, Commands: svc, Tokens: tokens,
		Reads: httpapi.Reads{Models: hub, WaitFor: hub.WaitFor}, CertificateKey: kr.SigningKey().Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	var after uint64 // read-your-writes: the position of the last write, sent with reads
	call := func(method, path string, body any, want int) []byte {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+admin.Secret)
		if after > 0 {
			req.Header.Set("X-Ledgerline-After", strconv.FormatUint(after, 10))
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		return b
	}
	var acct struct {
		AccountID string `json:"account_id"`
	}
	json.Unmarshal(call("POST", "/v1/accounts", map[string]any{"email": "cli.canary@example.org", "name": "CLI Canary", "age_confirmed": true,
		"region": "DE", "jurisdiction": "EU", "policy_version": "2026-01"}, 201), &acct)
	var req struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal(call("POST", "/v1/privacy/requests", map[string]any{"subject_id": acct.AccountID, "kind": "erasure", "channel": "email"}, 201), &req)
	var erased struct {
		CertificateID string `json:"certificate_id"`
		Position      uint64 `json:"position"`
	}
	json.Unmarshal(call("POST", "/v1/privacy/requests/"+req.RequestID+"/erase", nil, 200), &erased)
	if erased.CertificateID == "" {
		t.Fatal("no certificate id")
	}
	after = erased.Position // the read models apply the erasure asynchronously
	file := call("GET", "/v1/certificates/"+erased.CertificateID, nil, 200)
	pub := strings.TrimSpace(string(call("GET", "/v1/certificates/public-key", nil, 200)))

	path := filepath.Join(t.TempDir(), "certificate.json")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "certificate", "verify", path, "--public-key", pub)
	if err != nil || !strings.HasPrefix(out, "OK: certificate "+erased.CertificateID) {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	for _, i := range []int{0, len(file) / 3, len(file) / 2, len(file) - 5} {
		b := append([]byte(nil), file...)
		b[i] ^= 0x01
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCLI(t, "certificate", "verify", path, "--public-key", pub); err == nil || strings.Contains(out, "OK") {
			t.Fatalf("byte %d flipped: verified (%q)", i, out)
		}
	}
}
