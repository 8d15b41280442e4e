// Package commands is Ledgerline's write side: one file per command (a struct with validator and
// JSON tags, and its handler), the Dispatcher that validates, retries on concurrency conflicts,
// logs and measures them, the policies that react to events (XOnY), and the watermill wiring
// (outbox relay, event processor, command bus).
//
// A handler loads aggregates from their streams, lets the domain decide, encodes the recorded
// events with the codec (which seals their personal part) and appends them with the expected
// version it loaded. Uniqueness across aggregates (one new-user credit per email hash, one
// payment per processor reference) is enforced by claim streams appended with "no stream".
//
// It must never import adapters, never log or return personal data (emails, names, secrets,
// submitted values), and never decide on personal data: aggregates are rebuilt from the public
// part of events only, so erased subjects load like any other.
package commands
