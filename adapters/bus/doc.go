// Package bus wires Ledgerline to watermill: a Publisher/Subscriber pair
// backed by the Ledgerline event store itself (durable, ordered, resumable per
// consumer group), transport constructors for the CQRS buses (in-process
// gochannel, NATS JetStream), the cross-node cache-invalidation broadcaster,
// and a PostgreSQL advisory-lock lease for singleton work such as projection
// runners.
//
// It must never be imported by domain/, eventstore/, commands/ or
// projections/: it is an adapter, wired only in cmd/ledgerline. It must never
// put personal data on a topic: messages become events whose data is public.
package bus
