package account

import (
	"time"

	"github.com/google/uuid"
)

// Stable event type names.
const (
	TypeRegistered       = "account.registered"
	TypeEmailChanged     = "account.email_changed"
	TypeProfileRectified = "account.profile_rectified"
	TypeSuspended        = "account.suspended"
	TypeReinstated       = "account.reinstated"
	TypeClosed           = "account.closed"
	TypeErased           = "account.erased"
	TypeEmailHashClaimed = "account.email_hash_claimed"
)

// Events returns one zero value of every event type of this package, for the registry.
func Events() []any {
	return []any{
		Registered{}, EmailChanged{}, ProfileRectified{}, Suspended{}, Reinstated{},
		Closed{}, Erased{}, EmailHashClaimed{},
	}
}

// Registered: a person opened an account after confirming they are at least 13.
type Registered struct {
	AccountID    uuid.UUID          `json:"account_id"`
	EmailHash    string             `json:"email_hash"` // HMAC(pepper, NormaliseEmail(email)), hex
	Region       string             `json:"region"`     // ISO 3166-1 alpha-2 country code
	Jurisdiction string             `json:"jurisdiction"`
	AgeConfirmed bool               `json:"age_confirmed"`
	RegisteredAt time.Time          `json:"registered_at"`
	Personal     RegisteredPersonal `json:"-"`
}

// RegisteredPersonal is sealed with the subject's key.
type RegisteredPersonal struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

func (Registered) EventType() string            { return TypeRegistered }
func (e Registered) SubjectID() uuid.UUID       { return e.AccountID }
func (EmailChanged) EventType() string          { return TypeEmailChanged }
func (e EmailChanged) SubjectID() uuid.UUID     { return e.AccountID }
func (ProfileRectified) EventType() string      { return TypeProfileRectified }
func (e ProfileRectified) SubjectID() uuid.UUID { return e.AccountID }
func (Suspended) EventType() string             { return TypeSuspended }
func (Reinstated) EventType() string            { return TypeReinstated }
func (Closed) EventType() string                { return TypeClosed }
func (Erased) EventType() string                { return TypeErased }
func (EmailHashClaimed) EventType() string      { return TypeEmailHashClaimed }

// EmailChanged: the account's email address changed.
type EmailChanged struct {
	AccountID uuid.UUID            `json:"account_id"`
	EmailHash string               `json:"email_hash"` // hash of the new address
	ChangedAt time.Time            `json:"changed_at"`
	Personal  EmailChangedPersonal `json:"-"`
}

// EmailChangedPersonal is sealed with the subject's key.
type EmailChangedPersonal struct {
	Email string `json:"email"`
}

// ProfileRectified: profile fields were corrected, on the person's own initiative or on a
// rectification request.
type ProfileRectified struct {
	AccountID   uuid.UUID                `json:"account_id"`
	Fields      []string                 `json:"fields"`              // names of the corrected fields
	RequestID   uuid.UUID                `json:"request_id,omitzero"` // privacy request, if any
	RectifiedAt time.Time                `json:"rectified_at"`
	Personal    ProfileRectifiedPersonal `json:"-"`
}

// ProfileRectifiedPersonal is sealed with the subject's key.
type ProfileRectifiedPersonal struct {
	Name string `json:"name"`
}

// Suspended: the account may not use the service until reinstated.
type Suspended struct {
	AccountID   uuid.UUID `json:"account_id"`
	Reason      string    `json:"reason"`
	SuspendedAt time.Time `json:"suspended_at"`
}

// Reinstated: a suspension ended.
type Reinstated struct {
	AccountID    uuid.UUID `json:"account_id"`
	ReinstatedAt time.Time `json:"reinstated_at"`
}

// Closed: the account is closed for good; it accepts no further changes except erasure.
type Closed struct {
	AccountID uuid.UUID `json:"account_id"`
	Reason    string    `json:"reason"`
	ClosedAt  time.Time `json:"closed_at"`
}

// Erased marks that the subject's data key was shredded; public data only.
type Erased struct {
	AccountID uuid.UUID `json:"account_id"`
	RequestID uuid.UUID `json:"request_id,omitzero"`
	ErasedAt  time.Time `json:"erased_at"`
}

// EmailHashClaimed is the only event of stream EmailHashStream(hash): the first account to claim
// a normalised email. It survives erasure (it holds no personal data) and blocks a second
// new-user credit.
type EmailHashClaimed struct {
	EmailHash string    `json:"email_hash"`
	AccountID uuid.UUID `json:"account_id"`
	ClaimedAt time.Time `json:"claimed_at"`
}
