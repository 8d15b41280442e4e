package tests

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
)

// TestReliabilityLeaks runs a customer's life with canary personal values
// and secrets, provokes errors that carry them (invalid values, unknown
// fields, wrong roles, wrong secrets), and then searches the captured logs,
// /metrics and every error body for each: none may appear. The admin token
// is printed once on stdout by design and is searched for in the JSON log
// (stderr) only.
func TestReliabilityLeaks(t *testing.T) {
	bin := relBinary(t)
	t.Run("embedded", func(t *testing.T) { leaks(t, relStart(t, bin, t.TempDir())) })
	t.Run("postgres", func(t *testing.T) {
		url, _ := pgtest.Schema(t)
		leaks(t, relStart(t, bin, t.TempDir(), "--database-url", url))
	})
}

func leaks(t *testing.T, s *relServer) {
	sfx := fmt.Sprint(time.Now().UnixNano())
	email := "leak.canary+" + sfx + "@example.org"
	name := "Leaky Canary " + sfx
	ip := "203.0.113.77"
	agent := "CanaryAgent/" + sfx
	details := "please delete canary-details-" + sfx
	var errorBodies []string
	var secrets []string // searched everywhere
	try := func(token, method, path string, body any) relReply {
		t.Helper()
		r, err := relDo(context.Background(), s.url, token, method, path, body)
		if err != nil {
			t.Fatal(err)
		}
		if r.status >= 400 {
			errorBodies = append(errorBodies, string(r.body)) // the body only: the path we sent is ours
		}
		return r
	}
	rawTry := func(token, method, path, ctype, body string) {
		r, err := relRaw(context.Background(), s.url, token, method, path, ctype, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		errorBodies = append(errorBodies, string(r.body)) // the body only: the path we sent is ours
	}

	gw := relToken(t, s, "gateway", "")
	comp := relToken(t, s, "compliance", "")
	aud := relToken(t, s, "auditor", "")
	secrets = append(secrets, gw, comp, aud)
	acct, keyID, keySecret := relAccount(t, s, gw, email, name)
	cust := relToken(t, s, "customer", acct)
	secrets = append(secrets, keySecret, cust)

	// a life: usage with client ip and agent, payment, consent, request, export, rotation
	relMust(t, s, gw, "POST", "/v1/usage", map[string]any{"key_id": keyID, "request_id": "leak-1", "provider": "openai", "model": "gpt-4o",
		"input_tokens": 1, "output_tokens": 1, "cost_micros": 1, "status": "ok", "latency_ms": 1, "client_ip": ip, "user_agent": agent}, 200, nil)
	relMust(t, s, gw, "POST", "/v1/accounts/"+acct+"/payments", map[string]any{"processor": "stripe", "processor_ref": "pi_leak_" + sfx,
		"amount_micros": 1000, "currency": "USD"}, 201, nil)
	relMust(t, s, cust, "POST", "/v1/accounts/"+acct+"/consents/marketing_email/grant", map[string]any{"method": "api", "policy_version": "2025-10-01"}, 200, nil)
	var rot struct {
		Secret string `json:"secret"`
	}
	relMust(t, s, cust, "POST", "/v1/keys/"+keyID+"/rotate", map[string]any{}, 200, &rot)
	if rot.Secret != "" {
		secrets = append(secrets, rot.Secret)
	}
	relMust(t, s, cust, "POST", "/v1/privacy/requests", map[string]any{"kind": "access", "channel": "api", "details": details}, 201, nil)
	relMust(t, s, comp, "POST", "/v1/accounts/"+acct+"/export?reason=access+request", nil, 200, nil)

	// errors that carry the canaries
	try(gw, "POST", "/v1/accounts", map[string]any{"email": email, "name": name, "age_confirmed": true, "region": "DE", "jurisdiction": "EU", "policy_version": "2025-10-01"})
	try(gw, "POST", "/v1/accounts", map[string]any{"email": name, "name": email, "age_confirmed": false, "region": "DE", "jurisdiction": "EU", "policy_version": "x"})
	try(gw, "POST", "/v1/accounts", map[string]any{"email": email, "name": name, email: name})
	rawTry(gw, "POST", "/v1/accounts", "application/json", `{"email":"`+email+`","name":`+name+`}`)
	rawTry(gw, "POST", "/v1/accounts", "text/plain", email)
	try(cust, "PUT", "/v1/accounts/"+acct+"/email", map[string]any{"email": name})
	try(gw, "POST", "/v1/usage", map[string]any{"key_id": keyID, "request_id": "leak-2", "provider": "openai", "model": "gpt-4o",
		"input_tokens": 1, "output_tokens": 1, "cost_micros": 1, "status": "ok", "latency_ms": 1, "client_ip": email, "user_agent": strings.Repeat(agent, 100)})
	try(gw, "POST", "/v1/keys/verify", map[string]any{"secret": keySecret + "x"})
	try(keySecret, "GET", "/v1/me", nil)                            // an API key is not an operator token
	try(cust+"x", "GET", "/v1/me", nil)                             // a wrong operator secret
	try(aud, "POST", "/v1/tokens", map[string]any{"role": "admin"}) // wrong role
	try(aud, "GET", "/v1/accounts/"+acct+"?reason="+email, nil)
	try(comp, "GET", "/v1/accounts/"+acct, nil) // staff without a reason
	try(cust, "GET", "/v1/accounts/"+email, nil)
	try(gw, "GET", "/v1/audit/streams/"+email, nil)

	metrics := relMust(t, s, "", "GET", "/metrics", nil, 200, nil)
	s.stop(t)

	stdout, stderr := s.out.String(), s.err.String()
	if !strings.Contains(stderr, `"route"`) {
		t.Fatal("no access log captured on stderr: the search would be vacuous")
	}
	// Problem documents carry "instance": the matched route's path template,
	// never the request's path, so a personal value sent where an id belongs
	// must not come back (this was a known bug; it is searched for below).
	bodies := strings.Join(errorBodies, "\n")
	if !relInstance.MatchString(bodies) {
		t.Error(`no error body carries "instance": the route-template check would be vacuous`)
	}
	for _, m := range relInstance.FindAllStringSubmatch(bodies, -1) {
		if strings.Contains(m[1], "@") || strings.Contains(m[1], acct) {
			t.Errorf("problem instance %q carries a path value, not the route template", m[1])
		}
	}
	where := map[string]string{"stderr (JSON log)": stderr, "stdout": stdout, "/metrics": string(metrics.body),
		"error bodies": bodies}
	values := map[string]string{"email": email, "name": name, "client ip": ip, "user agent": agent, "request details": details}
	for i, sec := range secrets {
		values[fmt.Sprintf("secret #%d", i)] = sec
	}
	found := 0
	for what, v := range values {
		for place, text := range where {
			if i := strings.Index(text, v); i >= 0 {
				found++
				t.Errorf("%s found in %s: ...%s...", what, place, text[max(0, i-300):min(len(text), i+len(v)+100)])
			}
		}
	}
	for place, text := range where {
		if place != "stdout" && strings.Contains(text, s.admin) {
			found++
			t.Errorf("the admin token found in %s", place)
		}
	}
	relFigure(t, "leaks", "values", len(values)+1, "places", len(where), "error_bodies", len(errorBodies),
		"log_bytes", len(stderr), "leaks_found", found)
}

var relInstance = regexp.MustCompile(`"instance":"([^"]*)"`)
