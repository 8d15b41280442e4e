package apikey

import (
	"errors"

	"github.com/ledgerline/ledgerline/domain"
)

// ErrUnknownValue is returned by the parsers for values outside a fixed set.
var ErrUnknownValue = errors.New("unknown value")

// Scope is a permission a key carries; callers cannot invent scopes.
type Scope struct{ s string }

// The fixed scopes.
var (
	ScopeInference   = Scope{"inference"}
	ScopeUsageRead   = Scope{"usage:read"}
	ScopeBillingRead = Scope{"billing:read"}
)

// Scopes lists every valid scope.
func Scopes() []Scope { return []Scope{ScopeInference, ScopeUsageRead, ScopeBillingRead} }

func (s Scope) String() string { return s.s }

// ParseScope maps a string to a Scope.
func ParseScope(s string) (Scope, error) { return domain.ParseEnum(ErrUnknownValue, s, Scopes()...) }

// RevokeReason is why a key was revoked.
type RevokeReason struct{ s string }

// The fixed revocation reasons.
var (
	RevokeUserRequest   = RevokeReason{"user_request"}
	RevokeCompromised   = RevokeReason{"compromised"}
	RevokeAccountClosed = RevokeReason{"account_closed"}
	RevokeAdmin         = RevokeReason{"admin"}
)

func (r RevokeReason) String() string { return r.s }

// ParseRevokeReason maps a string to a RevokeReason.
func ParseRevokeReason(s string) (RevokeReason, error) {
	return domain.ParseEnum(ErrUnknownValue, s, RevokeUserRequest, RevokeCompromised, RevokeAccountClosed, RevokeAdmin)
}
