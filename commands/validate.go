package commands

import (
	"errors"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/domain/privacy"
)

// enumRules are the custom validator tags backed by the domain's fixed value sets, with the
// message listing what is accepted.
var enumRules = map[string]struct {
	ok  func(string) bool
	msg string
}{
	"jurisdiction":     {func(s string) bool { _, err := domain.ParseJurisdiction(s); return err == nil }, "must be one of EU, UK, US-CA, other"},
	"suspend_reason":   {func(s string) bool { _, err := account.ParseSuspendReason(s); return err == nil }, "must be one of fraud, abuse, non_payment, security, compliance"},
	"close_reason":     {func(s string) bool { _, err := account.ParseCloseReason(s); return err == nil }, "must be one of customer_request, erasure_request, fraud, inactivity, admin"},
	"scope":            {func(s string) bool { _, err := apikey.ParseScope(s); return err == nil }, "must be one of inference, usage:read, billing:read"},
	"revoke_reason":    {func(s string) bool { _, err := apikey.ParseRevokeReason(s); return err == nil }, "must be one of user_request, compromised, account_closed, admin"},
	"usage_status":     {validUsageStatus, "must be one of ok, error, rate_limited, timeout, cancelled"},
	"processor":        {func(s string) bool { _, err := billing.ParseProcessor(s); return err == nil }, "must be one of stripe, paypal"},
	"dispute_outcome":  {func(s string) bool { _, err := billing.ParseDisputeOutcome(s); return err == nil }, "must be one of won, lost"},
	"purpose":          {func(s string) bool { _, err := consent.ParsePurpose(s); return err == nil }, "must be one of essential, functional, analytics, marketing_email, advertising"},
	"consent_method":   {func(s string) bool { _, err := consent.ParseMethod(s); return err == nil }, "must be one of signup_form, settings_page, cookie_banner, api, support"},
	"request_kind":     {func(s string) bool { _, err := privacy.ParseKind(s); return err == nil }, "must be one of access, rectification, erasure"},
	"request_channel":  {func(s string) bool { _, err := privacy.ParseChannel(s); return err == nil }, "must be one of web_form, email, api, support, account_closure"},
	"law":              {func(s string) bool { _, err := privacy.ParseLaw(s); return err == nil }, "must be one of GDPR, CCPA"},
	"extension_reason": {func(s string) bool { _, err := privacy.ParseExtensionReason(s); return err == nil }, "must be one of complexity, number_of_requests"},
	"reject_reason":    {func(s string) bool { _, err := privacy.ParseRejectReason(s); return err == nil }, "must be one of identity_not_verified, manifestly_unfounded, excessive, not_applicable"},
	"hold_category":    {func(s string) bool { _, err := privacy.ParseCategory(s); return err == nil }, "must be one of payments, tax_records, usage, profile"},
	"hold_basis":       {func(s string) bool { _, err := privacy.ParseBasis(s); return err == nil }, "must be one of dispute, tax_retention, litigation, regulator_request"},
}

// newValidator builds the one shared validator: required structs enforced, errors named by
// JSON field names, and the domain's enums as rules.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	for tag, r := range enumRules {
		ok := r.ok
		if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
			return ok(fl.Field().String())
		}); err != nil {
			panic(err) // a programming error in the table above
		}
	}
	return v
}

var validate = newValidator()

// validateCommand runs the struct rules of cmd and returns a *ValidationError or nil.
func validateCommand(name string, cmd any) error {
	err := validate.Struct(cmd)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return err // *validator.InvalidValidationError: not a struct, a programming error
	}
	out := &ValidationError{Command: name}
	for _, fe := range ves {
		out.Fields = append(out.Fields, FieldViolation{Field: fieldPath(fe), Rule: fe.Tag(), Message: violationMessage(fe)})
	}
	return out
}

// fieldPath is the JSON path below the command, e.g. "records[3].cost_micros".
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return fe.Field()
}

// message describes the broken rule without the submitted value.
func violationMessage(fe validator.FieldError) string {
	p := fe.Param()
	numeric := false
	switch fe.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		numeric = true
	}
	list := fe.Kind() == reflect.Slice || fe.Kind() == reflect.Map
	if r, ok := enumRules[fe.Tag()]; ok {
		return r.msg
	}
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "uuid", "uuid4", "uuid7":
		return "must be a UUID"
	case "min", "gte":
		switch {
		case numeric:
			return "must be " + p + " or greater"
		case list:
			return "must hold at least " + p + " items"
		}
		return "must be at least " + p + " characters long"
	case "max", "lte":
		switch {
		case numeric:
			return "must be " + p + " or less"
		case list:
			return "must hold at most " + p + " items"
		}
		return "must be at most " + p + " characters long"
	case "gt":
		return "must be greater than " + p
	case "len":
		if numeric {
			return "must be " + p
		}
		return "must be " + p + " characters long"
	case "oneof":
		return "must be one of [" + p + "]"
	case "alpha":
		return "must contain letters only"
	case "hexadecimal":
		return "must be hexadecimal"
	case "unique":
		return "must not contain duplicates"
	case "printascii":
		return "must contain printable ASCII characters only"
	}
	return "is invalid (" + fe.Tag() + ")"
}
