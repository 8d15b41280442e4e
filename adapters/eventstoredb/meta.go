package eventstoredb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ledgerline/ledgerline/eventstore"
)

// envelopeMeta is the part of the Ledgerline envelope that has no place of its
// own in an EventStoreDB event (id, type and data map to EventID, EventType
// and Data). It travels as the event's user metadata.
type envelopeMeta struct {
	Stream     string
	Version    uint64
	Position   uint64
	Schema     int
	RecordedAt time.Time
	Subject    string
	Sealed     []byte
	Meta       eventstore.Metadata
	PrevHash   eventstore.Hash
	Hash       eventstore.Hash
}

// metaMagic starts the compact binary encoding ("LL", format 1). Length
// prefixes are uvarints; the two hashes are fixed 32 bytes at the end.
var metaMagic = [3]byte{'L', 'L', 1}

var errMeta = errors.New("eventstoredb: malformed envelope metadata")

func appendStr(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeMeta returns the compact encoding of m.
func encodeMeta(m *envelopeMeta) []byte {
	b := make([]byte, 0, 96+len(m.Stream)+len(m.Subject)+len(m.Sealed))
	b = append(b, metaMagic[:]...)
	b = binary.AppendUvarint(b, m.Position)
	b = binary.AppendUvarint(b, m.Version)
	b = binary.AppendUvarint(b, uint64(m.Schema))
	b = binary.AppendVarint(b, m.RecordedAt.UnixMicro())
	b = appendStr(b, []byte(m.Stream))
	b = appendStr(b, []byte(m.Subject))
	b = appendStr(b, m.Sealed)
	for _, s := range [...]string{m.Meta.CorrelationID, m.Meta.CausationID, m.Meta.Actor, m.Meta.ActorRole, m.Meta.RequestID} {
		b = appendStr(b, []byte(s))
	}
	b = append(b, m.PrevHash[:]...)
	return append(b, m.Hash[:]...)
}

type metaReader struct {
	b   []byte
	err error
}

func (r *metaReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errMeta
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errMeta
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) bytes(max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(r.b)) {
		r.err = errMeta
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *metaReader) hash() eventstore.Hash {
	var h eventstore.Hash
	if r.err != nil {
		return h
	}
	if len(r.b) < len(h) {
		r.err = errMeta
		return h
	}
	copy(h[:], r.b)
	r.b = r.b[len(h):]
	return h
}

// decodeMeta parses encodeMeta's output. It never panics on hostile input
// (the log stream can be written by other tools) and rejects trailing bytes.
func decodeMeta(b []byte) (envelopeMeta, error) {
	var m envelopeMeta
	if len(b) < len(metaMagic) || [3]byte(b[:3]) != metaMagic {
		return m, fmt.Errorf("%w: not a Ledgerline envelope (format)", errMeta)
	}
	r := metaReader{b: b[3:]}
	m.Position = r.uvarint()
	m.Version = r.uvarint()
	schema := r.uvarint()
	micros := r.varint()
	m.Stream = string(r.bytes(eventstore.MaxStreamLen))
	m.Subject = string(r.bytes(eventstore.MaxStreamLen))
	if sealed := r.bytes(eventstore.MaxSealedLen); len(sealed) > 0 {
		m.Sealed = append([]byte(nil), sealed...)
	}
	for _, f := range [...]*string{&m.Meta.CorrelationID, &m.Meta.CausationID, &m.Meta.Actor, &m.Meta.ActorRole, &m.Meta.RequestID} {
		*f = string(r.bytes(eventstore.MaxDataLen))
	}
	m.PrevHash = r.hash()
	m.Hash = r.hash()
	if r.err != nil {
		return envelopeMeta{}, r.err
	}
	if len(r.b) != 0 {
		return envelopeMeta{}, fmt.Errorf("%w: %d trailing bytes", errMeta, len(r.b))
	}
	if schema > math.MaxInt32 {
		return envelopeMeta{}, fmt.Errorf("%w: schema out of range", errMeta)
	}
	m.Schema = int(schema)
	m.RecordedAt = time.UnixMicro(micros).UTC()
	return m, nil
}

// metaOf takes the envelope fields of e.
func metaOf(e *eventstore.Event) envelopeMeta {
	return envelopeMeta{
		Stream: e.Stream, Version: e.Version, Position: e.Position, Schema: e.Schema,
		RecordedAt: e.RecordedAt, Subject: e.Subject, Sealed: e.Sealed, Meta: e.Meta,
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

// apply copies m's fields into e.
func (m *envelopeMeta) apply(e *eventstore.Event) {
	e.Stream, e.Version, e.Position, e.Schema = m.Stream, m.Version, m.Position, m.Schema
	e.RecordedAt, e.Subject, e.Sealed, e.Meta = m.RecordedAt, m.Subject, m.Sealed, m.Meta
	e.PrevHash, e.Hash = m.PrevHash, m.Hash
}
