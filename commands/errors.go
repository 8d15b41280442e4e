package commands

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Sentinels the HTTP layer maps to statuses; check with errors.Is (see Classify).
var (
	// ErrValidation is matched by every *ValidationError (422).
	ErrValidation = errors.New("commands: invalid command")
	// ErrNotFound: the command addresses an aggregate that does not exist (404). It is
	// domain.ErrNotFound, so domain errors match it too.
	ErrNotFound = domain.ErrNotFound
	// ErrConflict: the command is not allowed in the current state, or a concurrency conflict
	// outlasted the retries (409). It is domain.ErrStateConflict.
	ErrConflict = domain.ErrStateConflict
	// ErrUnavailable: the store or the vault is unreachable (503).
	ErrUnavailable = eventstore.ErrUnavailable
	// ErrUnknownCommand: Dispatch got a type no handler is registered for (a programming error).
	ErrUnknownCommand = errors.New("commands: unknown command type")
)

// FieldViolation names one invalid input field (its JSON name), the rule it broke and a message
// for humans. The message never repeats the submitted value, which may be personal data.
type FieldViolation struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// ValidationError lists the fields of a command that broke validation or domain rules.
// errors.Is(err, ErrValidation) and errors.Is(err, domain.ErrRule) hold for it.
type ValidationError struct {
	Command string
	Fields  []FieldViolation
	cause   error // the domain rule error, when the domain raised it
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s (%s)", f.Field, f.Message, f.Rule))
	}
	return "commands: invalid " + e.Command + ": " + strings.Join(parts, "; ")
}

// Unwrap lets errors.Is match ErrValidation and domain.ErrRule.
// When a domain rule raised it, its sentinel (e.g. account.ErrUnderAge) matches too.
func (e *ValidationError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrValidation, e.cause}
	}
	return []error{ErrValidation, domain.ErrRule}
}

// Has reports whether field broke rule ("" matches any rule).
func (e *ValidationError) Has(field, rule string) bool {
	for _, f := range e.Fields {
		if f.Field == field && (rule == "" || f.Rule == rule) {
			return true
		}
	}
	return false
}

// Class is the kind of failure of a command, for mapping to a transport status.
type Class int

// The classes; the comment names the HTTP status the API uses.
const (
	ClassOK          Class = iota // 200/201
	ClassValidation               // 422 problem+json with the field violations
	ClassNotFound                 // 404
	ClassConflict                 // 409 (also: the subject was erased)
	ClassUnavailable              // 503 (retry later)
	ClassInternal                 // 500 "internal error" with the correlation id
)

// Classify maps an error returned by Dispatch to its Class.
func Classify(err error) Class {
	switch {
	case err == nil:
		return ClassOK
	case errors.Is(err, ErrValidation), errors.Is(err, domain.ErrRule):
		return ClassValidation
	case errors.Is(err, ErrNotFound), errors.Is(err, eventstore.ErrNotFound):
		return ClassNotFound
	case errors.Is(err, ErrConflict), errors.Is(err, eventstore.ErrConcurrency), errors.Is(err, eventstore.ErrKeyShredded):
		return ClassConflict
	case errors.Is(err, ErrUnavailable), errors.Is(err, eventstore.ErrClosed):
		return ClassUnavailable
	}
	return ClassInternal
}

// ruleToValidation turns a domain rule error into the field-level shape of validation errors.
func ruleToValidation(command string, err error) error {
	var re *domain.RuleError
	if !errors.As(err, &re) {
		return err
	}
	return &ValidationError{Command: command, Fields: []FieldViolation{{Field: re.Field, Rule: re.Rule, Message: re.Message}}, cause: err}
}

// ruleErr builds a single-field validation error raised by a handler itself.
func ruleErr(field, rule, msg string) error { return domain.NewRuleError(field, rule, msg) }
