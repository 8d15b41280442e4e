package domain

import (
	"errors"
	"strings"
)

// ErrUnknownJurisdiction is returned by ParseJurisdiction for a code outside the fixed set.
var ErrUnknownJurisdiction = errors.New("unknown jurisdiction")

// Jurisdiction is the privacy regime an account lives under. It decides consent defaults and
// data-subject request deadlines. The zero value is "not given"; callers cannot invent others.
type Jurisdiction struct{ code string }

// The fixed set of jurisdictions.
var (
	EU    = Jurisdiction{"EU"}
	UK    = Jurisdiction{"UK"}
	USCA  = Jurisdiction{"US-CA"}
	Other = Jurisdiction{"other"}
)

// Jurisdictions lists every valid jurisdiction.
func Jurisdictions() []Jurisdiction { return []Jurisdiction{EU, UK, USCA, Other} }

// ParseJurisdiction accepts a code case-insensitively ("eu", "US-CA", "Other").
func ParseJurisdiction(s string) (Jurisdiction, error) {
	for _, j := range Jurisdictions() {
		if strings.EqualFold(strings.TrimSpace(s), j.code) {
			return j, nil
		}
	}
	return Jurisdiction{}, ErrUnknownJurisdiction
}

func (j Jurisdiction) String() string { return j.code }

// IsZero reports whether j was never set.
func (j Jurisdiction) IsZero() bool { return j.code == "" }

// OptIn reports whether non-essential processing needs prior opt-in consent there
// (EU and UK law: ePrivacy/GDPR).
func (j Jurisdiction) OptIn() bool { return j == EU || j == UK }
