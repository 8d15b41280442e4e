package tests

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestReliabilityExpiredTokens issues a token of every role with a short
// expiry (POST /v1/tokens with expires_at), lets it expire, and calls every
// authenticated route of the OpenAPI document with each: all must answer
// 401, with the token still listed (expired, not revoked).
func TestReliabilityExpiredTokens(t *testing.T) {
	s := relStart(t, relBinary(t), t.TempDir())
	gw := relToken(t, s, "gateway", "")
	acct, keyID, _ := relAccount(t, s, gw, "expiry@example.org", "Expiry Person")

	roles := []string{"admin", "compliance", "auditor", "gateway", "customer"}
	expires := time.Now().Add(2 * time.Second).UTC()
	expired := map[string]string{}
	for _, role := range roles {
		body := map[string]any{"role": role, "expires_at": expires.Format(time.RFC3339Nano)}
		if role == "customer" {
			body["account_id"] = acct
		}
		var out struct {
			Secret string `json:"secret"`
		}
		relMust(t, s, s.admin, "POST", "/v1/tokens", body, 201, &out)
		expired[role] = out.Secret
		// valid before the expiry
		relMust(t, s, out.Secret, "GET", "/v1/me", nil, 200, nil)
	}
	time.Sleep(time.Until(expires) + 300*time.Millisecond)

	routes := relRoutes(t, s)
	checked := 0
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt, " ")
		p := path
		for _, kv := range [][2]string{{"{account_id}", acct}, {"{key_id}", keyID}, {"{token_id}", uuid.NewString()},
			{"{request_id}", uuid.NewString()}, {"{hold_id}", uuid.NewString()}, {"{dispute_id}", "dp_1"},
			{"{purpose}", "analytics"}, {"{stream}", "account-" + acct}} {
			p = strings.ReplaceAll(p, kv[0], kv[1])
		}
		var body any
		if method == "POST" || method == "PUT" {
			body = map[string]any{}
		}
		for _, role := range roles {
			r, err := relDo(context.Background(), s.url, expired[role], method, p, body)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if r.status != 401 {
				t.Errorf("%s with an expired %s token: %d, want 401: %s", rt, role, r.status, relTail(string(r.body), 300))
			}
		}
	}
	var list struct {
		Tokens []struct {
			Role      string     `json:"role"`
			Active    bool       `json:"active"`
			ExpiresAt *time.Time `json:"expires_at"`
			RevokedAt *time.Time `json:"revoked_at"`
		} `json:"tokens"`
	}
	relMust(t, s, s.admin, "GET", "/v1/tokens", nil, 200, &list)
	n := 0
	for _, tk := range list.Tokens {
		if tk.ExpiresAt != nil {
			n++
			if tk.Active || tk.RevokedAt != nil {
				t.Errorf("expired %s token listed as active=%v revoked=%v", tk.Role, tk.Active, tk.RevokedAt != nil)
			}
		}
	}
	if n != len(roles) {
		t.Errorf("%d expiring tokens listed, want %d", n, len(roles))
	}
	relFigure(t, "authz/expired", "routes", len(routes), "roles", len(roles), "requests", checked)
	s.stop(t)
}

// relRoutes lists "METHOD /path" of the authenticated operations of the
// served OpenAPI document (public ones declare no security requirement).
func relRoutes(t testing.TB, s *relServer) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	relMust(t, s, "", "GET", "/openapi.json", nil, 200, &doc)
	var out []string
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			var op struct {
				Security []map[string]any `json:"security"`
			}
			switch m {
			case "get", "post", "put", "patch", "delete":
				// public operations declare no security requirement
				if json.Unmarshal(raw, &op) == nil && len(op.Security) > 0 {
					out = append(out, strings.ToUpper(m)+" "+p)
				}
			}
		}
	}
	sort.Strings(out)
	if len(out) < 40 {
		t.Fatalf("only %d routes in the OpenAPI document", len(out))
	}
	return out
}

// TestReliabilityAuthRateLimit: one source IP presenting wrong bearer
// secrets gets 401 for the first 20 and then 429 with Retry-After; a valid
// token from the same IP keeps working, and repeating an already-refused
// secret is not charged (it guesses nothing).
func TestReliabilityAuthRateLimit(t *testing.T) {
	s := relStart(t, relBinary(t), t.TempDir())
	junk := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return "llt_" + base64.RawURLEncoding.EncodeToString(b)
	}
	get := func(token string) relReply {
		t.Helper()
		r, err := relDo(context.Background(), s.url, token, "GET", "/v1/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var last string
	for i := range 20 {
		secret := junk()
		last = secret
		if r := get(secret); r.status != 401 {
			t.Fatalf("wrong secret %d: %d, want 401", i+1, r.status)
		}
		if i%5 == 0 {
			relMust(t, s, s.admin, "GET", "/v1/me", nil, 200, nil)
		}
	}
	r := get(junk())
	if r.status != 429 {
		t.Fatalf("21st wrong secret: %d, want 429: %s", r.status, r.body)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("429 content type %q", ct)
	}
	for range 5 {
		if r := get(junk()); r.status != 429 {
			t.Errorf("while limited: %d, want 429", r.status)
		}
	}
	// successful requests are unaffected, on every route kind
	relMust(t, s, s.admin, "GET", "/v1/me", nil, 200, nil)
	relMust(t, s, s.admin, "GET", "/v1/audit/head", nil, 200, nil)
	relMust(t, s, "", "GET", "/healthz", nil, 200, nil)
	// a repeated, already-charged secret is not charged again
	if r := get(last); r.status != 401 {
		t.Errorf("repeat of a refused secret: %d, want 401", r.status)
	}
	// no bearer at all is a plain 401 (nothing guessed)
	if r := get(""); r.status != 401 {
		t.Errorf("no token: %d, want 401", r.status)
	}
	relFigure(t, "authz/ratelimit", "limit_per_min", 20, "first_429_at", 21, "retry_after_s", ra)
	s.stop(t)
}
