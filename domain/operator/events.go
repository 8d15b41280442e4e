package operator

import (
	"time"

	"github.com/google/uuid"
)

// Stable event type names.
const (
	TypeTokenIssued      = "operator.token_issued"
	TypeTokenRevoked     = "operator.token_revoked"
	TypePersonalDataRead = "operator.personal_data_read"
)

// TokensStream holds every token event. Tokens are few, and one stream lets issuing and revoking
// check the whole set under one expected version (e.g. "create an admin only if none is active").
const TokensStream = "operator-tokens"

// AccessStream is the stream of staff reads of one data subject's personal data.
func AccessStream(subject uuid.UUID) string { return "dataaccess-" + subject.String() }

// Events returns one zero value of every event type of this package, for the registry.
func Events() []any { return []any{TokenIssued{}, TokenRevoked{}, PersonalDataRead{}} }

// TokenIssued: a bearer token was created. The secret is never part of it.
type TokenIssued struct {
	TokenID    uuid.UUID  `json:"token_id"`
	Role       string     `json:"role"`
	AccountID  uuid.UUID  `json:"account_id,omitzero"` // customer tokens only: the one account it may see
	SecretHash string     `json:"secret_hash"`         // HashSecret(secret)
	Prefix     string     `json:"prefix"`              // "llt_" + first 8 characters of the secret body
	IssuedBy   string     `json:"issued_by"`           // issuing token id, or "bootstrap" / "cli"
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	IssuedAt   time.Time  `json:"issued_at"`
}

// TokenRevoked: the token no longer authenticates.
type TokenRevoked struct {
	TokenID   uuid.UUID `json:"token_id"`
	RevokedBy string    `json:"revoked_by"`
	RevokedAt time.Time `json:"revoked_at"`
}

// PersonalDataRead: a staff member read decrypted personal data of a subject. It holds ids and a
// stated reason, never the data that was read.
type PersonalDataRead struct {
	ReaderTokenID uuid.UUID `json:"reader_token_id"`
	ReaderRole    string    `json:"reader_role"`
	Subject       uuid.UUID `json:"subject_id"`
	What          string    `json:"what"`   // a ReadKind
	Reason        string    `json:"reason"` // why, as stated by the reader (a ticket reference, not personal data)
	RequestID     string    `json:"request_id,omitempty"`
	ReadAt        time.Time `json:"read_at"`
}

func (TokenIssued) EventType() string      { return TypeTokenIssued }
func (TokenRevoked) EventType() string     { return TypeTokenRevoked }
func (PersonalDataRead) EventType() string { return TypePersonalDataRead }
