package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ledgerline/ledgerline/eventstore"
)

// ErrCorrupt reports a stored record that cannot be decoded: the file was
// damaged or written by something else. It never means a caller mistake.
var ErrCorrupt = errors.New("embedded: corrupt record")

// codecV1 is the first byte of every stored event; bump it (and keep decoding
// the old one) if the layout ever changes.
const codecV1 byte = 1

// Stored event layout (v1). Integers are (u)varints, so small numbers stay
// small; the eight string fields are stored as one block after their lengths
// so decoding turns them into Go strings with one allocation.
//
//	byte      format (codecV1)
//	uvarint   position, version
//	varint    schema, recorded_at (Unix microseconds)
//	[16]byte  id
//	[32]byte  prev_hash, hash
//	uvarint×8 lengths of stream, type, subject, correlation, causation,
//	          actor, actor_role, request_id
//	bytes     those eight strings, concatenated
//	uvarint   len(data), then data
//	uvarint   len(sealed), then sealed
const numStrings = 8

func stringFields(e *eventstore.Event) [numStrings]string {
	return [numStrings]string{e.Stream, e.Type, e.Subject,
		e.Meta.CorrelationID, e.Meta.CausationID, e.Meta.Actor, e.Meta.ActorRole, e.Meta.RequestID}
}

// encodedSize is an upper bound of the stored size of e, so the encoder can
// write into a buffer sized once.
func encodedSize(e *eventstore.Event) int {
	n := 1 + 2*binary.MaxVarintLen64 + 2*binary.MaxVarintLen64 + 16 + 64
	for _, s := range stringFields(e) {
		n += binary.MaxVarintLen32 + len(s)
	}
	return n + 2*binary.MaxVarintLen64 + len(e.Data) + len(e.Sealed)
}

// appendEvent appends the stored form of e to buf.
func appendEvent(buf []byte, e *eventstore.Event) []byte {
	buf = append(buf, codecV1)
	buf = binary.AppendUvarint(buf, e.Position)
	buf = binary.AppendUvarint(buf, e.Version)
	buf = binary.AppendVarint(buf, int64(e.Schema))
	buf = binary.AppendVarint(buf, e.RecordedAt.UnixMicro())
	buf = append(buf, e.ID[:]...)
	buf = append(buf, e.PrevHash[:]...)
	buf = append(buf, e.Hash[:]...)
	strs := stringFields(e)
	for _, s := range strs {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
	}
	for _, s := range strs {
		buf = append(buf, s...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(e.Data)))
	buf = append(buf, e.Data...)
	buf = binary.AppendUvarint(buf, uint64(len(e.Sealed)))
	return append(buf, e.Sealed...)
}

// reader walks a stored value; the first failure sticks, so callers check
// err once at the end (or before trusting a length).
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", ErrCorrupt, what, r.off)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.off += n
	return v
}

// next returns the following n bytes without copying.
func (r *reader) next(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail(what + " truncated")
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

// header reads everything up to and including the string block.
func (r *reader) header(e *eventstore.Event) (block []byte, lens [numStrings]uint64) {
	if len(r.b) == 0 || r.b[0] != codecV1 {
		r.fail("unknown format")
		return nil, lens
	}
	r.off = 1
	e.Position = r.uvarint("position")
	e.Version = r.uvarint("version")
	schema := r.varint("schema")
	micros := r.varint("recorded_at")
	copy(e.ID[:], r.next(16, "id"))
	copy(e.PrevHash[:], r.next(32, "prev_hash"))
	copy(e.Hash[:], r.next(32, "hash"))
	var total uint64
	for i := range lens {
		lens[i] = r.uvarint("string length")
		if lens[i] > math.MaxInt32 {
			r.fail("string length")
		}
		total += lens[i]
	}
	block = r.next(total, "strings")
	if r.err != nil {
		return nil, lens
	}
	switch {
	case e.Position == 0:
		r.fail("zero position")
	case e.Version == 0:
		r.fail("zero version")
	case schema < 1 || schema > math.MaxInt32:
		r.fail("schema out of range")
	case micros < -(1<<62) || micros > 1<<62:
		r.fail("recorded_at out of range")
	}
	e.Schema = int(schema)
	e.RecordedAt = time.UnixMicro(micros).UTC()
	return block, lens
}

// decoder turns stored values into events. It carves small payloads out of
// shared chunks, so a page of events costs a few allocations instead of one
// per event. The zero value is ready to use; it is not safe for concurrent use.
type decoder struct {
	chunk []byte
}

const (
	chunkSize     = 32 << 10
	maxChunkedLen = 2 << 10
)

// own copies b into memory the caller may keep (the bolt value dies with the
// transaction). The result's capacity is capped so appending to it never
// touches a neighbour.
func (d *decoder) own(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(b) > maxChunkedLen {
		return append([]byte(nil), b...)
	}
	if cap(d.chunk)-len(d.chunk) < len(b) {
		d.chunk = make([]byte, 0, chunkSize)
	}
	start := len(d.chunk)
	d.chunk = append(d.chunk, b...)
	return d.chunk[start:len(d.chunk):len(d.chunk)]
}

// decode fills e from a stored value, copying everything it keeps. A
// truncated or garbled value is an ErrCorrupt error, never a panic.
func (d *decoder) decode(e *eventstore.Event, val []byte) error {
	r := reader{b: val}
	block, lens := r.header(e)
	data := r.next(r.uvarint("data length"), "data")
	sealed := r.next(r.uvarint("sealed length"), "sealed")
	if r.err == nil && r.off != len(val) {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return r.err
	}
	var strs [numStrings]string
	all := string(block)
	off := uint64(0)
	for i, n := range lens {
		strs[i] = all[off : off+n]
		off += n
	}
	e.Stream, e.Type, e.Subject = strs[0], strs[1], strs[2]
	e.Meta = eventstore.Metadata{CorrelationID: strs[3], CausationID: strs[4], Actor: strs[5], ActorRole: strs[6], RequestID: strs[7]}
	e.Data = d.own(data)
	e.Sealed = d.own(sealed)
	return nil
}

// decodeEvent decodes one stored value.
func decodeEvent(val []byte) (eventstore.Event, error) {
	var (
		d decoder
		e eventstore.Event
	)
	err := d.decode(&e, val)
	return e, err
}

// dataOffset locates the data payload inside a stored value (for TamperData).
func dataOffset(val []byte) (off, n int, err error) {
	var e eventstore.Event
	r := reader{b: val}
	r.header(&e)
	size := r.uvarint("data length")
	start := r.off
	r.next(size, "data")
	if r.err != nil {
		return 0, 0, r.err
	}
	return start, int(size), nil
}
