// Package usage decides the gateway's usage records and error reports. It is stateless: each
// request becomes one event whose id is derived from the key id and the gateway's request id
// (EventID), so the store's idempotent append drops a repeat at any age.
//
// It must never do I/O or read a clock, and it keeps personal data (client IP, user agent, error
// detail) only in an event's Personal field.
package usage
