package eventstore

import (
	"encoding/json"
	"strings"
	"testing"
)

var jsonValidCases = []string{
	``, ` `, `{}`, `[]`, ` {} `, "\t[\n]\r", `{"a":1}`, `{"a":1,}`, `{,}`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{a:1}`,
	`{"a":1 "b":2}`, `{"a":1}{}`, `{} x`, `"x"`, `"\x"`, `"\u00e9"`, `"\u00G9"`, `"\u00e"`, `"\"`, `"a\"b"`, `"\/\b\f\n\r\t\\"`,
	"\"tab\there\"", "\"bad \xff utf8\"", "\"\x7f\"", `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`,
	`-1.5e10`, `+1`, `1a`, `[1a]`, `true`, `false`, `null`, `tru`, `truex`, `nul`, `[true,false,null]`, `NaN`, `{"a":[{"b":{"c":[]}}]}`,
	`[[[[]]]]`, `[[[[]]]`, `{"a":{"b":1}`, `{"a":1}}`, `]`, `}`, `[}`, `{]`, `"`, `"abc`, `{"a":"b\`, "\"\u2028\"", `{"":0}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"request_id":"r-1","key_id":"0190a8c4-7e2f-7b3a-9c1d-000000000001","input_tokens":1234,"cost_micros":8901,"occurred_at":"2026-11-30T08:33:38.123456Z"}`,
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range jsonValidCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range jsonValidCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	payload := []byte(jsonValidCases[len(jsonValidCases)-1])
	b.Run("json.Valid", func(b *testing.B) {
		for b.Loop() {
			json.Valid(payload)
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		for b.Loop() {
			validJSON(payload)
		}
	})
}
