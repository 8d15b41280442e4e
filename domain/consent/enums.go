package consent

import (
	"errors"

	"github.com/ledgerline/ledgerline/domain"
)

// ErrUnknownValue is returned by the parsers for values outside a fixed set.
var ErrUnknownValue = errors.New("unknown value")

// Purpose is what personal data is processed for; callers cannot invent purposes.
type Purpose struct{ s string }

// The fixed purposes.
var (
	Essential      = Purpose{"essential"}
	Functional     = Purpose{"functional"}
	Analytics      = Purpose{"analytics"}
	MarketingEmail = Purpose{"marketing_email"}
	Advertising    = Purpose{"advertising"}
)

// Purposes lists every purpose.
func Purposes() []Purpose {
	return []Purpose{Essential, Functional, Analytics, MarketingEmail, Advertising}
}

func (p Purpose) String() string { return p.s }

// ParsePurpose maps a string to a Purpose.
func ParsePurpose(s string) (Purpose, error) {
	return domain.ParseEnum(ErrUnknownValue, s, Purposes()...)
}

// Method is how a consent or acceptance was collected.
type Method struct{ s string }

// The fixed collection methods.
var (
	SignupForm   = Method{"signup_form"}
	SettingsPage = Method{"settings_page"}
	CookieBanner = Method{"cookie_banner"}
	API          = Method{"api"}
	Support      = Method{"support"}
)

func (m Method) String() string { return m.s }

// ParseMethod maps a string to a Method.
func ParseMethod(s string) (Method, error) {
	return domain.ParseEnum(ErrUnknownValue, s, SignupForm, SettingsPage, CookieBanner, API, Support)
}

// Channel is how a policy change was notified.
type Channel struct{ s string }

// The fixed notification channels.
var (
	ChannelEmail = Channel{"email"}
	ChannelInApp = Channel{"in_app"}
)

func (c Channel) String() string { return c.s }

// ParseChannel maps a string to a Channel.
func ParseChannel(s string) (Channel, error) {
	return domain.ParseEnum(ErrUnknownValue, s, ChannelEmail, ChannelInApp)
}

// Defaults is the consent state of a new account in jurisdiction j. Essential is always on and
// marketing email and advertising always off; where law requires opt-in (EU, UK) every other
// non-essential purpose is off too, elsewhere functional and analytics are on. An unknown
// (zero) jurisdiction gets the strictest defaults.
func Defaults(j domain.Jurisdiction) map[Purpose]bool {
	optIn := j.OptIn() || j.IsZero()
	return map[Purpose]bool{
		Essential:      true,
		Functional:     !optIn,
		Analytics:      !optIn,
		MarketingEmail: false,
		Advertising:    false,
	}
}
