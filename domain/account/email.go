package account

import (
	"strings"
	"unicode"
)

// NormaliseEmail returns the form of an address that is hashed for fraud prevention, so that
// trivial variants of one mailbox share one hash: trimmed and lower-cased, a trailing dot of the
// domain dropped, "+tag" removed from the local part, and for Gmail the dots removed and
// googlemail.com mapped to gmail.com. It must agree byte for byte with eventstore.EmailHash's
// normalisation, or a returning person could claim new-user credits twice.
func NormaliseEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	local, host := s[:at], strings.TrimSuffix(s[at+1:], ".")
	// A local part that starts with '+' is kept whole: there is no mailbox left to tag.
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if host == "googlemail.com" {
		host = "gmail.com"
	}
	if host == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + host
}

// plausibleEmail is a syntax check, not a deliverability check: one @, a non-empty local part of
// at most 64 bytes, a dotted domain of non-empty labels, no spaces or control characters.
func plausibleEmail(s string) bool {
	if len(s) < 3 || len(s) > 254 || strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		return false
	}
	local, host, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(host, "@") || local == "" || len(local) > 64 {
		return false
	}
	if !strings.Contains(host, ".") {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
	}
	return true
}
