package consent

import (
	"time"

	"github.com/google/uuid"
)

// Stable event type names.
const (
	TypeDefaultsApplied        = "consent.defaults_applied"
	TypeGiven                  = "consent.given"
	TypeWithdrawn              = "consent.withdrawn"
	TypePolicyVersionPublished = "policy.version_published"
	TypePolicyAccepted         = "consent.policy_accepted"
	TypePolicyChangeNotified   = "consent.policy_change_notified"
)

// Events returns one zero value of every event type of this package, for the registry.
func Events() []any {
	return []any{DefaultsApplied{}, Given{}, Withdrawn{}, PolicyVersionPublished{}, PolicyAccepted{}, PolicyChangeNotified{}}
}

// DefaultsApplied records the starting consent state of an account, chosen by its jurisdiction.
type DefaultsApplied struct {
	AccountID     uuid.UUID       `json:"account_id"`
	Jurisdiction  string          `json:"jurisdiction"`
	Purposes      map[string]bool `json:"purposes"`
	PolicyVersion string          `json:"policy_version"`
	At            time.Time       `json:"at"`
}

// Given is the receipt of consent granted for one purpose.
type Given struct {
	AccountID     uuid.UUID `json:"account_id"`
	Purpose       string    `json:"purpose"`
	Granted       bool      `json:"granted"` // always true
	Method        string    `json:"method"`
	PolicyVersion string    `json:"policy_version"`
	Actor         string    `json:"actor"` // id of who acted (the account or a staff member)
	At            time.Time `json:"at"`
}

// Withdrawn is the receipt of consent withdrawn for one purpose.
type Withdrawn struct {
	AccountID     uuid.UUID `json:"account_id"`
	Purpose       string    `json:"purpose"`
	Granted       bool      `json:"granted"` // always false
	Method        string    `json:"method"`
	PolicyVersion string    `json:"policy_version"`
	Actor         string    `json:"actor"`
	At            time.Time `json:"at"`
}

// PolicyVersionPublished: a privacy policy version was published (stream PolicyStream).
type PolicyVersionPublished struct {
	Version     string    `json:"version"`
	Material    bool      `json:"material"`     // affected accounts must be notified
	ContentHash string    `json:"content_hash"` // SHA-256 of the published text
	EffectiveAt time.Time `json:"effective_at"`
	PublishedAt time.Time `json:"published_at"`
}

// PolicyAccepted: the account accepted a policy version.
type PolicyAccepted struct {
	AccountID     uuid.UUID `json:"account_id"`
	PolicyVersion string    `json:"policy_version"`
	Method        string    `json:"method"`
	Actor         string    `json:"actor"`
	At            time.Time `json:"at"`
}

// PolicyChangeNotified: the account was told about a material policy change.
type PolicyChangeNotified struct {
	AccountID     uuid.UUID `json:"account_id"`
	PolicyVersion string    `json:"policy_version"`
	Channel       string    `json:"channel"`
	At            time.Time `json:"at"`
}

func (DefaultsApplied) EventType() string        { return TypeDefaultsApplied }
func (Given) EventType() string                  { return TypeGiven }
func (Withdrawn) EventType() string              { return TypeWithdrawn }
func (PolicyVersionPublished) EventType() string { return TypePolicyVersionPublished }
func (PolicyAccepted) EventType() string         { return TypePolicyAccepted }
func (PolicyChangeNotified) EventType() string   { return TypePolicyChangeNotified }
