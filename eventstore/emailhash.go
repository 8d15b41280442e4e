package eventstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// EmailHash is the fraud fingerprint of an email address:
// hex(HMAC-SHA-256(pepper, email)). It is public data in events and outlives
// erasure, so it must never be computable without the pepper, a keyring
// secret (Keyring.Pepper) that never enters the event store. email must
// already be normalised (account.NormaliseEmail, the one place that knows
// which spellings are one mailbox), so that they all hash alike.
func EmailHash(pepper []byte, email string) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(email))
	return hex.EncodeToString(m.Sum(nil))
}
