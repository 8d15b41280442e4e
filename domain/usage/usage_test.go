package usage_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/domaintest"
	"github.com/ledgerline/ledgerline/domain/usage"
)

var (
	now     = time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC)
	keyID   = uuid.MustParse("0195f0a0-0000-7000-8000-0000000000a1")
	account = uuid.MustParse("0195f0a0-0000-7000-8000-000000000001")
)

func TestEvents(t *testing.T) { domaintest.CheckEvents(t, usage.Events()) }

func valid() usage.RecordParams {
	return usage.RecordParams{RequestID: "req-1", KeyID: keyID, AccountID: account, Provider: "openai", Model: "gpt-5",
		InputTokens: 100, OutputTokens: 20, CostMicros: 1500, Status: "ok", LatencyMs: 840,
		ClientIP: "::ffff:192.0.2.7", UserAgent: "curl/8"}
}

func TestRecord(t *testing.T) {
	with := func(f func(*usage.RecordParams)) usage.RecordParams { p := valid(); f(&p); return p }
	ok := usage.Recorded{RequestID: "req-1", KeyID: keyID, AccountID: account, Provider: "openai", Model: "gpt-5",
		InputTokens: 100, OutputTokens: 20, CostMicros: 1500, Status: "ok", LatencyMs: 840, OccurredAt: now,
		Personal: usage.RecordedPersonal{ClientIP: "192.0.2.7", UserAgent: "curl/8"}}
	anon := ok
	anon.Personal = usage.RecordedPersonal{}
	zero := ok
	zero.InputTokens, zero.OutputTokens, zero.CostMicros, zero.LatencyMs, zero.Status = 0, 0, 0, 0, "rate_limited"
	cases := []struct {
		name string
		p    usage.RecordParams
		want usage.Recorded
		err  error
	}{
		{"OK", valid(), ok, nil},
		{"OKWithoutClientData", with(func(p *usage.RecordParams) { p.ClientIP, p.UserAgent = "", "" }), anon, nil},
		{"OKZeroCounts", with(func(p *usage.RecordParams) {
			p.InputTokens, p.OutputTokens, p.CostMicros, p.LatencyMs, p.Status = 0, 0, 0, 0, "rate_limited"
		}), zero, nil},
		{"ErrRequestIDRequired", with(func(p *usage.RecordParams) { p.RequestID = "" }), usage.Recorded{},
			&domain.RuleError{Field: "request_id", Rule: "required"}},
		{"ErrRequestIDSpaces", with(func(p *usage.RecordParams) { p.RequestID = " r " }), usage.Recorded{},
			&domain.RuleError{Field: "request_id"}},
		{"ErrRequestIDTooLong", with(func(p *usage.RecordParams) { p.RequestID = strings.Repeat("r", 129) }), usage.Recorded{},
			&domain.RuleError{Field: "request_id", Rule: "max_length"}},
		{"ErrKeyIDRequired", with(func(p *usage.RecordParams) { p.KeyID = uuid.Nil }), usage.Recorded{},
			&domain.RuleError{Field: "key_id", Rule: "required"}},
		{"ErrAccountIDRequired", with(func(p *usage.RecordParams) { p.AccountID = uuid.Nil }), usage.Recorded{},
			&domain.RuleError{Field: "account_id", Rule: "required"}},
		{"ErrProviderRequired", with(func(p *usage.RecordParams) { p.Provider = "" }), usage.Recorded{},
			&domain.RuleError{Field: "provider", Rule: "required"}},
		{"ErrModelRequired", with(func(p *usage.RecordParams) { p.Model = " " }), usage.Recorded{},
			&domain.RuleError{Field: "model", Rule: "required"}},
		{"ErrNegativeInputTokens", with(func(p *usage.RecordParams) { p.InputTokens = -1 }), usage.Recorded{},
			&domain.RuleError{Field: "input_tokens", Rule: "non_negative"}},
		{"ErrNegativeOutputTokens", with(func(p *usage.RecordParams) { p.OutputTokens = -1 }), usage.Recorded{},
			&domain.RuleError{Field: "output_tokens", Rule: "non_negative"}},
		{"ErrNegativeCost", with(func(p *usage.RecordParams) { p.CostMicros = -1 }), usage.Recorded{},
			&domain.RuleError{Field: "cost_micros", Rule: "non_negative"}},
		{"ErrNegativeLatency", with(func(p *usage.RecordParams) { p.LatencyMs = -1 }), usage.Recorded{},
			&domain.RuleError{Field: "latency_ms", Rule: "non_negative"}},
		{"ErrUnknownStatus", with(func(p *usage.RecordParams) { p.Status = "great" }), usage.Recorded{}, usage.ErrUnknownStatus},
		{"ErrBadIP", with(func(p *usage.RecordParams) { p.ClientIP = "300.1.1.1" }), usage.Recorded{},
			&domain.RuleError{Field: "client_ip", Rule: "ip_address"}},
		{"ErrUserAgentTooLong", with(func(p *usage.RecordParams) { p.UserAgent = strings.Repeat("u", 513) }), usage.Recorded{},
			&domain.RuleError{Field: "user_agent", Rule: "max_length"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := usage.Record(c.p, now)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("error = %v, want %v", err, c.err)
				}
				if strings.Contains(err.Error(), "300.1.1.1") {
					t.Fatal("error leaks the client IP")
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Record = %+v, %v\nwant %+v", got, err, c.want)
			}
		})
	}
}

func TestRecordPublicPartHasNoClientData(t *testing.T) {
	e, err := usage.Record(valid(), now)
	if err != nil {
		t.Fatal(err)
	}
	back := domaintest.RoundTrip(t, e).(usage.Recorded)
	if back.Personal != (usage.RecordedPersonal{}) || back.CostMicros != 1500 || back.SubjectID() != account {
		t.Fatalf("round trip = %+v", back)
	}
}

func TestReportError(t *testing.T) {
	valid := func() usage.ReportErrorParams {
		return usage.ReportErrorParams{RequestID: "req-1", KeyID: keyID, AccountID: account, Provider: "anthropic",
			Model: "claude", Code: "upstream_timeout", HTTPStatus: 504, Detail: "prompt was: hello", ClientIP: "192.0.2.1"}
	}
	with := func(f func(*usage.ReportErrorParams)) usage.ReportErrorParams { p := valid(); f(&p); return p }
	cases := []struct {
		name string
		p    usage.ReportErrorParams
		want usage.ErrorReported
		err  error
	}{
		{"OK", valid(), usage.ErrorReported{RequestID: "req-1", KeyID: keyID, AccountID: account, Provider: "anthropic",
			Model: "claude", Code: "upstream_timeout", HTTPStatus: 504, OccurredAt: now,
			Personal: usage.ErrorReportedPersonal{ClientIP: "192.0.2.1", Detail: "prompt was: hello"}}, nil},
		{"ErrCodeRequired", with(func(p *usage.ReportErrorParams) { p.Code = "" }), usage.ErrorReported{},
			&domain.RuleError{Field: "code", Rule: "required"}},
		{"ErrCodeFormat", with(func(p *usage.ReportErrorParams) { p.Code = "Bad Code" }), usage.ErrorReported{},
			&domain.RuleError{Field: "code", Rule: "code_format"}},
		{"ErrHTTPStatus", with(func(p *usage.ReportErrorParams) { p.HTTPStatus = 700 }), usage.ErrorReported{},
			&domain.RuleError{Field: "http_status"}},
		{"ErrDetailTooLong", with(func(p *usage.ReportErrorParams) { p.Detail = strings.Repeat("d", 2001) }), usage.ErrorReported{},
			&domain.RuleError{Field: "detail", Rule: "max_length"}},
		{"ErrProviderRequired", with(func(p *usage.ReportErrorParams) { p.Provider = "" }), usage.ErrorReported{},
			&domain.RuleError{Field: "provider", Rule: "required"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := usage.ReportError(c.p, now)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("error = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ReportError = %+v, %v", got, err)
			}
		})
	}
}

func TestEventID(t *testing.T) {
	a := usage.EventID(keyID, "req-1")
	if a != usage.EventID(keyID, "req-1") {
		t.Fatal("EventID is not deterministic")
	}
	if a.Version() != 5 {
		t.Fatalf("version = %d, want 5", a.Version())
	}
	other := uuid.MustParse("0195f0a0-0000-7000-8000-0000000000a2")
	distinct := []uuid.UUID{a, usage.EventID(keyID, "req-2"), usage.EventID(other, "req-1"), usage.ErrorEventID(keyID, "req-1")}
	seen := map[uuid.UUID]bool{}
	for _, id := range distinct {
		if seen[id] {
			t.Fatalf("id collision: %v", distinct)
		}
		seen[id] = true
	}
	// Pinned: a changed namespace would let stored requests be counted twice.
	if got := uuid.NewSHA1(usage.Namespace, []byte(keyID.String()+":req-1")); got != a {
		t.Fatal("EventID is not UUIDv5(Namespace, key:request)")
	}
	if usage.Namespace.String() != uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:ledgerline:usage")).String() {
		t.Fatal("namespace changed")
	}
	e, _ := usage.Record(valid(), now)
	if e.EventID() != a {
		t.Fatal("Recorded.EventID")
	}
}

func TestStream(t *testing.T) {
	cases := []struct {
		name string
		day  time.Time
		want string
	}{
		{"UTC", now, "usage-" + account.String() + "-20260310"},
		{"OtherZoneUsesUTCDay", time.Date(2026, 3, 11, 0, 30, 0, 0, time.FixedZone("CET", 3600)), "usage-" + account.String() + "-20260310"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := usage.Stream(account, c.day); got != c.want {
				t.Fatalf("Stream = %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range usage.Statuses() {
		if got, err := usage.ParseStatus(s.String()); err != nil || got != s {
			t.Fatal(s, err)
		}
	}
	if _, err := usage.ParseStatus("OK"); err == nil {
		t.Fatal("statuses are case-sensitive")
	}
}

// Each figure is bounded above so read-model sums stay far from int64
// overflow; the bound itself is accepted.
func TestRecordUpperBounds(t *testing.T) {
	for _, c := range []struct {
		field string
		set   func(*usage.RecordParams, int64)
		max   int64
	}{
		{"input_tokens", func(p *usage.RecordParams, v int64) { p.InputTokens = v }, usage.MaxTokens},
		{"output_tokens", func(p *usage.RecordParams, v int64) { p.OutputTokens = v }, usage.MaxTokens},
		{"cost_micros", func(p *usage.RecordParams, v int64) { p.CostMicros = v }, usage.MaxCostMicros},
		{"latency_ms", func(p *usage.RecordParams, v int64) { p.LatencyMs = v }, usage.MaxLatencyMs},
	} {
		p := valid()
		c.set(&p, c.max)
		if _, err := usage.Record(p, now); err != nil {
			t.Errorf("%s at the bound: %v", c.field, err)
		}
		for _, v := range []int64{c.max + 1, 1<<63 - 1} {
			c.set(&p, v)
			_, err := usage.Record(p, now)
			var re *domain.RuleError
			if !errors.As(err, &re) || re.Field != c.field || re.Rule != "max" {
				t.Errorf("%s = %d: err = %v, want a max rule on the field", c.field, v, err)
			}
		}
	}
}
