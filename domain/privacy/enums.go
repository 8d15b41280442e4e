package privacy

import (
	"errors"

	"github.com/ledgerline/ledgerline/domain"
)

// ErrUnknownValue is returned by the parsers for values outside a fixed set.
var ErrUnknownValue = errors.New("unknown value")

// Kind is the right a request exercises.
type Kind struct{ s string }

// The fixed request kinds.
var (
	Access        = Kind{"access"}
	Rectification = Kind{"rectification"}
	Erasure       = Kind{"erasure"}
)

func (k Kind) String() string { return k.s }

// ParseKind maps a string to a Kind.
func ParseKind(s string) (Kind, error) {
	return domain.ParseEnum(ErrUnknownValue, s, Access, Rectification, Erasure)
}

// Law is the statute whose deadlines a request follows.
type Law struct{ s string }

// The fixed laws.
var (
	GDPR = Law{"GDPR"}
	CCPA = Law{"CCPA"}
)

func (l Law) String() string { return l.s }

// ParseLaw maps a string to a Law.
func ParseLaw(s string) (Law, error) { return domain.ParseEnum(ErrUnknownValue, s, GDPR, CCPA) }

// LawFor is the law whose deadlines apply in a jurisdiction: CCPA in California, GDPR (or UK
// GDPR) elsewhere — the stricter timetable is the default where no statute applies.
func LawFor(j domain.Jurisdiction) Law {
	if j == domain.USCA {
		return CCPA
	}
	return GDPR
}

// Channel is how a request arrived.
type Channel struct{ s string }

// The fixed channels.
var (
	WebForm = Channel{"web_form"}
	Email   = Channel{"email"}
	API     = Channel{"api"}
	Support = Channel{"support"}
	// AccountClosure: the erasure that follows account closure after the grace period.
	AccountClosure = Channel{"account_closure"}
)

func (c Channel) String() string { return c.s }

// ParseChannel maps a string to a Channel.
func ParseChannel(s string) (Channel, error) {
	return domain.ParseEnum(ErrUnknownValue, s, WebForm, Email, API, Support, AccountClosure)
}

// ExtensionReason is why a deadline was extended.
type ExtensionReason struct{ s string }

// The fixed extension reasons (GDPR Art. 12(3): complexity and number of requests).
var (
	Complexity       = ExtensionReason{"complexity"}
	NumberOfRequests = ExtensionReason{"number_of_requests"}
)

func (r ExtensionReason) String() string { return r.s }

// ParseExtensionReason maps a string to an ExtensionReason.
func ParseExtensionReason(s string) (ExtensionReason, error) {
	return domain.ParseEnum(ErrUnknownValue, s, Complexity, NumberOfRequests)
}

// RejectReason is why a request was refused.
type RejectReason struct{ s string }

// The fixed rejection reasons.
var (
	IdentityNotVerified = RejectReason{"identity_not_verified"}
	ManifestlyUnfounded = RejectReason{"manifestly_unfounded"}
	Excessive           = RejectReason{"excessive"}
	NotApplicable       = RejectReason{"not_applicable"}
)

func (r RejectReason) String() string { return r.s }

// ParseRejectReason maps a string to a RejectReason.
func ParseRejectReason(s string) (RejectReason, error) {
	return domain.ParseEnum(ErrUnknownValue, s, IdentityNotVerified, ManifestlyUnfounded, Excessive, NotApplicable)
}

// Category is a kind of data a legal hold keeps.
type Category struct{ s string }

// The fixed data categories.
var (
	Payments   = Category{"payments"}
	TaxRecords = Category{"tax_records"}
	Usage      = Category{"usage"}
	Profile    = Category{"profile"}
)

func (c Category) String() string { return c.s }

// ParseCategory maps a string to a Category.
func ParseCategory(s string) (Category, error) {
	return domain.ParseEnum(ErrUnknownValue, s, Payments, TaxRecords, Usage, Profile)
}

// Basis is the legal ground of a hold.
type Basis struct{ s string }

// The fixed hold bases.
var (
	Dispute          = Basis{"dispute"}
	TaxRetention     = Basis{"tax_retention"}
	Litigation       = Basis{"litigation"}
	RegulatorRequest = Basis{"regulator_request"}
)

func (b Basis) String() string { return b.s }

// ParseBasis maps a string to a Basis.
func ParseBasis(s string) (Basis, error) {
	return domain.ParseEnum(ErrUnknownValue, s, Dispute, TaxRetention, Litigation, RegulatorRequest)
}
