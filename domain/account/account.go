package account

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// MinAge is the youngest age at which a person may register.
const MinAge = 13

// Sentinels; rule errors wrap them inside a *domain.RuleError.
var (
	ErrUnderAge        = errors.New("registrant is under 13")
	ErrAgeNotConfirmed = errors.New("age not confirmed")
	ErrInvalidEmail    = errors.New("invalid email")
	ErrClosed          = domain.StateError("account is closed")
	ErrErased          = domain.StateError("account is erased")
	ErrSuspended       = domain.StateError("account is suspended")
	ErrNotSuspended    = domain.StateError("account is not suspended")
	ErrNotRegistered   = fmt.Errorf("account: %w", domain.ErrNotFound)
)

// Stream is the name of an account's event stream.
func Stream(id uuid.UUID) string { return "account-" + id.String() }

type status int

const (
	statusNone status = iota
	statusActive
	statusSuspended
	statusClosed
	statusErased
)

// Account is the customer account aggregate. It keeps no personal data in memory: decisions
// need only the email hash and the status.
type Account struct {
	id           uuid.UUID
	version      uint64
	changes      []any
	status       status
	emailHash    string
	region       string
	jurisdiction domain.Jurisdiction
}

// RegisterParams are the inputs of Register. EmailHash is computed by the caller as
// HMAC-SHA-256(pepper, NormaliseEmail(Email)) in lower-case hex.
type RegisterParams struct {
	AccountID    uuid.UUID
	Email        string
	Name         string // optional
	EmailHash    string
	AgeConfirmed bool // the person confirmed being at least 13
	BirthYear    int  // optional; 0 when not declared
	Region       string
	Jurisdiction domain.Jurisdiction
}

// Register validates p and returns a new account with its Registered event recorded.
func Register(p RegisterParams, now time.Time) (*Account, error) {
	if err := checkAge(p.AgeConfirmed, p.BirthYear, now); err != nil {
		return nil, err
	}
	if p.AccountID == uuid.Nil {
		return nil, domain.NewRuleError("account_id", "required", "is required")
	}
	if err := checkEmail(p.Email, p.EmailHash); err != nil {
		return nil, err
	}
	if err := domain.CheckText("name", p.Name, 0, 200); err != nil {
		return nil, err
	}
	region := strings.ToUpper(strings.TrimSpace(p.Region))
	if region == "" {
		return nil, domain.NewRuleError("region", "required", "is required")
	}
	if !isCountryCode(region) {
		return nil, domain.NewRuleError("region", "iso3166_alpha2", "must be a two-letter country code")
	}
	if p.Jurisdiction.IsZero() {
		return nil, domain.NewRuleError("jurisdiction", "required", "is required")
	}
	a := &Account{}
	a.record(Registered{
		AccountID:    p.AccountID,
		EmailHash:    p.EmailHash,
		Region:       region,
		Jurisdiction: p.Jurisdiction.String(),
		AgeConfirmed: true,
		RegisteredAt: now,
		Personal:     RegisteredPersonal{Email: strings.TrimSpace(p.Email), Name: strings.TrimSpace(p.Name)},
	})
	return a, nil
}

// checkAge refuses a declared birth year that makes the person certainly younger than 13, and
// any registration without the age confirmation. A birth year that leaves the age ambiguous
// (12 or 13) relies on the confirmation.
func checkAge(confirmed bool, birthYear int, now time.Time) error {
	if birthYear != 0 {
		if birthYear < 1900 || birthYear > now.Year() {
			return domain.NewRuleError("birth_year", "valid_year", "must be a plausible year")
		}
		if now.Year()-birthYear < MinAge {
			return &domain.RuleError{Field: "birth_year", Rule: "min_age_13",
				Message: "registration requires an age of at least 13", Err: ErrUnderAge}
		}
	}
	if !confirmed {
		return &domain.RuleError{Field: "age_confirmed", Rule: "min_age_13",
			Message: "the person must confirm being at least 13", Err: ErrAgeNotConfirmed}
	}
	return nil
}

func checkEmail(email, hash string) error {
	email = strings.TrimSpace(email)
	if email == "" {
		return &domain.RuleError{Field: "email", Rule: "required", Message: "is required", Err: ErrInvalidEmail}
	}
	if !plausibleEmail(email) {
		return &domain.RuleError{Field: "email", Rule: "email_format", Message: "is not a plausible email address", Err: ErrInvalidEmail}
	}
	if !domain.IsSHA256Hex(hash) {
		return domain.NewRuleError("email_hash", "sha256_hex", "must be a lower-case hex HMAC-SHA-256")
	}
	return nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// Rehydrate rebuilds an account from its stream.
func Rehydrate(id uuid.UUID, history []any) *Account {
	a := &Account{id: id}
	for _, e := range history {
		a.Apply(e)
		a.version++
	}
	return a
}

// Apply changes state for one event; unknown events are ignored.
func (a *Account) Apply(e any) {
	switch e := domain.Deref(e).(type) {
	case Registered:
		a.id = e.AccountID
		a.status = statusActive
		a.emailHash = e.EmailHash
		a.region = e.Region
		a.jurisdiction, _ = domain.ParseJurisdiction(e.Jurisdiction)
	case EmailChanged:
		a.emailHash = e.EmailHash
	case Suspended:
		a.status = statusSuspended
	case Reinstated:
		a.status = statusActive
	case Closed:
		a.status = statusClosed
	case Erased:
		a.status = statusErased
	}
}

func (a *Account) record(e any) {
	a.Apply(e)
	a.changes = append(a.changes, e)
}

// ID returns the account id.
func (a *Account) ID() uuid.UUID { return a.id }

// Version is the number of events applied from history: the expected version for the next append.
func (a *Account) Version() uint64 { return a.version }

// Changes returns the events recorded since load, in order.
func (a *Account) Changes() []any { return a.changes }

// ClearChanges forgets recorded events once they are stored.
func (a *Account) ClearChanges() { a.changes = nil }

// EmailHash is the keyed hash of the current normalised email.
func (a *Account) EmailHash() string { return a.emailHash }

// Region is the account's ISO country code.
func (a *Account) Region() string { return a.region }

// Jurisdiction is the account's privacy regime.
func (a *Account) Jurisdiction() domain.Jurisdiction { return a.jurisdiction }

// Active reports whether the account is registered, not suspended, closed or erased.
func (a *Account) Active() bool { return a.status == statusActive }

// Suspended reports whether the account is suspended.
func (a *Account) Suspended() bool { return a.status == statusSuspended }

// Closed reports whether the account is closed or erased.
func (a *Account) Closed() bool { return a.status == statusClosed || a.status == statusErased }

// Erased reports whether the account's personal data was crypto-shredded.
func (a *Account) Erased() bool { return a.status == statusErased }

// mutable returns nil when the account exists and is neither closed nor erased.
func (a *Account) mutable() error {
	switch a.status {
	case statusNone:
		return ErrNotRegistered
	case statusClosed:
		return ErrClosed
	case statusErased:
		return ErrErased
	}
	return nil
}

// ChangeEmail replaces the email; emailHash is the caller-computed hash of the new address.
// Allowed while suspended (a person may always correct their data).
func (a *Account) ChangeEmail(email, emailHash string, now time.Time) error {
	if err := a.mutable(); err != nil {
		return err
	}
	if err := checkEmail(email, emailHash); err != nil {
		return err
	}
	if emailHash == a.emailHash {
		return domain.NewRuleError("email", "unchanged", "is the current address")
	}
	a.record(EmailChanged{AccountID: a.id, EmailHash: emailHash, ChangedAt: now,
		Personal: EmailChangedPersonal{Email: strings.TrimSpace(email)}})
	return nil
}

// RectifyParams lists profile corrections; nil fields stay as they are. RequestID links a
// privacy rectification request, if any.
type RectifyParams struct {
	Name      *string
	RequestID uuid.UUID
}

// Rectify corrects profile fields. Allowed while suspended.
func (a *Account) Rectify(p RectifyParams, now time.Time) error {
	if err := a.mutable(); err != nil {
		return err
	}
	if p.Name == nil {
		return domain.NewRuleError("fields", "required", "at least one field must be corrected")
	}
	if err := domain.CheckText("name", *p.Name, 0, 200); err != nil {
		return err
	}
	a.record(ProfileRectified{AccountID: a.id, Fields: []string{"name"}, RequestID: p.RequestID,
		RectifiedAt: now, Personal: ProfileRectifiedPersonal{Name: strings.TrimSpace(*p.Name)}})
	return nil
}

// Suspend stops an active account from using the service.
func (a *Account) Suspend(reason SuspendReason, now time.Time) error {
	if err := a.mutable(); err != nil {
		return err
	}
	if reason == (SuspendReason{}) {
		return domain.NewRuleError("reason", "required", "is required")
	}
	if a.status == statusSuspended {
		return ErrSuspended
	}
	a.record(Suspended{AccountID: a.id, Reason: reason.String(), SuspendedAt: now})
	return nil
}

// Reinstate ends a suspension.
func (a *Account) Reinstate(now time.Time) error {
	if err := a.mutable(); err != nil {
		return err
	}
	if a.status != statusSuspended {
		return ErrNotSuspended
	}
	a.record(Reinstated{AccountID: a.id, ReinstatedAt: now})
	return nil
}

// Close closes the account for good (active or suspended).
func (a *Account) Close(reason CloseReason, now time.Time) error {
	if err := a.mutable(); err != nil {
		return err
	}
	if reason == (CloseReason{}) {
		return domain.NewRuleError("reason", "required", "is required")
	}
	a.record(Closed{AccountID: a.id, Reason: reason.String(), ClosedAt: now})
	return nil
}

// Erase records the marker that the subject's data key has been shredded. It is allowed in any
// state but once: a closed account is normally erased after its grace period.
func (a *Account) Erase(requestID uuid.UUID, now time.Time) error {
	switch a.status {
	case statusNone:
		return ErrNotRegistered
	case statusErased:
		return ErrErased
	}
	a.record(Erased{AccountID: a.id, RequestID: requestID, ErasedAt: now})
	return nil
}
