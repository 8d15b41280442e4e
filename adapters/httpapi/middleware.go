package httpapi

import (
	"context"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/operator"
)

type ctxKey int

const stateKey ctxKey = 1

// reqState travels in the request context from the outermost middleware to
// the route handler, which fills in the route and principal.
type reqState struct {
	id        string
	route     string // the route pattern, e.g. "GET /v1/accounts/{id}"; "unmatched" when none
	principal *Principal
}

// Principal is the authenticated caller.
type Principal struct {
	TokenID   uuid.UUID
	Role      operator.Role
	AccountID uuid.UUID // customer tokens only
}

// Actor is how the principal appears in event metadata: an id and a role, never a name.
func (p *Principal) Actor() string { return "token:" + p.TokenID.String() }

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey).(*reqState)
	return st
}

func requestID(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

func routeOf(ctx context.Context) string {
	if st := stateOf(ctx); st != nil && st.route != "" {
		return st.route
	}
	return "unmatched"
}

func principalOf(ctx context.Context) *Principal {
	if st := stateOf(ctx); st != nil {
		return st.principal
	}
	return nil
}

// validRequestID accepts a caller's X-Request-Id when it is short and made of
// safe characters, so it can be logged and stored without escaping.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// statusWriter remembers the status for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// outer is the outermost middleware: request id, panic recovery, metrics and
// the access log.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &reqState{id: r.Header.Get("X-Request-Id")}
		if !validRequestID(st.id) {
			st.id = newRequestID()
		}
		w.Header().Set("X-Request-Id", st.id)
		r = r.WithContext(context.WithValue(r.Context(), stateKey, st))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		s.metrics.inflight.Inc()
		defer func() {
			s.metrics.inflight.Dec()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// the panic value may hold anything: log its type and the stack only
				s.log.Error("panic", "request_id", st.id, "route", routeOf(r.Context()), "value_type", typeName(v), "stack", string(debug.Stack()))
				if !sw.wrote {
					s.writeProblem(sw, r, problem(http.StatusInternalServerError, "internal", "internal error",
						"an unexpected error occurred; quote the request id when reporting it"))
				}
			}
			elapsed := time.Since(start)
			s.metrics.observe(r.Method, routeOf(r.Context()), sw.status, elapsed)
			if s.cfg.AccessLog {
				s.log.Info("http", logAttrs(r.Context(), sw.status, float64(elapsed.Microseconds())/1000)...)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

func newRequestID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case error:
		return "error"
	}
	return "other"
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}
