package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodeJSONRefusesWhatEncodingJSONLetsThrough: invalid UTF-8 and
// duplicated members are refused with a problem naming the field and the
// rule, at any depth, and nothing is decoded.
func TestDecodeJSONRefusesWhatEncodingJSONLetsThrough(t *testing.T) {
	type item struct {
		Model string `json:"model"`
		Cost  int64  `json:"cost_micros"`
	}
	type body struct {
		Name    string `json:"name"`
		Amount  int64  `json:"amount_micros"`
		Records []item `json:"records"`
		Inner   *item  `json:"inner"`
	}
	cases := []struct {
		name, body  string
		status      int
		field, rule string
	}{
		{"OK", `{"name":"Zoë ✓","amount_micros":1,"records":[{"model":"a","cost_micros":1},{"model":"a","cost_micros":1}]}`, 0, "", ""},
		{"OKSameNameInSiblingObjects", `{"inner":{"model":"x"},"records":[{"model":"x"}]}`, 0, "", ""},
		{"DuplicateTop", `{"amount_micros":1,"amount_micros":-1}`, 400, "amount_micros", "duplicate_field"},
		{"DuplicateSameValue", `{"name":"a","name":"a"}`, 400, "name", "duplicate_field"},
		{"DuplicateOtherCase", `{"amount_micros":1,"Amount_Micros":-1}`, 400, "Amount_Micros", "duplicate_field"},
		{"DuplicateInObject", `{"inner":{"model":"a","model":"b"}}`, 400, "inner.model", "duplicate_field"},
		{"DuplicateInArray", `{"records":[{"model":"a"},{"cost_micros":1,"cost_micros":2}]}`, 400, "records[1].cost_micros", "duplicate_field"},
		{"DuplicateOddName", `{"a b":1,"a b":2}`, 400, "(unknown)", "duplicate_field"},
		{"DuplicateEscapedName", `{"name":"a","n\u0061me":"b"}`, 400, "name", "duplicate_field"},
		{"DuplicateAmongManyMembers", `{` + manyMembers(40) + `,"name":"a","m7":1}`, 400, "m7", "duplicate_field"},
		{"EscapedQuoteInValue", `{"name":"say \"hi\" \\","amount_micros":1}`, 0, "", ""},
		{"UTF8InValue", "{\"name\":\"Bad \xff Name\"}", 400, "name", "utf8"},
		{"UTF8Surrogate", "{\"records\":[{\"model\":\"gpt-\xed\xa0\x80\"}]}", 400, "records[0].model", "utf8"},
		{"UTF8InKey", "{\"inner\":{\"na\xc3\x28me\":1}}", 400, "inner", "utf8"},
		{"UTF8Outside", "\xff{}", 400, "", "utf8"},
		{"UTF8Trailing", "{} \xff", 400, "", "utf8"},
		{"TooDeep", `{"inner":` + strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1) + `}`, 400, "", "max_depth"},
		{"SyntaxStillSyntax", `{"name":"a",`, 400, "", "json_syntax"},
		{"DuplicateBeforeSyntax", `{"name":"a","name"`, 400, "name", "duplicate_field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v body
			err := decodeBodyString(c.body, &v)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("want a problem, got %v", err)
			}
			if p.Status != c.status || len(p.Errors) != 1 || p.Errors[0].Field != c.field || p.Errors[0].Rule != c.rule {
				t.Fatalf("problem %+v, want %d %q %q", p, c.status, c.field, c.rule)
			}
			if v.Name != "" || v.Amount != 0 || v.Records != nil || v.Inner != nil {
				t.Fatalf("decoded despite the problem: %+v", v)
			}
			b, _ := json.Marshal(p)
			if len(c.body) > 8 && bytes.Contains(b, []byte(c.body)) {
				t.Fatal("the problem echoes the body")
			}
		})
	}
}

func manyMembers(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"m%d":%d`, i, i)
	}
	return strings.Join(parts, ",")
}

// TestProblemInstanceIsTheRouteTemplate: the problem's instance is the matched
// route's path template, never the path the caller sent.
func TestProblemInstanceIsTheRouteTemplate(t *testing.T) {
	h := newHarness(t)
	for path, want := range map[string]string{
		"/v1/accounts/someone@example.org?reason=test": "/v1/accounts/{account_id}",
		"/v1/keys/someone@example.org":                 "/v1/keys/{key_id}",
		"/no/such/someone@example.org":                 "",
	} {
		r := h.do("admin", "GET", path, nil)
		if r.status < 400 || bytes.Contains(r.body, []byte("someone@example.org")) {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		var p Problem
		if err := json.Unmarshal(r.body, &p); err != nil || p.Instance != want {
			t.Fatalf("GET %s: instance %q, want %q (%v)", path, p.Instance, want, err)
		}
	}
	// before any route handler ran (no route state), the mux pattern is used
	req := httptest.NewRequest("GET", "/v1/x/secret", nil)
	req.Pattern = "GET /v1/x/{id}"
	rec := httptest.NewRecorder()
	h.api.writeProblem(rec, req, errNotFound())
	if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "secret") || !strings.Contains(rec.Body.String(), `"/v1/x/{id}"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}

// decodeBodyString runs decodeJSON on a JSON POST whose body is s.
func decodeBodyString(s string, v any) error {
	r := httptest.NewRequest("POST", "/x", strings.NewReader(s))
	r.Header.Set("Content-Type", "application/json")
	return decodeJSON(r, v)
}
