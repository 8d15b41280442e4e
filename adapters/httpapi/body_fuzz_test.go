package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// The fuzz targets below send arbitrary bytes as the JSON body of each
// request shape through the real handler stack (routing, auth, body limit,
// strict decoding, validation, commands, in-memory store) and require that
// the answer is never a 5xx, always JSON, and a 4xx is problem+json.
// `go test` runs their seed corpora (testdata/fuzz); `make reliability`
// fuzzes each for a few seconds.

// fuzzAPI is one API over in-memory stores, shared by every fuzz input of a
// process (state grows as inputs are accepted, which is fine).
type fuzzAPI struct {
	h       http.Handler
	admin   string
	account uuid.UUID
	keyID   uuid.UUID
}

var (
	fuzzOnce sync.Once
	fuzzInst *fuzzAPI
	fuzzErr  error
)

func fuzzServer(tb testing.TB) *fuzzAPI {
	tb.Helper()
	fuzzOnce.Do(func() { fuzzInst, fuzzErr = newFuzzAPI() })
	if fuzzErr != nil {
		tb.Fatal(fuzzErr)
	}
	return fuzzInst
}

func newFuzzAPI() (*fuzzAPI, error) {
	ctx := context.Background()
	store := eventstore.NewMemStore()
	kr := eventstore.NewMemKeyring()
	sealer := eventstore.NewSealer(eventstore.NewMemVault(kr), 0)
	reg, err := commands.NewRegistry()
	if err != nil {
		return nil, err
	}
	codec, err := eventstore.NewCodec(reg, sealer)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := commands.New(commands.Deps{Store: store, Codec: codec, Shredder: sealer, Pepper: kr.Pepper(), Logger: log})
	if err != nil {
		return nil, err
	}
	hub, err := projections.NewHub(store, codec, projections.HubConfig{})
	if err != nil {
		return nil, err
	}
	go func() { _ = hub.Run(ctx) }()
	tokens, err := NewTokenIndex(store, codec, nil)
	if err != nil {
		return nil, err
	}
	api, err := New(Config{Store: store, Codec: codec, Commands: svc, Tokens: tokens, Logger: log,
		Reads: Reads{Models: hub, WaitFor: hub.WaitFor}, ReadWait: 50 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	res, _, err := TokenWriter{Store: store, Codec: codec, Rand: rand.Reader}.Issue(ctx,
		operator.IssueParams{Role: operator.Admin, IssuedBy: "fuzz"}, eventstore.Metadata{}, false)
	if err != nil {
		return nil, err
	}
	if err := tokens.Refresh(ctx); err != nil {
		return nil, err
	}
	f := &fuzzAPI{h: api, admin: res.Secret}
	var reg1 struct {
		AccountID uuid.UUID `json:"account_id"`
	}
	if err := f.mustJSON("POST", "/v1/accounts", `{"email":"fuzz@example.org","name":"Fuzz","age_confirmed":true,"region":"DE","jurisdiction":"EU","policy_version":"1"}`, &reg1); err != nil {
		return nil, err
	}
	f.account = reg1.AccountID
	var key struct {
		KeyID uuid.UUID `json:"key_id"`
	}
	if err := f.mustJSON("POST", "/v1/accounts/"+f.account.String()+"/keys", `{"name":"k","scopes":["inference"]}`, &key); err != nil {
		return nil, err
	}
	f.keyID = key.KeyID
	return f, nil
}

func (f *fuzzAPI) serve(method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.admin)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func (f *fuzzAPI) mustJSON(method, path, body string, out any) error {
	rec := f.serve(method, path, body)
	if rec.Code >= 300 {
		return &Problem{Title: "fuzz setup", Detail: method + " " + path + ": " + rec.Body.String()}
	}
	return json.Unmarshal(rec.Body.Bytes(), out)
}

// path fills a route pattern's parameters with ids that exist where it matters.
func (f *fuzzAPI) path(pattern string) string {
	_, p, _ := strings.Cut(pattern, " ")
	for _, kv := range [][2]string{{"{account_id}", f.account.String()}, {"{key_id}", f.keyID.String()},
		{"{token_id}", uuid.NewString()}, {"{request_id}", uuid.NewString()}, {"{hold_id}", uuid.NewString()},
		{"{dispute_id}", "dp_fuzz"}, {"{purpose}", "analytics"}, {"{stream}", "account-" + f.account.String()}} {
		p = strings.ReplaceAll(p, kv[0], kv[1])
	}
	return p
}

// fuzzBody checks one answer of pattern to body.
func fuzzBody(t *testing.T, pattern string, body []byte) {
	f := fuzzServer(t)
	body = bytes.ReplaceAll(body, []byte(`"KEY"`), []byte(`"`+f.keyID.String()+`"`))
	method, _, _ := strings.Cut(pattern, " ")
	rec := f.serve(method, f.path(pattern), string(body))
	ct := rec.Header().Get("Content-Type")
	switch {
	case rec.Code >= 500:
		t.Fatalf("%s: status %d for body %q: %s", pattern, rec.Code, body, rec.Body.String())
	case rec.Code >= 400 && ct != "application/problem+json":
		t.Fatalf("%s: %d with content type %q", pattern, rec.Code, ct)
	case !json.Valid(rec.Body.Bytes()):
		t.Fatalf("%s: %d answer is not JSON: %q", pattern, rec.Code, rec.Body.String())
	}
	if rec.Code >= 400 && len(body) >= 8 && bytes.Contains(rec.Body.Bytes(), body) {
		t.Fatalf("%s: the problem echoes the body", pattern)
	}
}

// fuzzSeeds are shared by every body target (valid bodies are added per target).
var fuzzSeeds = []string{``, `{}`, `null`, `[]`, `"x"`, `{"a":1}`, `{"records":[{}]}`, `{"email":{"$ne":null}}`,
	`{"amount_micros":1e400}`, `{"amount_micros":-1}`, `{"x":1,"x":2}`, "{\"name\":\"\xff\"}", `{"name":"\u0000"}`,
	strings.Repeat("[", 5000), `{} {}`, `{"expires_at":"not a time"}`, `{"key_id":"00000000-0000-0000-0000-000000000000"}`}

func fuzzTarget(f *testing.F, pattern string, valid ...string) {
	for _, s := range append(append([]string{}, fuzzSeeds...), valid...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { fuzzBody(t, pattern, body) })
}

func FuzzRegisterAccountBody(f *testing.F) {
	fuzzTarget(f, "POST /v1/accounts",
		`{"email":"a@example.org","name":"A","age_confirmed":true,"region":"DE","jurisdiction":"EU","policy_version":"1"}`,
		`{"email":"b@example.org","name":"B","age_confirmed":false,"region":"US","jurisdiction":"CCPA","policy_version":"1"}`)
}

func FuzzIssueKeyBody(f *testing.F) {
	fuzzTarget(f, "POST /v1/accounts/{account_id}/keys", `{"name":"k","scopes":["inference"]}`,
		`{"name":"k","scopes":["inference"],"expires_at":"2030-01-01T00:00:00Z"}`)
}

func FuzzRecordUsageBody(f *testing.F) {
	fuzzTarget(f, "POST /v1/usage",
		`{"key_id":"KEY","request_id":"r1","provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"cost_micros":1,"status":"ok","latency_ms":1}`,
		`{"key_id":"KEY","request_id":"r2","provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"cost_micros":1,"status":"ok","latency_ms":1,"client_ip":"203.0.113.1","occurred_at":"2020-01-01T00:00:00Z"}`)
}

func FuzzUsageBatchBody(f *testing.F) {
	fuzzTarget(f, "POST /v1/usage/batch",
		`{"records":[{"key_id":"KEY","request_id":"b1","provider":"openai","model":"m","input_tokens":1,"output_tokens":1,"cost_micros":1,"status":"ok","latency_ms":1},{"request_id":"b2"}]}`)
}

func FuzzRecordPaymentBody(f *testing.F) {
	fuzzTarget(f, "POST /v1/accounts/{account_id}/payments",
		`{"processor":"stripe","processor_ref":"pi_1","amount_micros":1000,"currency":"USD"}`)
}

func FuzzIssueTokenBody(f *testing.F) {
	fuzzTarget(f, "POST /v1/tokens", `{"role":"auditor"}`, `{"role":"customer","account_id":"00000000-0000-7000-8000-000000000001"}`,
		`{"role":"gateway","expires_at":"2000-01-01T00:00:00Z"}`)
}

func FuzzVerifyKeyBody(f *testing.F) {
	fuzzTarget(f, "POST /v1/keys/verify", `{"secret":"llk_x"}`)
}

func FuzzPrivacyRequestBody(f *testing.F) {
	fuzzTarget(f, "POST /v1/privacy/requests", `{"subject_id":"00000000-0000-7000-8000-000000000001","kind":"erasure","channel":"email","details":"x"}`)
}

// FuzzAnyBody covers every route that takes a JSON body: the first byte
// picks the route, the rest is the body.
func FuzzAnyBody(f *testing.F) {
	api := &Server{}
	var patterns []string
	for _, rt := range api.routeTable() {
		if rt.req != nil {
			patterns = append(patterns, rt.method+" "+rt.path)
		}
	}
	for i := range patterns {
		f.Add(append([]byte{byte(i)}, `{}`...))
		f.Add(append([]byte{byte(i)}, `{"reason":"x","method":"api","policy_version":"1","kind":"access","channel":"api"}`...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		fuzzBody(t, patterns[int(in[0])%len(patterns)], in[1:])
	})
}
