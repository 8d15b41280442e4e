// Package apikey is the API key aggregate: issue, rotate, revoke, expire, and the Usable rule the
// gateway applies on every request.
//
// A raw secret exists only in the return value of Issue and Rotate; events and state hold its
// SHA-256 and a short display prefix. The package must never do I/O, read a clock or draw
// randomness except from the reader the caller passes (crypto/rand.Reader in production), and
// holds personal data (the free-text key name) only in an event's Personal field.
package apikey
