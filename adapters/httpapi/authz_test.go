package httpapi

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// wantRoles is the authorization matrix, written out independently of the
// route table: every route must appear here, and the server must enforce it.
// "public" routes need no token; "own" marks routes where a customer token
// reaches only its own account.
var wantRoles = map[string]string{
	"GET /healthz":      "public",
	"GET /metrics":      "public",
	"GET /openapi.json": "public",

	"GET /v1/me":                        "admin compliance auditor gateway customer",
	"POST /v1/tokens":                   "admin",
	"GET /v1/tokens":                    "admin",
	"POST /v1/tokens/{token_id}/revoke": "admin",

	"POST /v1/accounts":                                            "admin gateway",
	"GET /v1/accounts":                                             "admin compliance auditor",
	"GET /v1/accounts/{account_id}":                                "admin compliance auditor customer own",
	"PUT /v1/accounts/{account_id}/email":                          "admin customer own",
	"POST /v1/accounts/{account_id}/rectify":                       "admin compliance customer own",
	"POST /v1/accounts/{account_id}/suspend":                       "admin",
	"POST /v1/accounts/{account_id}/reinstate":                     "admin",
	"POST /v1/accounts/{account_id}/close":                         "admin customer own",
	"POST /v1/accounts/{account_id}/keys":                          "admin customer own",
	"GET /v1/accounts/{account_id}/keys":                           "admin compliance auditor customer own",
	"GET /v1/keys/{key_id}":                                        "admin compliance auditor customer own",
	"POST /v1/keys/{key_id}/rotate":                                "admin customer own",
	"POST /v1/keys/{key_id}/revoke":                                "admin customer own",
	"POST /v1/keys/verify":                                         "admin gateway",
	"POST /v1/usage":                                               "admin gateway",
	"POST /v1/usage/batch":                                         "admin gateway",
	"GET /v1/accounts/{account_id}/usage":                          "admin compliance auditor customer own",
	"POST /v1/accounts/{account_id}/payments":                      "admin gateway",
	"POST /v1/accounts/{account_id}/refunds":                       "admin gateway",
	"POST /v1/accounts/{account_id}/disputes":                      "admin gateway",
	"GET /v1/accounts/{account_id}/disputes":                       "admin compliance auditor customer own",
	"GET /v1/accounts/{account_id}/balance":                        "admin compliance auditor gateway customer own",
	"GET /v1/accounts/{account_id}/transactions":                   "admin compliance auditor customer own",
	"POST /v1/accounts/{account_id}/disputes/{dispute_id}/resolve": "admin gateway",

	"GET /v1/accounts/{account_id}/consents":                     "admin compliance auditor customer own",
	"GET /v1/accounts/{account_id}/consents/history":             "admin compliance auditor customer own",
	"POST /v1/accounts/{account_id}/consents/{purpose}/grant":    "admin compliance customer own",
	"POST /v1/accounts/{account_id}/consents/{purpose}/withdraw": "admin compliance customer own",
	"POST /v1/accounts/{account_id}/policy-acceptances":          "admin compliance customer own",
	"POST /v1/policies": "admin",

	"POST /v1/privacy/requests":                          "admin compliance customer own",
	"GET /v1/privacy/requests":                           "admin compliance auditor",
	"GET /v1/privacy/requests/{request_id}":              "admin compliance auditor customer own",
	"POST /v1/privacy/requests/{request_id}/acknowledge": "admin compliance",
	"POST /v1/privacy/requests/{request_id}/extend":      "admin compliance",
	"POST /v1/privacy/requests/{request_id}/reject":      "admin compliance",
	"POST /v1/privacy/requests/{request_id}/erase":       "admin compliance",
	"POST /v1/privacy/holds":                             "admin compliance",
	"POST /v1/privacy/holds/{hold_id}/release":           "admin compliance",
	"GET /v1/accounts/{account_id}/holds":                "admin compliance auditor",
	"POST /v1/accounts/{account_id}/export":              "admin compliance customer own",
	"GET /v1/certificates/public-key":                    "public",
	"GET /v1/certificates/{certificate_id}":              "admin compliance auditor customer own",

	"GET /v1/audit/events":           "admin compliance auditor",
	"GET /v1/audit/streams/{stream}": "admin compliance auditor",
	"GET /v1/audit/head":             "admin compliance auditor",
	"GET /v1/audit/verify":           "admin compliance auditor",
	"GET /v1/audit/checkpoints":      "admin compliance auditor",

	"GET /v1/audit/accounts/{account_id}": "admin compliance auditor",
}

// ownBodies are valid bodies for the "another account" check, so that the
// answer is about ownership, not validation.
func ownBodies(other uuid.UUID) map[string]any {
	return map[string]any{
		"POST /v1/keys/{key_id}/revoke":                              map[string]any{"reason": "user_request"},
		"POST /v1/privacy/requests":                                  map[string]any{"subject_id": other, "kind": "access", "channel": "api"},
		"PUT /v1/accounts/{account_id}/email":                        map[string]any{"email": "x@example.com"},
		"POST /v1/accounts/{account_id}/close":                       map[string]any{"reason": "customer_request"},
		"POST /v1/accounts/{account_id}/keys":                        map[string]any{"name": "k", "scopes": []string{"inference"}},
		"POST /v1/accounts/{account_id}/consents/{purpose}/grant":    map[string]any{"method": "api", "policy_version": "1"},
		"POST /v1/accounts/{account_id}/consents/{purpose}/withdraw": map[string]any{"method": "api", "policy_version": "1"},
		"POST /v1/accounts/{account_id}/policy-acceptances":          map[string]any{"method": "api", "policy_version": "1"},
	}
}

var allRoles = []string{"admin", "compliance", "auditor", "gateway", "customer"}

func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	mine := h.register("matrix-own@example.com", "Own Person")
	other := h.register("matrix-other@example.com", "Other Person")
	h.tokens["customer"] = h.customerToken(mine)
	// a key of the other account, for "own" checks on key routes
	var key struct {
		KeyID uuid.UUID `json:"key_id"`
	}
	h.mustDo("admin", "POST", "/v1/accounts/"+other.String()+"/keys", map[string]any{"name": "k", "scopes": []string{"inference"}}, 201, &key)
	ownKey := struct {
		KeyID uuid.UUID `json:"key_id"`
	}{}
	h.mustDo("admin", "POST", "/v1/accounts/"+mine.String()+"/keys", map[string]any{"name": "k", "scopes": []string{"inference"}}, 201, &ownKey)

	// a revoked admin token
	var revoked IssuedTokenView
	h.mustDo("admin", "POST", "/v1/tokens", map[string]any{"role": "admin"}, 201, &revoked)
	h.mustDo("admin", "POST", "/v1/tokens/"+revoked.TokenID.String()+"/revoke", nil, 200, nil)
	h.tokens["revoked"] = revoked.Secret
	h.tokens["garbage"] = "llt_" + strings.Repeat("A", 43)

	served := map[string]bool{}
	for _, rt := range h.api.routes {
		pattern := rt.method + " " + rt.path
		served[pattern] = true
		want, ok := wantRoles[pattern]
		if !ok {
			t.Errorf("%s is not in the authorization matrix", pattern)
			continue
		}
		allowed := strings.Fields(want)
		fill := func(account uuid.UUID, keyID uuid.UUID) string {
			p := rt.path
			p = strings.ReplaceAll(p, "{account_id}", account.String())
			p = strings.ReplaceAll(p, "{key_id}", keyID.String())
			p = strings.ReplaceAll(p, "{token_id}", uuid.NewString())
			p = strings.ReplaceAll(p, "{request_id}", uuid.NewString())
			p = strings.ReplaceAll(p, "{hold_id}", uuid.NewString())
			p = strings.ReplaceAll(p, "{certificate_id}", uuid.NewString())
			p = strings.ReplaceAll(p, "{dispute_id}", "dp_1")
			p = strings.ReplaceAll(p, "{purpose}", "analytics")
			p = strings.ReplaceAll(p, "{stream}", "account-"+account.String())
			return p
		}
		var body any
		if rt.method == "POST" || rt.method == "PUT" {
			body = map[string]any{}
		}
		call := func(who string, account, keyID uuid.UUID) int {
			return h.do(who, rt.method, fill(account, keyID), body).status
		}
		if want == "public" {
			if st := call("", mine, ownKey.KeyID); st == 401 || st == 403 {
				t.Errorf("%s without token: %d, want public", pattern, st)
			}
			continue
		}
		for _, who := range []string{"", "revoked", "garbage"} {
			if st := call(who, mine, ownKey.KeyID); st != 401 {
				t.Errorf("%s with token %q: %d, want 401", pattern, who, st)
			}
		}
		for _, role := range allRoles {
			st := call(role, mine, ownKey.KeyID)
			isAllowed := contains(allowed, role)
			switch {
			case isAllowed && (st == 401 || st == 403):
				t.Errorf("%s as %s: %d, want allowed", pattern, role, st)
			case !isAllowed && st != 403:
				t.Errorf("%s as %s: %d, want 403", pattern, role, st)
			}
		}
		if contains(allowed, "own") {
			if b, ok := ownBodies(other)[pattern]; ok {
				body = b
			}
			st := call("customer", other, key.KeyID)
			if st != 403 && st != 404 {
				t.Errorf("%s as customer of another account: %d, want 403 or 404", pattern, st)
			}
		}
	}
	for p := range wantRoles {
		if !served[p] {
			t.Errorf("matrix lists %s, which is not served", p)
		}
	}
}
