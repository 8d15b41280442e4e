package domain

import (
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckText validates a free-text or identifier input: valid UTF-8, no control characters, and
// between min and max runes after trimming. It returns a *RuleError naming field, or nil.
func CheckText(field, s string, min, max int) error {
	n, ok := asciiTextLen(s)
	if !ok {
		return checkTextSlow(field, s, min, max)
	}
	if n < 0 {
		return NewRuleError(field, "no_control_chars", "must not contain control characters")
	}
	return checkLen(field, n, min, max)
}

// asciiTextLen is, for an all-ASCII s, its length once spaces are trimmed
// (-1 when it holds a control character); ok is false when s is not ASCII.
// Usage records carry four identifiers each, thousands per request: one
// pass here instead of four (validity, controls, trimming, rune count).
func asciiTextLen(s string) (n int, ok bool) {
	control := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return 0, false // the general path decides, UTF-8 validity first
		}
		control = control || c < 0x20 || c == 0x7f
	}
	if control {
		return -1, true
	}
	// the other ASCII spaces are control characters, refused above
	return len(strings.Trim(s, " ")), true
}

func checkTextSlow(field, s string, min, max int) error {
	if !utf8.ValidString(s) {
		return NewRuleError(field, "utf8", "must be valid UTF-8")
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return NewRuleError(field, "no_control_chars", "must not contain control characters")
	}
	return checkLen(field, utf8.RuneCountInString(strings.TrimSpace(s)), min, max)
}

func checkLen(field string, n, min, max int) error {
	if n < min {
		if min == 1 {
			return NewRuleError(field, "required", "is required")
		}
		return NewRuleError(field, "min_length", "is too short")
	}
	if n > max {
		return NewRuleError(field, "max_length", "is too long")
	}
	return nil
}

// IsSHA256Hex reports whether s is a lower-case hex SHA-256 (or HMAC-SHA-256) digest.
func IsSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Deref returns the value a non-nil pointer points to, or e itself, so that Apply methods accept
// events both as values and as pointers (decoders often hand back pointers).
func Deref(e any) any {
	v := reflect.ValueOf(e)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		return v.Elem().Interface()
	}
	return e
}
