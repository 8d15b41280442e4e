package usage

import (
	"time"

	"github.com/google/uuid"
)

// Stable event type names.
const (
	TypeRecorded      = "usage.recorded"
	TypeErrorReported = "usage.error_reported"
)

// Events returns one zero value of every event type of this package, for the registry.
func Events() []any { return []any{Recorded{}, ErrorReported{}} }

// Recorded: one gateway request was served (or failed) and may be billed.
type Recorded struct {
	RequestID    string           `json:"request_id"`
	KeyID        uuid.UUID        `json:"key_id"`
	AccountID    uuid.UUID        `json:"account_id"`
	Provider     string           `json:"provider"`
	Model        string           `json:"model"`
	InputTokens  int64            `json:"input_tokens"`
	OutputTokens int64            `json:"output_tokens"`
	CostMicros   int64            `json:"cost_micros"`
	Status       string           `json:"status"`
	LatencyMs    int64            `json:"latency_ms"`
	OccurredAt   time.Time        `json:"occurred_at"`
	Personal     RecordedPersonal `json:"-"`
}

// RecordedPersonal is sealed with the account holder's key.
type RecordedPersonal struct {
	ClientIP  string `json:"client_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// ErrorReported: an error the gateway reports for service improvement.
type ErrorReported struct {
	RequestID  string                `json:"request_id"`
	KeyID      uuid.UUID             `json:"key_id"`
	AccountID  uuid.UUID             `json:"account_id"`
	Provider   string                `json:"provider"`
	Model      string                `json:"model"`
	Code       string                `json:"code"` // machine code, e.g. "upstream_timeout"
	HTTPStatus int                   `json:"http_status"`
	OccurredAt time.Time             `json:"occurred_at"`
	Personal   ErrorReportedPersonal `json:"-"`
}

// ErrorReportedPersonal is sealed: a free-text detail may quote the caller's input.
type ErrorReportedPersonal struct {
	ClientIP  string `json:"client_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

func (Recorded) EventType() string           { return TypeRecorded }
func (e Recorded) SubjectID() uuid.UUID      { return e.AccountID }
func (e Recorded) EventID() uuid.UUID        { return EventID(e.KeyID, e.RequestID) }
func (ErrorReported) EventType() string      { return TypeErrorReported }
func (e ErrorReported) SubjectID() uuid.UUID { return e.AccountID }
func (e ErrorReported) EventID() uuid.UUID   { return ErrorEventID(e.KeyID, e.RequestID) }
