package usage

import (
	"crypto/sha1"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// Namespace is the fixed UUIDv5 namespace of usage event ids. Changing it would let every
// already-recorded request be recorded again: never change it.
var Namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:ledgerline:usage"))

// EventID is the id of the usage.recorded event for a request: UUIDv5 over the namespace and
// keyID + ":" + requestID. The same request always yields the same id.
func EventID(keyID uuid.UUID, requestID string) uuid.UUID {
	return nameID(keyID, requestID, "")
}

// ErrorEventID is the id of the usage.error_reported event for a request; distinct from EventID
// so a request can have both.
func ErrorEventID(keyID uuid.UUID, requestID string) uuid.UUID {
	return nameID(keyID, requestID, ":error")
}

// nameID is uuid.NewSHA1(Namespace, keyID.String()+":"+requestID+suffix)
// computed in one buffer on the stack: a usage batch derives an id per
// record, and the library's hash object, string and concatenation were most
// of the cost (TestEventIDMatchesUUIDv5 holds the two equal).
func nameID(keyID uuid.UUID, requestID, suffix string) uuid.UUID {
	var buf [16 + 36 + 1 + MaxRequestIDLen + 6]byte
	b := append(buf[:0], Namespace[:]...)
	b = appendUUID(b, keyID)
	b = append(b, ':')
	b = append(b, requestID...)
	b = append(b, suffix...)
	sum := sha1.Sum(b)
	var id uuid.UUID
	copy(id[:], sum[:])
	id[6] = id[6]&0x0f | 5<<4 // version 5
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// Stream is the usage stream of an account for one UTC day. Usage appends use expected version
// "any": there is no invariant across records, only idempotency by event id.
func Stream(accountID uuid.UUID, day time.Time) string {
	y, m, d := day.UTC().Date()
	if y < 1000 || y > 9999 { // not eight digits as one number
		return "usage-" + accountID.String() + "-" + day.UTC().Format("20060102")
	}
	// one allocation: a batch names a stream per record (TestStreamName)
	var b [6 + 36 + 1 + 8]byte
	out := append(b[:0], "usage-"...)
	out = appendUUID(out, accountID)
	out = append(out, '-')
	out = strconv.AppendInt(out, int64(y*10000+int(m)*100+d), 10)
	return string(out)
}

// ErrUnknownStatus is returned by ParseStatus for a value outside the fixed set.
var ErrUnknownStatus = errors.New("unknown usage status")

// Status is the outcome of a gateway request; callers cannot invent values.
type Status struct{ s string }

// The fixed statuses.
var (
	StatusOK          = Status{"ok"}
	StatusError       = Status{"error"}
	StatusRateLimited = Status{"rate_limited"}
	StatusTimeout     = Status{"timeout"}
	StatusCancelled   = Status{"cancelled"}
)

// Statuses lists every valid status.
func Statuses() []Status {
	return []Status{StatusOK, StatusError, StatusRateLimited, StatusTimeout, StatusCancelled}
}

func (s Status) String() string { return s.s }

// ParseStatus maps a string to a Status.
func ParseStatus(s string) (Status, error) {
	return domain.ParseEnum(ErrUnknownStatus, s, Statuses()...)
}

// Limits on inputs.
const (
	MaxRequestIDLen = 128
	MaxProviderLen  = 64
	MaxModelLen     = 128
	MaxUserAgentLen = 512
	MaxDetailLen    = 2000
	MaxCodeLen      = 64
)

// Upper bounds of a record's figures. They keep every sum a read model keeps
// far from int64 overflow: a total of cost_micros overflows only after about
// 9.2×10^8 records at MaxCostMicros, and a token total after about 9.2×10^9
// records at MaxTokens. The API's validation tags (commands.RecordUsage)
// carry the same numbers.
const (
	MaxTokens     int64 = 1_000_000_000  // input_tokens, output_tokens
	MaxCostMicros int64 = 10_000_000_000 // cost_micros: 10,000 currency units per request
	MaxLatencyMs  int64 = 86_400_000     // latency_ms: one day
)

// RecordParams are the inputs of Record, as the gateway reports them.
type RecordParams struct {
	RequestID    string
	KeyID        uuid.UUID
	AccountID    uuid.UUID
	Provider     string
	Model        string
	InputTokens  int64
	OutputTokens int64
	CostMicros   int64
	Status       string
	LatencyMs    int64
	ClientIP     string // optional
	UserAgent    string // optional
}

// Record validates p and returns the usage.recorded event; store it with id EventID(...).
func Record(p RecordParams, now time.Time) (Recorded, error) {
	if err := checkRequest(p.RequestID, p.KeyID, p.AccountID, p.Provider, p.Model); err != nil {
		return Recorded{}, err
	}
	for _, n := range []struct {
		field string
		v     int64
		max   int64
		msg   string
	}{
		{"input_tokens", p.InputTokens, MaxTokens, "must be 1000000000 or less"},
		{"output_tokens", p.OutputTokens, MaxTokens, "must be 1000000000 or less"},
		{"cost_micros", p.CostMicros, MaxCostMicros, "must be 10000000000 or less"},
		{"latency_ms", p.LatencyMs, MaxLatencyMs, "must be 86400000 or less"},
	} {
		if n.v < 0 {
			return Recorded{}, domain.NewRuleError(n.field, "non_negative", "must not be negative")
		}
		if n.v > n.max {
			return Recorded{}, domain.NewRuleError(n.field, "max", n.msg)
		}
	}
	st, err := ParseStatus(p.Status)
	if err != nil {
		return Recorded{}, &domain.RuleError{Field: "status", Rule: "known_status", Message: "is not a known status", Err: err}
	}
	ip, ua, err := checkClient(p.ClientIP, p.UserAgent)
	if err != nil {
		return Recorded{}, err
	}
	return Recorded{
		RequestID: p.RequestID, KeyID: p.KeyID, AccountID: p.AccountID,
		Provider: p.Provider, Model: p.Model, InputTokens: p.InputTokens, OutputTokens: p.OutputTokens,
		CostMicros: p.CostMicros, Status: st.String(), LatencyMs: p.LatencyMs, OccurredAt: now,
		Personal: RecordedPersonal{ClientIP: ip, UserAgent: ua},
	}, nil
}

// ReportErrorParams are the inputs of ReportError.
type ReportErrorParams struct {
	RequestID  string
	KeyID      uuid.UUID
	AccountID  uuid.UUID
	Provider   string
	Model      string
	Code       string // [a-z0-9_.]+
	HTTPStatus int    // 0 when none, else 100..599
	Detail     string // optional free text
	ClientIP   string
	UserAgent  string
}

// ReportError validates p and returns the usage.error_reported event; store it with id
// ErrorEventID(...).
func ReportError(p ReportErrorParams, now time.Time) (ErrorReported, error) {
	if err := checkRequest(p.RequestID, p.KeyID, p.AccountID, p.Provider, p.Model); err != nil {
		return ErrorReported{}, err
	}
	if p.Code == "" {
		return ErrorReported{}, domain.NewRuleError("code", "required", "is required")
	}
	if len(p.Code) > MaxCodeLen || strings.IndexFunc(p.Code, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.')
	}) >= 0 {
		return ErrorReported{}, domain.NewRuleError("code", "code_format", "must be a short lower-case machine code")
	}
	if p.HTTPStatus != 0 && (p.HTTPStatus < 100 || p.HTTPStatus > 599) {
		return ErrorReported{}, domain.NewRuleError("http_status", "http_status", "must be between 100 and 599")
	}
	if err := domain.CheckText("detail", p.Detail, 0, MaxDetailLen); err != nil {
		return ErrorReported{}, err
	}
	ip, ua, err := checkClient(p.ClientIP, p.UserAgent)
	if err != nil {
		return ErrorReported{}, err
	}
	return ErrorReported{
		RequestID: p.RequestID, KeyID: p.KeyID, AccountID: p.AccountID, Provider: p.Provider, Model: p.Model,
		Code: p.Code, HTTPStatus: p.HTTPStatus, OccurredAt: now,
		Personal: ErrorReportedPersonal{ClientIP: ip, UserAgent: ua, Detail: p.Detail},
	}, nil
}

func checkRequest(requestID string, keyID, accountID uuid.UUID, provider, model string) error {
	if requestID != strings.TrimSpace(requestID) {
		return domain.NewRuleError("request_id", "no_surrounding_space", "must not start or end with spaces")
	}
	if err := domain.CheckText("request_id", requestID, 1, MaxRequestIDLen); err != nil {
		return err
	}
	if keyID == uuid.Nil {
		return domain.NewRuleError("key_id", "required", "is required")
	}
	if accountID == uuid.Nil {
		return domain.NewRuleError("account_id", "required", "is required")
	}
	if err := domain.CheckText("provider", provider, 1, MaxProviderLen); err != nil {
		return err
	}
	return domain.CheckText("model", model, 1, MaxModelLen)
}

// checkClient canonicalises the client IP and bounds the user agent.
func checkClient(ip, ua string) (string, string, error) {
	if ip != "" {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return "", "", domain.NewRuleError("client_ip", "ip_address", "must be an IPv4 or IPv6 address")
		}
		ip = addr.Unmap().String()
	}
	if err := domain.CheckText("user_agent", ua, 0, MaxUserAgentLen); err != nil {
		return "", "", err
	}
	return ip, ua, nil
}
