package apikey

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	secretPrefix = "ll_"
	secretBytes  = 32
	// SecretLen is the length of a secret: "ll_" + unpadded base64url of 32 bytes.
	SecretLen = len(secretPrefix) + 43
	// PrefixLen is the length of the display prefix kept in events ("ll_" + 8 characters).
	PrefixLen = len(secretPrefix) + 8
)

// ErrRandomness: the caller's random source failed or was nil; no key was issued.
var ErrRandomness = errors.New("apikey: random source failed")

// HashSecret returns the lower-case hex SHA-256 of a secret: the only form that is stored and the
// key the gateway looks up.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// PrefixOf returns the display prefix of a secret.
func PrefixOf(secret string) string {
	if len(secret) < PrefixLen {
		return secret
	}
	return secret[:PrefixLen]
}

// WellFormed reports whether s has the shape of a Ledgerline secret, so that junk can be
// rejected before hashing and lookup.
func WellFormed(s string) bool {
	if len(s) != SecretLen || !strings.HasPrefix(s, secretPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(secretPrefix):])
	return err == nil
}

func newSecret(rand io.Reader) (string, error) {
	if rand == nil {
		return "", ErrRandomness
	}
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("%w: %w", ErrRandomness, err)
	}
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}
