// Package privacy holds data-subject requests (access, rectification, erasure) with their legal
// deadlines, legal holds that defer erasure, and the facts of erasure: subject key shredded,
// export produced, certificate issued.
//
// It must never do I/O or read a clock. Events hold ids, hashes, enum values and times; the only
// personal data (the free-text request details) lives in an event's Personal field.
package privacy
