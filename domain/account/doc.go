// Package account is the customer account aggregate (registration, email change, rectification,
// suspension, closure, erasure marker) and the email-hash claim that gives new-user credits once
// per normalised email.
//
// It must never do I/O or read a clock, and it must never put personal data (email, name)
// anywhere but an event's Personal field; the email appears publicly only as its keyed hash,
// which the caller computes with the vault pepper. Errors never contain the submitted email.
package account
