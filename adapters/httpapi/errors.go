package httpapi

import (
	"errors"
	"net/http"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// mapDomainError maps the errors of commands, the domain, projections and
// the store to problems; nil means "unknown" (a 500). Details come from
// fixed texts or from domain state messages, which never hold values.
func mapDomainError(err error) *Problem {
	var (
		ve *commands.ValidationError
		re *domain.RuleError
	)
	switch {
	case errors.As(err, &ve):
		p := problem(http.StatusUnprocessableEntity, "validation", "validation failed", "one or more fields break a rule")
		for _, f := range ve.Fields {
			p.Errors = append(p.Errors, FieldProblem{Field: f.Field, Rule: f.Rule, Message: f.Message})
		}
		return p
	case errors.As(err, &re):
		return fieldProblem(http.StatusUnprocessableEntity, re.Field, re.Rule, re.Message)
	case errors.Is(err, projections.ErrNotCaughtUp):
		return problem(http.StatusServiceUnavailable, "not-caught-up", "read model not caught up",
			"the read model has not reached the requested position yet; retry shortly")
	case errors.Is(err, projections.ErrNotFound), errors.Is(err, domain.ErrNotFound), errors.Is(err, eventstore.ErrNotFound):
		return errNotFound()
	case errors.Is(err, domain.ErrStateConflict):
		return problem(http.StatusConflict, "conflict", "conflict", stateMessage(err))
	case errors.Is(err, eventstore.ErrConcurrency):
		return problem(http.StatusConflict, "conflict", "conflict", "a concurrent change won; reload and retry")
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, eventstore.ErrClosed):
		return problem(http.StatusServiceUnavailable, "unavailable", "service unavailable", "the store is unavailable; retry shortly")
	}
	return nil
}

// stateMessage finds the domain's own words for a state conflict (made by
// domain.StateError: "<what>: not allowed in the current state").
func stateMessage(err error) string {
	for e := err; e != nil; {
		if errors.Unwrap(e) == domain.ErrStateConflict {
			return e.Error()
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		case interface{ Unwrap() []error }:
			var next error
			for _, x := range u.Unwrap() {
				if errors.Is(x, domain.ErrStateConflict) {
					next = x
					break
				}
			}
			e = next
		default:
			e = nil
		}
	}
	return "not allowed in the current state"
}
