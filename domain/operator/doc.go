// Package operator holds the rules of staff and service access to Ledgerline: operator tokens
// (bearer credentials with a role, issued and revoked as events; only their SHA-256 is stored)
// and the record of every staff read of decrypted personal data (who, whose, what, why, when).
//
// Like the rest of domain/, it is pure: no I/O, no clock, randomness only from a reader the
// caller passes.
package operator
