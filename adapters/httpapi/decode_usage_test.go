package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// The fast usage batch decoder must never accept a body decodeJSON refuses,
// and must decode every body it accepts to the same value; everything else
// it leaves to decodeJSON, whose answers must not change.

const usageKey = "0190a3e0-7c1f-7b2a-9c4d-5e6f70819202"

// usageRecordJSON is one bench-like record (see usageBodies in
// cmd/ledgerline/bench_http.go).
func usageRecordJSON(j int) string {
	models := [][2]string{{"openai", "gpt-4o-mini"}, {"anthropic", "claude-sonnet-4"}, {"google", "gemini-2.0-flash"}, {"mistral", "mistral-small"}}
	m := models[j%len(models)]
	return fmt.Sprintf(`{"key_id":%q,"request_id":"run-001-000000000-%04d","provider":%q,"model":%q,`+
		`"input_tokens":%d,"output_tokens":%d,"cost_micros":%d,"status":"ok","latency_ms":%d,`+
		`"client_ip":"198.51.100.%d","user_agent":"bench-gateway/1.0"}`,
		usageKey, j, m[0], m[1], 100+j, 50+j%300, 10+j%90, 300+j%700, 1+j%254)
}

func usageBatchJSON(n int) []byte {
	recs := make([]string, n)
	for j := range recs {
		recs[j] = usageRecordJSON(j)
	}
	return []byte(`{"records":[` + strings.Join(recs, ",") + `]}`)
}

func jsonRequest(body []byte, contentType string) *http.Request {
	r := httptest.NewRequest("POST", "/v1/usage/batch", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// oldUsageDecode is the path every usage batch took before the fast one.
func oldUsageDecode(body []byte) (UsageBatchRequest, error) {
	var req UsageBatchRequest
	err := decodeJSON(jsonRequest(body, "application/json"), &req)
	return req, err
}

// sameUsage reports how a and b differ: deeply, except that times are
// compared as instants with the same zone name and offset.
func sameUsage(a, b UsageBatchRequest) error {
	if (a.Records == nil) != (b.Records == nil) || len(a.Records) != len(b.Records) {
		return fmt.Errorf("records: %d (nil %v) vs %d (nil %v)", len(a.Records), a.Records == nil, len(b.Records), b.Records == nil)
	}
	for i := range a.Records {
		x, y := a.Records[i], b.Records[i]
		if (x.OccurredAt == nil) != (y.OccurredAt == nil) {
			return fmt.Errorf("records[%d].occurred_at: %v vs %v", i, x.OccurredAt, y.OccurredAt)
		}
		if x.OccurredAt != nil {
			xn, xo := x.OccurredAt.Zone()
			yn, yo := y.OccurredAt.Zone()
			if !x.OccurredAt.Equal(*y.OccurredAt) || xn != yn || xo != yo {
				return fmt.Errorf("records[%d].occurred_at: %v vs %v", i, x.OccurredAt, y.OccurredAt)
			}
			x.OccurredAt, y.OccurredAt = nil, nil
		}
		if !reflect.DeepEqual(x, y) {
			return fmt.Errorf("records[%d]: %+v vs %+v", i, x, y)
		}
	}
	return nil
}

// checkUsageDecode holds the fast decoder to the old path on body, and the
// request-level decodeUsageBatch to decodeJSON; it reports whether the fast
// decoder took the body.
func checkUsageDecode(t *testing.T, body []byte) bool {
	t.Helper()
	old, oldErr := oldUsageDecode(body)
	// The fast path's body goes back to a pool: what it decodes must not
	// refer to it, so scribble over it before comparing.
	scratch := bytes.Clone(body)
	recs, ok := decodeUsageRecords(scratch)
	for i := range scratch {
		scratch[i] = 'X'
	}
	if ok {
		if oldErr != nil {
			t.Fatalf("fast path accepts a body the old path refuses (%v): %q", oldErr, body)
		}
		if err := sameUsage(UsageBatchRequest{Records: recs}, old); err != nil {
			t.Fatalf("fast path decodes differently: %v\nbody %q", err, body)
		}
	} else if recs != nil {
		t.Fatalf("fast path returned records without accepting: %q", body)
	}
	got, err := decodeUsageBatch(jsonRequest(body, "application/json"))
	if !reflect.DeepEqual(err, oldErr) {
		t.Fatalf("decodeUsageBatch error %#v, decodeJSON %#v: %q", err, oldErr, body)
	}
	if err == nil {
		if err := sameUsage(got, old); err != nil {
			t.Fatalf("decodeUsageBatch decodes differently: %v\nbody %q", err, body)
		}
	}
	return ok
}

func TestUsageFastShapeIsKnown(t *testing.T) {
	if !usageFastShape {
		t.Fatal("UsageBatchRequest or commands.RecordUsage changed: update decodeUsageRecords and usageShapeIsKnown")
	}
}

// TestDecodeUsageRecords: which bodies the fast decoder takes (OK...) and
// which it leaves to decodeJSON (Fallback...), each checked against the old
// path.
func TestDecodeUsageRecords(t *testing.T) {
	rec := `"key_id":"` + usageKey + `","request_id":"r1"`
	cases := []struct {
		name string
		body string
		fast bool
	}{
		{"OKBench", string(usageBatchJSON(3)), true},
		{"OKEmptyObject", `{}`, true},
		{"OKEmptyRecords", `{"records":[]}`, true},
		{"OKEmptyRecord", `{"records":[{}]}`, true},
		{"OKWhitespace", " \t\r\n{ \"records\" :\n[ { \"key_id\" : \"" + usageKey + "\" , \"input_tokens\" : -0 } , {} ] }\n\t ", true},
		{"OKEscapes", `{"records":[{` + rec + `,"user_agent":"a\"b\\c\/d\b\f\n\r\t\u00e9\u2028\ud83d\ude00\u0000"}]}`, true},
		{"OKUnicode", `{"records":[{"model":"Zoë ✓ 😀","provider":"日本"}]}`, true},
		{"OKEscapedKeyID", `{"records":[{"key_id":"\u0030190a3e0-7c1f-7b2a-9c4d-5e6f70819202"}]}`, true},
		{"OKKeyIDForms", `{"records":[{"key_id":"{` + usageKey + `}"},{"key_id":"urn:uuid:` + usageKey + `"},{"key_id":"0190A3E07C1F7B2A9C4D5E6F70819202"}]}`, true},
		{"OKInt64Bounds", `{"records":[{"input_tokens":9223372036854775807,"output_tokens":-9223372036854775808,"cost_micros":0,"latency_ms":-1}]}`, true},
		{"OKOccurredAtZ", `{"records":[{"occurred_at":"2024-02-29T23:59:59Z"}]}`, true},
		{"OKOccurredAtOffset", `{"records":[{"occurred_at":"2024-02-29T23:59:59.123456789+05:30"},{"occurred_at":"2024-01-01T00:00:00-00:00"}]}`, true},
		{"FallbackOccurredAtLowercase", `{"records":[{"occurred_at":"2024-01-01t00:00:00z"}]}`, false},
		{"FallbackUnknownField", `{"records":[{"modle":"x"}]}`, false},
		{"FallbackCaseVariantName", `{"records":[{"Model":"x"}]}`, false},
		{"FallbackCaseVariantRecords", `{"Records":[]}`, false},
		{"FallbackKelvinName", `{"records":[{"\u212aey_id":"x"}]}`, false},
		{"FallbackEscapedName", `{"records":[{"m\u006fdel":"x"}]}`, false},
		{"FallbackDuplicate", `{"records":[{"model":"a","model":"b"}]}`, false},
		{"FallbackDuplicateCase", `{"records":[{"model":"a","MODEL":"b"}]}`, false},
		{"FallbackDuplicateRecords", `{"records":[],"records":[]}`, false},
		{"FallbackNullRecords", `{"records":null}`, false},
		{"FallbackNullRecord", `{"records":[null]}`, false},
		{"FallbackNullValue", `{"records":[{"model":null}]}`, false},
		{"FallbackNullTime", `{"records":[{"occurred_at":null}]}`, false},
		{"FallbackFraction", `{"records":[{"input_tokens":1.0}]}`, false},
		{"FallbackExponent", `{"records":[{"input_tokens":1e2}]}`, false},
		{"FallbackOverflow", `{"records":[{"input_tokens":9223372036854775808}]}`, false},
		{"FallbackUnderflow", `{"records":[{"input_tokens":-9223372036854775809}]}`, false},
		{"FallbackLeadingZero", `{"records":[{"input_tokens":01}]}`, false},
		{"FallbackPlus", `{"records":[{"input_tokens":+1}]}`, false},
		{"FallbackStringNumber", `{"records":[{"input_tokens":"1"}]}`, false},
		{"FallbackNumberString", `{"records":[{"model":1}]}`, false},
		{"FallbackBool", `{"records":[{"model":true}]}`, false},
		{"FallbackLoneSurrogate", `{"records":[{"model":"\ud83d"}]}`, false},
		{"FallbackReversedSurrogates", `{"records":[{"model":"\ude00\ud83d"}]}`, false},
		{"FallbackBadEscape", `{"records":[{"model":"\x"}]}`, false},
		{"FallbackQuoteEscape", `{"records":[{"model":"\'"}]}`, false},
		{"FallbackShortUnicodeEscape", `{"records":[{"model":"\u12"}]}`, false},
		{"FallbackControlByte", "{\"records\":[{\"model\":\"a\tb\"}]}", false},
		{"FallbackBadUTF8", "{\"records\":[{\"model\":\"a\xffb\"}]}", false},
		{"FallbackSurrogateUTF8", "{\"records\":[{\"model\":\"\xed\xa0\x80\"}]}", false},
		{"FallbackBadUTF8Trailing", "{} \xff", false},
		{"FallbackTrailingValue", `{}{}`, false},
		{"FallbackTrailingComma", `{"records":[{"model":"a",}]}`, false},
		{"FallbackTrailingArrayComma", `{"records":[{},]}`, false},
		{"FallbackOtherWhitespace", "{\"records\":[\v]}", false},
		{"FallbackNBSP", "{\"records\":[\u00a0]}", false},
		{"FallbackBOM", "\ufeff{}", false},
		{"FallbackBadKeyID", `{"records":[{"key_id":"nope"}]}`, false},
		{"FallbackEmptyKeyID", `{"records":[{"key_id":""}]}`, false},
		{"FallbackBadTime", `{"records":[{"occurred_at":"2024-13-01T00:00:00Z"}]}`, false},
		{"FallbackTimeNoZone", `{"records":[{"occurred_at":"2024-01-01T00:00:00"}]}`, false},
		{"FallbackEscapedTime", `{"records":[{"occurred_at":"2024-01-01T00:00:00\u005a"}]}`, false},
		{"FallbackTopArray", `[]`, false},
		{"FallbackEmpty", ``, false},
		{"FallbackTruncated", `{"records":[{"model":"a"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := checkUsageDecode(t, []byte(c.body)); got != c.fast {
				t.Fatalf("fast path took it: %v, want %v", got, c.fast)
			}
		})
	}
}

// TestDecodeUsageBatchEnvelope: content type, missing body, size limit and
// read errors are answered exactly as decodeJSON answers them.
func TestDecodeUsageBatchEnvelope(t *testing.T) {
	body := usageBatchJSON(2)
	readErr := errors.New("connection reset")
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"OKCharset", func() *http.Request { return jsonRequest(body, "application/json; charset=utf-8") }},
		{"OKCharsetNoSpace", func() *http.Request { return jsonRequest(body, "application/json;charset=utf-8") }},
		{"OKCharsetUpper", func() *http.Request { return jsonRequest(body, "application/json; charset=UTF-8") }},
		{"OKPlusJSON", func() *http.Request { return jsonRequest(body, "application/vnd.ledgerline+json") }},
		{"OKChunked", func() *http.Request {
			r := jsonRequest(body, "application/json")
			r.ContentLength = -1
			return r
		}},
		{"OKLengthUnderstated", func() *http.Request {
			r := jsonRequest(body, "application/json")
			r.ContentLength = 10
			return r
		}},
		{"OKLengthOverstated", func() *http.Request {
			r := jsonRequest(body, "application/json")
			r.ContentLength = 1 << 40
			return r
		}},
		{"ErrNoContentType", func() *http.Request { return jsonRequest(body, "") }},
		{"ErrTextPlain", func() *http.Request { return jsonRequest(body, "text/plain") }},
		{"ErrNoBody", func() *http.Request {
			r := jsonRequest(nil, "application/json")
			r.Body = nil
			return r
		}},
		{"ErrTooLarge", func() *http.Request {
			r := jsonRequest(body, "application/json")
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, int64(len(body)-1))
			return r
		}},
		{"ErrTooLargeChunked", func() *http.Request {
			r := jsonRequest(body, "application/json")
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, int64(len(body)-1))
			r.ContentLength = -1
			return r
		}},
		{"ErrRead", func() *http.Request {
			r := jsonRequest(body, "application/json")
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:10]), errReader{readErr}))
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want UsageBatchRequest
			wantErr := decodeJSON(c.req(), &want)
			got, err := decodeUsageBatch(c.req())
			if strings.HasPrefix(c.name, "OK") != (wantErr == nil) {
				t.Fatalf("decodeJSON: %v", wantErr)
			}
			if !reflect.DeepEqual(err, wantErr) {
				t.Fatalf("error %#v, want %#v", err, wantErr)
			}
			if err := sameUsage(got, want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDecodeUsageRecordsGenerated builds many near-canonical bodies from
// tricky pieces (the byte fuzzer rarely gets past the first record) and holds
// each to the old path; enough of them must take the fast path to mean
// something.
func TestDecodeUsageRecordsGenerated(t *testing.T) {
	names := []string{"key_id", "request_id", "provider", "model", "input_tokens", "output_tokens", "cost_micros",
		"status", "latency_ms", "occurred_at", "client_ip", "user_agent"}
	oddNames := []string{"Model", "KEY_ID", "m\\u006fdel", "extra", "", "records"}
	strs := []string{`""`, `"ok"`, `"gpt-4o-mini"`, `"a\"b"`, `"\\"`, `"\/"`, `"\u00e9\u2028"`, `"\ud83d\ude00"`,
		`"\ud83d"`, `"\udc00"`, `"\u0000"`, `"Zoë ✓ 😀"`, "\"\xff\"", "\"a\tb\"", `"\b\f\n\r\t"`, `"\x"`, `"\U0041"`}
	ints := []string{"0", "-0", "1", "-1", "42", "1000000000", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "12345678901234567890", "1.0", "1e2", "01", "-", "+1"}
	times := []string{`"2024-01-01T00:00:00Z"`, `"2024-02-29T23:59:59.123456789+05:30"`, `"2024-01-01T00:00:00+00:00"`,
		`"2024-01-01T00:00:00-00:00"`, `"2024-06-01T12:00:00.5-07:00"`, `"0000-01-01T00:00:00Z"`, `"9999-12-31T23:59:59.999999999-23:59"`,
		`"2024-01-01T24:00:00Z"`, `"2024-02-30T00:00:00Z"`, `"2024-01-01T00:00:00.Z"`, `"2024-01-01 00:00:00Z"`, `"2024-01-01T00:00:00,5Z"`,
		`"2024-01-01t00:00:00z"`, `"2024-01-01T00:00:00+24:00"`, `"2024-01-01T0:00:00Z"`, `"2024-01-01T00:00:00\u005a"`}
	keys := []string{`"` + usageKey + `"`, `"{` + usageKey + `}"`, `"urn:uuid:` + usageKey + `"`, `"URN:UUID:` + usageKey + `"`,
		`"0190A3E07C1F7B2A9C4D5E6F70819202"`, `"` + strings.ToUpper(usageKey) + `"`, `"\u0030190a3e0-7c1f-7b2a-9c4d-5e6f70819202"`,
		`"0190a3e0x7c1f-7b2a-9c4d-5e6f70819202"`, `""`, `"nope"`}
	odd := []string{"null", "true", "{}", "[]", `"1"`, "1"}
	ws := []string{"", "", "", " ", "\n\t ", "\r\n"}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	value := func(name string) string {
		if rng.IntN(12) == 0 {
			return pick(odd)
		}
		switch name {
		case "key_id":
			return pick(keys)
		case "occurred_at":
			return pick(times)
		case "input_tokens", "output_tokens", "cost_micros", "latency_ms":
			return pick(ints)
		}
		return pick(strs)
	}
	var fast int
	const runs = 10000
	for range runs {
		var sb strings.Builder
		sb.WriteString(pick(ws) + "{" + pick(ws) + `"records"` + pick(ws) + ":" + pick(ws) + "[")
		for r := range 1 + rng.IntN(3) {
			if r > 0 {
				sb.WriteString(pick(ws) + "," + pick(ws))
			}
			sb.WriteString("{")
			for m, name := range rng.Perm(len(names))[:rng.IntN(len(names)+1)] {
				if m > 0 {
					sb.WriteString(pick(ws) + ",")
				}
				n := names[name]
				if rng.IntN(40) == 0 {
					n = pick(oddNames)
				}
				sb.WriteString(pick(ws) + `"` + n + `"` + pick(ws) + ":" + pick(ws) + value(n))
				if rng.IntN(60) == 0 { // the same member again
					sb.WriteString(`,"` + n + `":` + value(n))
				}
			}
			sb.WriteString(pick(ws) + "}")
		}
		sb.WriteString(pick(ws) + "]" + pick(ws) + "}" + pick(ws))
		if rng.IntN(50) == 0 {
			sb.WriteString(pick([]string{"{}", "x", "\xff", ","}))
		}
		if checkUsageDecode(t, []byte(sb.String())) {
			fast++
		}
	}
	if fast < runs/40 {
		t.Fatalf("only %d of %d generated bodies took the fast path", fast, runs)
	}
	t.Logf("%d of %d generated bodies took the fast path", fast, runs)
}

// FuzzUsageBatchDecode: whenever the fast decoder takes a body, the old path
// takes it too and decodes the same value; whenever the old path refuses, the
// fast decoder does not take it; decodeUsageBatch answers as decodeJSON.
func FuzzUsageBatchDecode(f *testing.F) {
	rec := `"key_id":"` + usageKey + `","request_id":"r1"`
	seeds := []string{
		string(usageBatchJSON(3)),
		`{}`, `{"records":[]}`, `{"records":[{}]}`, `[]`, ``, `null`, `{"records":null}`, `{"records":[null]}`,
		`{"records":[{` + rec + `,"user_agent":"a\"b\\c\/d\b\f\n\r\t\u00e9\u2028\ud83d\ude00\u0000"}]}`,
		`{"records":[{"model":"Zoë ✓ 😀","provider":"日本"}]}`,
		`{"records":[{"Model":"x","KEY_ID":"` + usageKey + `"}]}`,
		`{"Records":[{}]}`, `{"records":[{"\u212aey_id":"x"}]}`, `{"records":[{"m\u006fdel":"x"}]}`,
		`{"records":[{"model":"a","model":"b"}]}`, `{"records":[{"model":"a","MODEL":"b"}]}`, `{"records":[],"records":[]}`,
		`{"records":[{"model":null,"occurred_at":null,"input_tokens":null}]}`,
		`{"records":[{"input_tokens":9223372036854775807,"output_tokens":-9223372036854775808}]}`,
		`{"records":[{"input_tokens":9223372036854775808}]}`, `{"records":[{"input_tokens":-9223372036854775809}]}`,
		`{"records":[{"input_tokens":99999999999999999999}]}`,
		`{"records":[{"input_tokens":-0,"output_tokens":1e2,"cost_micros":1.0,"latency_ms":01}]}`,
		" \t\r\n{ \"records\" :\n[ { \"key_id\" : \"" + usageKey + "\" , \"input_tokens\" : -0 } , {} ] }\n\t ",
		"{\"records\":[\v]}", "\ufeff{}",
		`{"records":[{"occurred_at":"2024-02-29T23:59:59.123456789+05:30"},{"occurred_at":"2024-01-01T00:00:00-00:00"}]}`,
		`{"records":[{"occurred_at":"2024-01-01t00:00:00z"},{"occurred_at":"2024-01-01T00:00:00,5Z"},{"occurred_at":"2024-01-01T00:00:00+24:00"}]}`,
		`{"records":[{"occurred_at":"2024-01-01T00:00:00\u005a"}]}`,
		`{"records":[{"key_id":"{` + usageKey + `}"},{"key_id":"urn:uuid:` + usageKey + `"},{"key_id":"0190A3E07C1F7B2A9C4D5E6F70819202"}]}`,
		`{"records":[{"key_id":"\u0030190a3e0-7c1f-7b2a-9c4d-5e6f70819202"}]}`, `{"records":[{"key_id":""}]}`,
		`{"records":[{"model":"\ud83d"}]}`, `{"records":[{"model":"\ude00\ud83d"}]}`, `{"records":[{"model":"\ud83d\u0041"}]}`,
		`{"records":[{"model":"\x"}]}`, `{"records":[{"model":"\u12"}]}`,
		"{\"records\":[{\"model\":\"a\tb\"}]}", "{\"records\":[{\"model\":\"a\xffb\"}]}",
		"{\"records\":[{\"model\":\"\xed\xa0\x80\"}]}", "{} \xff", `{}{}`, `{} x`,
		`{"records":[{"model":"a",}]}`, `{"records":[{},]}`, `{"records":[{"model":"a"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkUsageDecode(t, body)
	})
}

// BenchmarkUsageBatchDecode compares decodeJSON with decodeUsageBatch on a
// bench-like batch of 1,000 records, reading the body included, and shows
// the hand-written decoder alone.
func BenchmarkUsageBatchDecode(b *testing.B) {
	const n = 1000
	body := usageBatchJSON(n)
	for _, c := range []struct {
		name   string
		decode func(*http.Request) error
	}{
		{"old", func(r *http.Request) error {
			var req UsageBatchRequest
			return decodeJSON(r, &req)
		}},
		{"new", func(r *http.Request) error {
			_, err := decodeUsageBatch(r)
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := jsonRequest(body, "application/json")
			rd := bytes.NewReader(body)
			r.Body = io.NopCloser(rd)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				if err := c.decode(r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
	b.Run("fast_decoder_only", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeUsageRecords(body); !ok {
				b.Fatal("the fast path refused the body")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	})
}
