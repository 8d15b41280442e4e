// Package billing is the per-account Ledger aggregate: credits granted, payments, refunds and
// disputes, with the rules that a processor reference is paid once per account and a refund never
// exceeds what was paid and not yet refunded or lost. Balances are computed by read models.
//
// Card data stays with the processor: events hold amounts (int64 micro-units), currency codes
// and processor references, never personal data. The package must never do I/O or read a clock.
package billing
