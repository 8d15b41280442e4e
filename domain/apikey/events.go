package apikey

import (
	"time"

	"github.com/google/uuid"
)

// Stable event type names.
const (
	TypeIssued  = "apikey.issued"
	TypeRotated = "apikey.rotated"
	TypeRevoked = "apikey.revoked"
	TypeExpired = "apikey.expired"
)

// Events returns one zero value of every event type of this package, for the registry.
func Events() []any { return []any{Issued{}, Rotated{}, Revoked{}, Expired{}} }

// Issued: a key was created. The secret itself is never part of it.
type Issued struct {
	KeyID      uuid.UUID      `json:"key_id"`
	AccountID  uuid.UUID      `json:"account_id"`
	Prefix     string         `json:"prefix"`      // "ll_" + first 8 characters of the secret body
	SecretHash string         `json:"secret_hash"` // HashSecret(secret)
	Scopes     []string       `json:"scopes"`
	ExpiresAt  *time.Time     `json:"expires_at,omitempty"`
	IssuedAt   time.Time      `json:"issued_at"`
	Personal   IssuedPersonal `json:"-"`
}

// IssuedPersonal is sealed with the account holder's key: a free-text label may name a person.
type IssuedPersonal struct {
	Name string `json:"name"`
}

// Rotated: the key got a new secret; the old hash no longer verifies.
type Rotated struct {
	KeyID             uuid.UUID `json:"key_id"`
	AccountID         uuid.UUID `json:"account_id"`
	Prefix            string    `json:"prefix"`
	SecretHash        string    `json:"secret_hash"`
	RetiredSecretHash string    `json:"retired_secret_hash"`
	RotatedAt         time.Time `json:"rotated_at"`
}

// Revoked: the key can never be used again.
type Revoked struct {
	KeyID     uuid.UUID `json:"key_id"`
	AccountID uuid.UUID `json:"account_id"`
	Reason    string    `json:"reason"`
	RevokedAt time.Time `json:"revoked_at"`
}

// Expired: the key reached its expiry time (recorded by a sweeper; Usable already refuses it).
type Expired struct {
	KeyID     uuid.UUID `json:"key_id"`
	AccountID uuid.UUID `json:"account_id"`
	ExpiredAt time.Time `json:"expired_at"`
}

func (Issued) EventType() string      { return TypeIssued }
func (e Issued) SubjectID() uuid.UUID { return e.AccountID }
func (Rotated) EventType() string     { return TypeRotated }
func (Revoked) EventType() string     { return TypeRevoked }
func (Expired) EventType() string     { return TypeExpired }
