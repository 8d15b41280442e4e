// Package consent is the per-account Consents aggregate (consent given and withdrawn per purpose,
// each with a receipt: purpose, granted, time, collection method, policy version, actor), the
// jurisdiction-aware defaults, and the policy versions people accept and are notified about.
//
// Receipts hold ids and enum values only, never personal data; the package must never do I/O or
// read a clock. "What was consent on date X" is answered by replaying these events (read models).
package consent
