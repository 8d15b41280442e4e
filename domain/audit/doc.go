// Package audit holds the events auditors rely on beyond the hash chain
// itself: signed chain checkpoints, statements "the log's head was at this
// position with this hash at this time", signed with the keyring's Ed25519
// key and recorded in the log so that a later rewrite of anything before
// them is caught by `ledgerline audit verify`.
//
// Like the rest of domain/, it is pure: no I/O, no clock (the signing time is
// passed in), and it never holds personal data.
package audit
