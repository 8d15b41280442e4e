// Package httpapi is Ledgerline's REST API: routes under /v1 for every
// command and query, bearer-token roles, problem+json errors, read-your-writes
// positions, Prometheus metrics and the OpenAPI document (openapi.json, kept
// in step with the route table by a test).
//
// It must never log or echo personal data or submitted values, never hand a
// driver message to a caller, and never return decrypted personal data to an
// auditor or gateway token. Every staff read of decrypted personal data is
// recorded as an operator.personal_data_read event before the data leaves.
package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/adapters/httpapi/console"
	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Config configures New. Store, Codec, Commands, Reads and Tokens are required.
type Config struct {
	Store    eventstore.Store
	Codec    *eventstore.Codec
	Commands *commands.Service
	Reads    Reads
	Tokens   *TokenIndex

	// Logger receives the access log and internal errors (default slog.Default()).
	Logger *slog.Logger
	// AccessLog logs one line per request (route pattern, status, duration, request id).
	AccessLog bool
	// Version is reported by /healthz.
	Version string
	// Now is the clock (default time.Now); Rand the randomness of token secrets (default crypto/rand).
	Now  func() time.Time
	Rand io.Reader
	// ReadWait bounds how long a read with ?after= waits for the read model (default 2s).
	ReadWait time.Duration
	// Registry receives the HTTP metrics and is served at /metrics (default: a new
	// registry with the Go and process collectors).
	Registry *prometheus.Registry
	// Ready, when set, is checked by /healthz (e.g. the store answers Head).
	Ready func(ctx context.Context) error
	// CertificateKey is the public half of the key that signs deletion
	// certificates, served at /v1/certificates/public-key (none: 404).
	CertificateKey ed25519.PublicKey
}

// Server serves the API. Build it with New; it is an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	routes  []route
	handler http.Handler
	tokens  TokenWriter
	// authLimit limits failed authentications per source IP (ratelimit.go).
	authLimit *authLimiter
}

// New validates cfg and builds the routes.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("httpapi: Config.Store is required")
	case cfg.Codec == nil:
		return nil, errors.New("httpapi: Config.Codec is required")
	case cfg.Commands == nil:
		return nil, errors.New("httpapi: Config.Commands is required")
	case cfg.Tokens == nil:
		return nil, errors.New("httpapi: Config.Tokens is required")
	}
	if err := cfg.Reads.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.ReadWait <= 0 {
		cfg.ReadWait = 2 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = newRegistry()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, metrics: newMetrics(cfg.Registry),
		tokens: TokenWriter{Store: cfg.Store, Codec: cfg.Codec, Rand: cfg.Rand, Now: cfg.Now}, authLimit: newAuthLimiter(cfg.Now)}
	s.routes = s.routeTable()
	mux := http.NewServeMux()
	for i := range s.routes {
		rt := &s.routes[i]
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	// The web console: static files only (no token needed to load them); it calls /v1 like any client.
	mux.Handle("GET "+console.Prefix, console.Handler())
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeProblem(w, r, errNotFound())
	}))
	s.handler = s.outer(mux)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes lists the served routes as "METHOD /path" patterns, in table order.
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// routePatterns is Routes of a fresh table, for tests that need no dependencies.
func (s *Server) routePatterns() []string {
	out := []string{}
	for _, rt := range s.routeTable() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// route is one entry of the route table: what the mux serves, who may call
// it, and what the OpenAPI document says about it.
type route struct {
	method, path string
	op           string          // operationId
	summary      string          // one line
	tag          string          // OpenAPI tag
	roles        []operator.Role // nil: public, no token needed
	limit        int64           // body limit (default MaxBody)
	req          any             // request body type (zero value), nil when none
	resp         any             // success response body (zero value), nil when none
	status       int             // success status (default 200)
	query        []param         // documented query parameters
	personal     bool            // returns decrypted personal data: staff must give ?reason=
	write        bool            // returns a position (X-Ledgerline-Position)
	h            func(w http.ResponseWriter, r *http.Request) error
}

// param documents a query parameter.
type param struct {
	name, typ, desc string
	required        bool
}

// wrap applies the route's authentication, authorization and body limit.
func (s *Server) wrap(rt *route) http.Handler {
	pattern := rt.method + " " + rt.path
	limit := rt.limit
	if limit == 0 {
		limit = MaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		st.route = pattern
		if rt.roles != nil {
			secret := bearer(r)
			if secret == "" {
				s.writeProblem(w, r, errUnauthenticated())
				return
			}
			tok, ok := s.cfg.Tokens.Lookup(r.Context(), secret)
			if !ok {
				s.authFailed(w, r, secret)
				return
			}
			st.principal = &Principal{TokenID: tok.ID, Role: tok.Role, AccountID: tok.AccountID}
			if !roleIn(tok.Role, rt.roles) {
				s.writeProblem(w, r, errForbidden())
				return
			}
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if err := rt.h(w, r); err != nil {
			s.writeProblem(w, r, err)
		}
	})
}

func roleIn(r operator.Role, roles []operator.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// Role sets used by the route table.
var (
	rAdmin         = []operator.Role{operator.Admin}
	rStaff         = []operator.Role{operator.Admin, operator.Compliance}
	rAudit         = []operator.Role{operator.Admin, operator.Compliance, operator.Auditor}
	rGateway       = []operator.Role{operator.Admin, operator.Gateway}
	rAny           = operator.Roles()
	rOwnAdmin      = []operator.Role{operator.Admin, operator.Customer}
	rOwnStaff      = []operator.Role{operator.Admin, operator.Compliance, operator.Customer}
	rOwnAudit      = []operator.Role{operator.Admin, operator.Compliance, operator.Auditor, operator.Customer}
	rOwnAuditGw    = []operator.Role{operator.Admin, operator.Compliance, operator.Auditor, operator.Gateway, operator.Customer}
	rRegistrations = []operator.Role{operator.Admin, operator.Gateway}
)

// ownAccount refuses a customer token access to any account but its own.
func ownAccount(r *http.Request, accountID [16]byte) error {
	p := principalOf(r.Context())
	if p != nil && p.Role == operator.Customer && p.AccountID != accountID {
		return errForbidden()
	}
	return nil
}

// actorCtx carries the principal and request id into commands' event metadata.
func (s *Server) actorCtx(r *http.Request) context.Context {
	a := commands.Actor{RequestID: requestID(r.Context())}
	if p := principalOf(r.Context()); p != nil {
		a.ID, a.Role = p.Actor(), p.Role.String()
	}
	return commands.WithActor(r.Context(), a)
}

func (s *Server) meta(r *http.Request) eventstore.Metadata {
	m := eventstore.Metadata{RequestID: requestID(r.Context()), CorrelationID: requestID(r.Context())}
	if p := principalOf(r.Context()); p != nil {
		m.Actor, m.ActorRole = p.Actor(), p.Role.String()
	}
	return m
}
