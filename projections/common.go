package projections

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// ErrNotFound is returned by queries for an id the read model does not know.
var ErrNotFound = errors.New("projections: not found")

// SealedRef is what a read model keeps of a personal value: the parts of the
// envelope that carried it, still sealed. Queries open it with the codec, so
// a shredded subject's data is unreadable in every read model at once and no
// read model ever holds plaintext personal data.
type SealedRef struct {
	EventID uuid.UUID
	Type    string
	Schema  int
	Subject string
	Sealed  []byte
	Data    []byte
}

// RefOf keeps the sealed personal part of rec; nil when it has none.
func RefOf(rec Record) *SealedRef {
	if len(rec.Sealed) == 0 {
		return nil
	}
	return &SealedRef{EventID: rec.ID, Type: rec.Type, Schema: rec.Schema, Subject: rec.Subject, Sealed: rec.Sealed, Data: rec.Data}
}

// Open decodes the referenced event with its personal part. erased is true
// when the subject's key is shredded (payload then has no personal fields).
func (r *SealedRef) Open(ctx context.Context, codec *eventstore.Codec) (payload any, erased bool, err error) {
	d, err := codec.Decode(ctx, eventstore.Event{ID: r.EventID, Type: r.Type, Schema: r.Schema, Subject: r.Subject, Sealed: r.Sealed, Data: r.Data})
	if err != nil {
		return nil, false, err
	}
	return d.Payload, d.Erased, nil
}

// TS normalises a time the way every read model stores it: UTC, microsecond
// precision (PostgreSQL's), so both implementations answer identically.
func TS(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// TSP is TS for optional times.
func TSP(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := TS(*t)
	return &v
}

// Day is the UTC calendar day of t (midnight UTC).
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// MarshalRef encodes a sealed reference for storage (nil for nil):
// version 1 | event id (16) | schema (4) | len+type | len+subject | len+sealed | data.
func MarshalRef(r *SealedRef) []byte {
	if r == nil {
		return nil
	}
	b := make([]byte, 0, 1+16+4+6+len(r.Type)+len(r.Subject)+4+len(r.Sealed)+len(r.Data))
	b = append(b, 1)
	b = append(b, r.EventID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(r.Schema))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Type)))
	b = append(b, r.Type...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Subject)))
	b = append(b, r.Subject...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Sealed)))
	b = append(b, r.Sealed...)
	return append(b, r.Data...)
}

// UnmarshalRef decodes MarshalRef's output (nil for empty input).
func UnmarshalRef(b []byte) (*SealedRef, error) {
	if len(b) == 0 {
		return nil, nil
	}
	bad := errors.New("projections: malformed sealed reference")
	if b[0] != 1 || len(b) < 1+16+4+2 {
		return nil, bad
	}
	r := &SealedRef{}
	copy(r.EventID[:], b[1:17])
	r.Schema = int(binary.BigEndian.Uint32(b[17:21]))
	b = b[21:]
	str := func() (string, bool) {
		if len(b) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return "", false
		}
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s, true
	}
	var ok bool
	if r.Type, ok = str(); !ok {
		return nil, bad
	}
	if r.Subject, ok = str(); !ok {
		return nil, bad
	}
	if len(b) < 4 {
		return nil, bad
	}
	n := int(binary.BigEndian.Uint32(b))
	if len(b) < 4+n {
		return nil, bad
	}
	r.Sealed = append([]byte(nil), b[4:4+n]...)
	r.Data = append([]byte(nil), b[4+n:]...)
	return r, nil
}
