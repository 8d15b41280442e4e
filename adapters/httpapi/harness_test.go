package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// harness is a real API over the in-memory store, vault and read models.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	api    *Server
	store  *eventstore.MemStore
	codec  *eventstore.Codec
	tokens map[string]string // role (or label) → secret
	ids    map[string]uuid.UUID
	logs   *bytes.Buffer

	keyring *eventstore.MemKeyring
	scanner *storeScanner
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store := eventstore.NewMemStore()
	kr := eventstore.NewMemKeyring()
	sealer := eventstore.NewSealer(eventstore.NewMemVault(kr), 0)
	reg, err := commands.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := eventstore.NewCodec(reg, sealer)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil))
	svc, err := commands.New(commands.Deps{Store: store, Codec: codec, Shredder: sealer, Pepper: kr.Pepper(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := projections.NewHub(store, codec, projections.HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hub.Run(ctx) }()
	tokens, err := NewTokenIndex(store, codec, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = tokens.Run(ctx, 50*time.Millisecond) }()
	scanner := &storeScanner{store: store}
	if err := svc.SetErasureProof(&commands.ErasureProof{Keyring: kr, ReadModels: hub, WaitFor: hub.WaitFor,
		Scanners: []eventstore.StoreScanner{scanner}, NextKEKRotation: func(now time.Time) time.Time { return now.Add(24 * time.Hour) },
		SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	api, err := New(Config{Store: store, Codec: codec, Commands: svc, Tokens: tokens, Logger: log, AccessLog: true,
		Reads: Reads{Models: hub, WaitFor: hub.WaitFor}, CertificateKey: kr.SigningKey().Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, api: api, store: store, codec: codec, tokens: map[string]string{}, ids: map[string]uuid.UUID{}, logs: logs,
		keyring: kr, scanner: scanner}
	h.srv = httptest.NewServer(api)
	t.Cleanup(h.srv.Close)
	w := TokenWriter{Store: store, Codec: codec, Rand: rand.Reader}
	for _, r := range []operator.Role{operator.Admin, operator.Compliance, operator.Auditor, operator.Gateway} {
		res, _, err := w.Issue(ctx, operator.IssueParams{Role: r, IssuedBy: "test"}, eventstore.Metadata{}, false)
		if err != nil {
			t.Fatal(err)
		}
		h.tokens[r.String()] = res.Secret
	}
	if err := tokens.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

type lockedWriter struct {
	mu chan struct{}
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	if l.mu == nil {
		l.mu = make(chan struct{}, 1)
	}
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.w.Write(p)
}

// customerToken issues a customer token bound to account.
func (h *harness) customerToken(account uuid.UUID) string {
	h.t.Helper()
	var out IssuedTokenView
	h.mustDo("admin", "POST", "/v1/tokens", map[string]any{"role": "customer", "account_id": account}, 201, &out)
	return out.Secret
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(token, method, path string, body any) resp {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if secret, ok := h.tokens[token]; ok {
		req.Header.Set("Authorization", "Bearer "+secret)
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (h *harness) mustDo(token, method, path string, body any, want int, out any) resp {
	h.t.Helper()
	r := h.do(token, method, path, body)
	if r.status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			h.t.Fatalf("%s %s: decode: %v: %s", method, path, err, r.body)
		}
	}
	return r
}

// register creates an account and returns its id.
func (h *harness) register(email, name string) uuid.UUID {
	h.t.Helper()
	var out struct {
		AccountID uuid.UUID `json:"account_id"`
		Position  uint64    `json:"position"`
	}
	h.mustDo("admin", "POST", "/v1/accounts", map[string]any{"email": email, "name": name, "age_confirmed": true,
		"region": "DE", "jurisdiction": "EU", "policy_version": "2025-10-01"}, 201, &out)
	if out.Position == 0 {
		h.t.Fatal("register returned no position")
	}
	return out.AccountID
}
