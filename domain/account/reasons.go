package account

import "errors"

// ErrUnknownReason is returned by the reason parsers for values outside the fixed set.
var ErrUnknownReason = errors.New("unknown reason")

// SuspendReason is why an account was suspended; callers cannot invent values.
type SuspendReason struct{ s string }

// The fixed suspension reasons.
var (
	SuspendFraud      = SuspendReason{"fraud"}
	SuspendAbuse      = SuspendReason{"abuse"}
	SuspendNonPayment = SuspendReason{"non_payment"}
	SuspendSecurity   = SuspendReason{"security"}
	SuspendCompliance = SuspendReason{"compliance"}
)

func (r SuspendReason) String() string { return r.s }

// ParseSuspendReason maps a stored or submitted string to a SuspendReason.
func ParseSuspendReason(s string) (SuspendReason, error) {
	for _, r := range []SuspendReason{SuspendFraud, SuspendAbuse, SuspendNonPayment, SuspendSecurity, SuspendCompliance} {
		if r.s == s {
			return r, nil
		}
	}
	return SuspendReason{}, ErrUnknownReason
}

// CloseReason is why an account was closed; callers cannot invent values.
type CloseReason struct{ s string }

// The fixed closure reasons.
var (
	CloseCustomerRequest = CloseReason{"customer_request"}
	CloseErasureRequest  = CloseReason{"erasure_request"}
	CloseFraud           = CloseReason{"fraud"}
	CloseInactivity      = CloseReason{"inactivity"}
	CloseAdmin           = CloseReason{"admin"}
)

func (r CloseReason) String() string { return r.s }

// ParseCloseReason maps a stored or submitted string to a CloseReason.
func ParseCloseReason(s string) (CloseReason, error) {
	for _, r := range []CloseReason{CloseCustomerRequest, CloseErasureRequest, CloseFraud, CloseInactivity, CloseAdmin} {
		if r.s == s {
			return r, nil
		}
	}
	return CloseReason{}, ErrUnknownReason
}
