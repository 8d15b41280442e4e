package operator

import (
	"errors"

	"github.com/ledgerline/ledgerline/domain"
)

// ErrUnknownValue is returned by the parsers for values outside a fixed set.
var ErrUnknownValue = errors.New("unknown value")

// Role is what a token may do; callers cannot invent roles.
type Role struct{ s string }

// The fixed roles.
var (
	Admin      = Role{"admin"}      // everything, including decrypted personal data (recorded)
	Compliance = Role{"compliance"} // privacy requests, holds, erasure, exports (recorded)
	Auditor    = Role{"auditor"}    // the log, the chain and public read models; never plaintext personal data
	Gateway    = Role{"gateway"}    // key verification and usage ingestion
	Customer   = Role{"customer"}   // one account's own data
)

// Roles lists every role.
func Roles() []Role { return []Role{Admin, Compliance, Auditor, Gateway, Customer} }

func (r Role) String() string { return r.s }

// IsZero reports whether r was never set.
func (r Role) IsZero() bool { return r.s == "" }

// Staff reports whether the role belongs to a person working for the operator, whose reads of
// decrypted personal data must be recorded.
func (r Role) Staff() bool { return r == Admin || r == Compliance || r == Auditor }

// ParseRole maps a string to a Role.
func ParseRole(s string) (Role, error) { return domain.ParseEnum(ErrUnknownValue, s, Roles()...) }

// ReadKind names what personal data a staff read returned.
type ReadKind struct{ s string }

// The fixed read kinds.
var (
	ReadProfile = ReadKind{"profile"}
	ReadExport  = ReadKind{"export"}
	ReadKeys    = ReadKind{"keys"}
	ReadRequest = ReadKind{"privacy_request"}
)

func (k ReadKind) String() string { return k.s }

// ParseReadKind maps a string to a ReadKind.
func ParseReadKind(s string) (ReadKind, error) {
	return domain.ParseEnum(ErrUnknownValue, s, ReadProfile, ReadExport, ReadKeys, ReadRequest)
}
