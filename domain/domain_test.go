package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/domain"
)

var errSentinel = errors.New("sentinel")

func TestRuleError(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &domain.RuleError{Field: "birth_year", Rule: "min_age_13", Message: "too young", Err: errSentinel})
	cases := []struct {
		name   string
		target error
		want   bool
	}{
		{"ErrRule", domain.ErrRule, true},
		{"Sentinel", errSentinel, true},
		{"FieldAndRule", &domain.RuleError{Field: "birth_year", Rule: "min_age_13"}, true},
		{"FieldOnly", &domain.RuleError{Field: "birth_year"}, true},
		{"RuleOnly", &domain.RuleError{Rule: "min_age_13"}, true},
		{"OtherField", &domain.RuleError{Field: "email"}, false},
		{"OtherRule", &domain.RuleError{Field: "birth_year", Rule: "required"}, false},
		{"StateConflict", domain.ErrStateConflict, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := errors.Is(err, c.target); got != c.want {
				t.Fatalf("errors.Is = %v, want %v", got, c.want)
			}
		})
	}
	var re *domain.RuleError
	if !errors.As(err, &re) || re.Field != "birth_year" || !strings.Contains(err.Error(), "birth_year") {
		t.Fatal("errors.As")
	}
	if !errors.Is(domain.StateError("closed"), domain.ErrStateConflict) {
		t.Fatal("StateError must wrap ErrStateConflict")
	}
}

func TestCheckText(t *testing.T) {
	cases := []struct {
		name     string
		s        string
		min, max int
		rule     string
	}{
		{"OK", "hello", 1, 10, ""},
		{"OKEmptyOptional", "", 0, 10, ""},
		{"Required", "  ", 1, 10, "required"},
		{"MinLength", "a", 2, 10, "min_length"},
		{"MaxLengthCountsRunes", "ééé", 1, 2, "max_length"},
		{"RunesNotBytes", "éé", 1, 2, ""},
		{"Control", "a\nb", 0, 10, "no_control_chars"},
		{"UTF8", "a\xffb", 0, 10, "utf8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := domain.CheckText("f", c.s, c.min, c.max)
			if c.rule == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, &domain.RuleError{Field: "f", Rule: c.rule}) {
				t.Fatalf("error = %v, want rule %s", err, c.rule)
			}
		})
	}
}

func TestJurisdiction(t *testing.T) {
	cases := []struct {
		in   string
		want domain.Jurisdiction
		ok   bool
	}{
		{"EU", domain.EU, true}, {"uk", domain.UK, true}, {"us-ca", domain.USCA, true}, {"OTHER", domain.Other, true},
		{"US", domain.Jurisdiction{}, false}, {"", domain.Jurisdiction{}, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := domain.ParseJurisdiction(c.in)
			if (err == nil) != c.ok || got != c.want {
				t.Fatalf("ParseJurisdiction(%q) = %v, %v", c.in, got, err)
			}
		})
	}
	if !domain.EU.OptIn() || !domain.UK.OptIn() || domain.USCA.OptIn() || domain.Other.OptIn() {
		t.Fatal("OptIn")
	}
}

func TestIsSHA256Hex(t *testing.T) {
	if !domain.IsSHA256Hex(strings.Repeat("0f", 32)) || domain.IsSHA256Hex(strings.Repeat("0F", 32)) || domain.IsSHA256Hex("00") {
		t.Fatal("IsSHA256Hex")
	}
}

func TestDeref(t *testing.T) {
	type ev struct{ A int }
	if domain.Deref(&ev{1}) != any(ev{1}) || domain.Deref(ev{2}) != any(ev{2}) || domain.Deref((*ev)(nil)) != any((*ev)(nil)) {
		t.Fatal("Deref")
	}
}
