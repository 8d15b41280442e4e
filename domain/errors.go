package domain

import (
	"errors"
	"fmt"
)

// Sentinels that every aggregate package wraps, so that one place can map them to a response.
var (
	// ErrRule is wrapped by every *RuleError: the input broke a validation rule (a 422 kind of error).
	ErrRule = errors.New("rule violated")
	// ErrNotFound: the command addresses an aggregate whose stream has no creating event.
	ErrNotFound = errors.New("not found")
	// ErrStateConflict: the command is valid in itself but not in the aggregate's current state
	// (a 409 kind of error), e.g. rotating a revoked key.
	ErrStateConflict = errors.New("not allowed in the current state")
)

// RuleError names the input field and the rule it broke. Message is for humans and never
// contains the submitted value (which may be personal data).
type RuleError struct {
	Field   string // snake_case name of the input field, e.g. "birth_year"
	Rule    string // stable machine name of the rule, e.g. "min_age_13"
	Message string
	Err     error // optional package sentinel, e.g. account.ErrUnderAge
}

// NewRuleError returns a *RuleError without a package sentinel.
func NewRuleError(field, rule, message string) *RuleError {
	return &RuleError{Field: field, Rule: rule, Message: message}
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%s: %s (%s)", e.Field, e.Message, e.Rule)
}

// Unwrap exposes ErrRule and the package sentinel, if any, to errors.Is.
func (e *RuleError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrRule, e.Err}
	}
	return []error{ErrRule}
}

// Is matches another *RuleError whose non-empty Field and Rule equal e's, so that
// errors.Is(err, &RuleError{Field: "email"}) asks "did the email field break a rule?".
func (e *RuleError) Is(target error) bool {
	t, ok := target.(*RuleError)
	if !ok {
		return false
	}
	return (t.Field == "" || t.Field == e.Field) && (t.Rule == "" || t.Rule == e.Rule)
}

// StateError returns a sentinel for a state conflict that wraps ErrStateConflict.
func StateError(msg string) error {
	return fmt.Errorf("%s: %w", msg, ErrStateConflict)
}

// Enum is a fixed-set value type (a struct with an unexported string) that
// callers cannot invent.
type Enum interface {
	comparable
	String() string
}

// ParseEnum returns the value of all whose String is s, or unknown (the
// calling package's sentinel) when there is none.
func ParseEnum[T Enum](unknown error, s string, all ...T) (T, error) {
	for _, v := range all {
		if v.String() == s {
			return v, nil
		}
	}
	var zero T
	return zero, unknown
}
