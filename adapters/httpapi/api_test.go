package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestProblems(t *testing.T) {
	h := newHarness(t)
	post := func(ct, body string) resp {
		req, _ := http.NewRequest("POST", h.srv.URL+"/v1/accounts", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", "Bearer "+h.tokens["admin"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return resp{status: res.StatusCode, header: res.Header, body: b.Bytes()}
	}
	secretEmail := "leak-me@example.com"
	cases := []struct {
		name, ct, body string
		status         int
		field, rule    string
	}{
		{"ErrContentType", "text/plain", `{}`, 415, "", ""},
		{"ErrNoContentType", "", `{}`, 415, "", ""},
		{"ErrSyntax", "application/json", `{"email":`, 400, "", "json_syntax"},
		{"ErrUnknownField", "application/json", `{"email":"` + secretEmail + `","password":"x"}`, 400, "password", "unknown_field"},
		{"ErrType", "application/json", `{"email":"` + secretEmail + `","age_confirmed":"yes"}`, 400, "age_confirmed", "type"},
		{"ErrTrailing", "application/json", `{} {}`, 400, "", "single_value"},
		{"ErrTooLarge", "application/json", `{"name":"` + strings.Repeat("a", MaxBody) + `"}`, 413, "", ""},
		{"ErrEmailFormat", "application/json", `{"email":"not-an-email ` + secretEmail + `","age_confirmed":true,"region":"DE","jurisdiction":"EU","policy_version":"1"}`, 422, "email", ""},
		{"ErrUnderAge", "application/json", `{"email":"` + secretEmail + `","age_confirmed":false,"region":"DE","jurisdiction":"EU","policy_version":"1"}`, 422, "age_confirmed", "min_age_13"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := post(c.ct, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			var p Problem
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			if p.RequestID == "" || p.RequestID != r.header.Get("X-Request-Id") || p.Status != c.status {
				t.Fatalf("problem %+v", p)
			}
			if c.rule != "" || c.field != "" {
				found := false
				for _, f := range p.Errors {
					if (c.field == "" || f.Field == c.field) && (c.rule == "" || f.Rule == c.rule) {
						found = true
					}
				}
				if !found {
					t.Fatalf("no error for field %q rule %q: %s", c.field, c.rule, r.body)
				}
			}
			if bytes.Contains(r.body, []byte(secretEmail)) {
				t.Fatal("problem echoes a submitted value")
			}
		})
	}
	if strings.Contains(h.logs.String(), secretEmail) {
		t.Fatal("logs contain a submitted value")
	}
}

func TestRequestIDAndNotFound(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest("GET", h.srv.URL+"/nope", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || res.Header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("status %d, request id %q", res.StatusCode, res.Header.Get("X-Request-Id"))
	}
	req.Header.Set("X-Request-Id", "bad id with spaces")
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if got := res.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("unsafe request id echoed: %q", got)
	}
	// an unknown account is a 404 problem; a malformed id a 400
	h.mustDo("admin", "GET", "/v1/accounts/0195f0a0-0000-7000-8000-000000000009?reason=test", nil, 404, nil)
	h.mustDo("admin", "GET", "/v1/accounts/xyz?reason=test", nil, 400, nil)
}

func TestPanicRecovery(t *testing.T) {
	h := newHarness(t)
	rt := &route{method: "GET", path: "/boom", h: func(w http.ResponseWriter, r *http.Request) error { panic("boom with data") }}
	mux := http.NewServeMux()
	mux.Handle("GET /boom", h.api.wrap(rt))
	srvHandler := h.api.outer(mux)
	rec := &recorder{header: http.Header{}}
	req, _ := http.NewRequest("GET", "/boom", nil)
	srvHandler.ServeHTTP(rec, req)
	if rec.status != 500 || !bytes.Contains(rec.body.Bytes(), []byte("internal error")) || bytes.Contains(rec.body.Bytes(), []byte("with data")) {
		t.Fatalf("panic answer %d %s", rec.status, rec.body.Bytes())
	}
	if strings.Contains(h.logs.String(), "boom with data") {
		t.Fatal("panic value logged")
	}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }

func TestReadYourWritesAndMetrics(t *testing.T) {
	h := newHarness(t)
	id := h.register("ryw@example.com", "R Y W")
	var key struct {
		Secret   string `json:"secret"`
		Position uint64 `json:"position"`
	}
	r := h.mustDo("admin", "POST", "/v1/accounts/"+id.String()+"/keys", map[string]any{"name": "k", "scopes": []string{"inference"}}, 201, &key)
	if r.header.Get(PositionHeader) == "" || key.Position == 0 {
		t.Fatal("write without position")
	}
	var keys KeyList
	h.mustDo("admin", "GET", "/v1/accounts/"+id.String()+"/keys?after="+r.header.Get(PositionHeader), nil, 200, &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].Name != "" {
		t.Fatalf("keys %+v (names need a reason for staff)", keys.Keys)
	}
	h.mustDo("admin", "GET", "/v1/accounts/"+id.String()+"/keys?reason=ticket+7", nil, 200, &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].Name != "k" {
		t.Fatalf("staff with a reason should see key names: %+v", keys.Keys)
	}
	var audit AuditPage
	h.mustDo("auditor", "GET", "/v1/audit/streams/dataaccess-"+id.String(), nil, 200, &audit)
	if len(audit.Events) != 1 || audit.Events[0].Type != "operator.personal_data_read" {
		t.Fatalf("staff read not recorded: %+v", audit.Events)
	}
	// a position far ahead: bounded wait, then 503
	h.api.cfg.ReadWait = 50e6
	h.mustDo("admin", "GET", "/v1/accounts/"+id.String()+"/balance?after=999999", nil, 503, nil)
	m := h.do("", "GET", "/metrics", nil)
	if !bytes.Contains(m.body, []byte(`route="GET /v1/accounts/{account_id}/keys"`)) || bytes.Contains(m.body, []byte(id.String())) {
		t.Fatal("metrics must label by route pattern only")
	}
	if bytes.Contains(m.body, []byte(key.Secret)) || strings.Contains(h.logs.String(), key.Secret) {
		t.Fatal("key secret in metrics or logs")
	}
}
