package eventstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// EmailHash is the fraud fingerprint of an email address:
// hex(HMAC-SHA-256(pepper, normalised email)). It is public data in events
// and outlives erasure, so it must never be computable without the pepper,
// a keyring secret (Keyring.Pepper) that never enters the event store. Two
// spellings of one mailbox (case, spaces, +tags, Gmail dots) hash alike.
func EmailHash(pepper []byte, email string) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(normaliseEmail(email)))
	return hex.EncodeToString(m.Sum(nil))
}

// normaliseEmail maps the spellings of one mailbox onto one string: trimmed,
// lower-case, the +tag of the local part dropped, and for Gmail the dots of
// the local part dropped and googlemail.com folded into gmail.com.
func normaliseEmail(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	local, domain := e[:at], strings.TrimSuffix(e[at+1:], ".")
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}
