package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Problem is an RFC 9457 application/problem+json body. Detail and field
// messages never carry submitted values, personal data or driver messages.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem names a request field, the rule it broke and a message for
// humans; it never repeats the submitted value.
type FieldProblem struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Error lets handlers return a ready problem.
func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// problemTypeBase prefixes the type URIs of Ledgerline's problems; each is
// documented in docs/api.md.
const problemTypeBase = "https://ledgerline.dev/problems/"

func problem(status int, kind, title, detail string) *Problem {
	return &Problem{Type: problemTypeBase + kind, Title: title, Status: status, Detail: detail}
}

func fieldProblem(status int, field, rule, message string) *Problem {
	p := problem(status, "invalid-request", "invalid request", "one or more fields are invalid")
	if status == http.StatusUnprocessableEntity {
		p = problem(status, "validation", "validation failed", "one or more fields break a rule")
	}
	p.Errors = []FieldProblem{{Field: field, Rule: rule, Message: message}}
	return p
}

// Common problems.
var (
	errUnauthenticated = func() *Problem {
		return problem(http.StatusUnauthorized, "unauthenticated", "unauthenticated", "a valid bearer token is required")
	}
	errForbidden = func() *Problem {
		return problem(http.StatusForbidden, "forbidden", "forbidden", "this token's role may not do this")
	}
	errNotFound = func() *Problem {
		return problem(http.StatusNotFound, "not-found", "not found", "no such resource")
	}
)

// writeProblem writes err as problem+json. Errors the mapping does not know
// become a 500 "internal error" naming only the request id; the cause is
// logged by type and message (messages of Ledgerline's packages never hold
// personal data or submitted values).
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := s.mapError(r.Context(), err)
	if p == nil {
		s.log.Error("internal error", "request_id", requestID(r.Context()), "route", routeOf(r.Context()), "err", err.Error())
		p = problem(http.StatusInternalServerError, "internal", "internal error",
			"an unexpected error occurred; quote the request id when reporting it")
	}
	out := *p
	out.RequestID = requestID(r.Context())
	out.Instance = instanceOf(r)
	switch out.Status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="ledgerline"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(out.Status)
	_ = json.NewEncoder(w).Encode(out)
}

// instanceOf is the problem's "instance": the path template of the matched
// route (e.g. "/v1/accounts/{account_id}"), never the request's own path,
// which may carry personal data a caller put where an id belongs. Requests no
// route matched get none.
func instanceOf(r *http.Request) string {
	pattern := r.Pattern
	if st := stateOf(r.Context()); st != nil && st.route != "" {
		pattern = st.route // set by the route wrapper; also seen by the outer panic handler
	}
	if pattern == "" || pattern == "/" {
		return "" // the catch-all: no route matched
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// mapError is the one place that turns errors into problems (nil: unknown).
// Domain- and command-specific errors are added by mapDomainError.
func (s *Server) mapError(ctx context.Context, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return problem(http.StatusRequestEntityTooLarge, "too-large", "request body too large",
			"the body exceeds "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
	case errors.Is(err, errNotCaughtUp):
		return problem(http.StatusServiceUnavailable, "not-caught-up", "read model not caught up",
			"the read model has not reached the requested position yet; retry shortly")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return problem(http.StatusServiceUnavailable, "timeout", "timed out", "the request did not complete in time; retry")
	}
	return mapDomainError(err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// logAttrs are the fields every access log line carries; never a path with
// ids, a query string, a body or a header value.
func logAttrs(ctx context.Context, status int, ms float64) []any {
	return []any{"request_id", requestID(ctx), "route", routeOf(ctx), "status", status, "ms", ms}
}
