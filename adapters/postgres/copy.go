package postgres

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"time"
)

// Large batches reach PostgreSQL as one COPY in the binary format, which the
// committer writes itself from the planned rows. pgx's CopyFrom would box
// every one of the thirteen values in an interface and look up its encoder
// through the type map, row after row; on the usage ingestion path that was
// about a tenth of the server's CPU, taken from the PostgreSQL backend that
// shares the machine. The format is documented in the COPY reference
// ("Binary Format"); each value below is in its type's binary send format.

// copyEventsSQL names the columns in the order appendCopyRow writes them.
const copyEventsSQL = `COPY events (position, id, stream, version, type, schema, recorded_at, data, subject, sealed, meta, prev_hash, hash) FROM STDIN (FORMAT binary)`

const copyColumns = 13

// copySignature opens a binary COPY stream: the signature, a zero flags
// word and a zero-length header extension.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// encodeCopy writes the planned rows r as a complete binary COPY stream into
// dst (reused) and returns it.
func (r *rowArrays) encodeCopy(dst []byte) []byte {
	dst = append(dst[:0], copySignature...)
	dst = r.appendCopyRows(dst, 0, len(r.positions), pgTimestamp(r.recordedAt))
	return binary.BigEndian.AppendUint16(dst, math.MaxUint16) // trailer: -1
}

// appendCopyRows appends rows [from, to) of r in the binary COPY format;
// at is the batch's store time as appendTimestamp wants it.
func (r *rowArrays) appendCopyRows(dst []byte, from, to int, at int64) []byte {
	for i := from; i < to; i++ {
		dst = binary.BigEndian.AppendUint16(dst, copyColumns)
		dst = appendInt64(dst, r.positions[i])
		dst = appendField(dst, r.ids[i][:])
		dst = appendText(dst, r.streams[i])
		dst = appendInt64(dst, r.versions[i])
		dst = appendText(dst, r.types[i])
		dst = binary.BigEndian.AppendUint32(dst, 4)
		dst = binary.BigEndian.AppendUint32(dst, uint32(r.schemas[i]))
		dst = appendInt64(dst, at)
		dst = appendField(dst, r.data[i])
		if s := r.subjects[i]; s.Valid {
			dst = appendField(dst, s.Bytes[:])
		} else {
			dst = appendNull(dst)
		}
		dst = appendNullable(dst, r.sealed[i])
		dst = appendNullable(dst, r.meta[i])
		dst = appendField(dst, r.prevs[i])
		dst = appendField(dst, r.hashes[i])
	}
	return dst
}

// copyStream feeds a COPY in progress from plan: rows are encoded as their
// request is accepted and written to the pipe the COPY reads in chunks, so
// the server inserts while the committer is still hashing.
type copyStream struct {
	pw   *io.PipeWriter
	buf  []byte
	next int   // first row not yet encoded
	at   int64 // the batch's store time, binary
	err  error // first write error: the COPY ended; its own error tells why
}

// copyChunk is how much encoded data the stream gathers before a write.
const copyChunk = 64 << 10

// errCopyEnded closes the pipe once the COPY has returned, so a plan still
// writing is not blocked; errCopyAbandoned makes the COPY fail on purpose.
var (
	errCopyEnded     = errors.New("postgres: copy ended")
	errCopyAbandoned = errors.New("postgres: batch abandoned before commit")
)

func (c *copyStream) start(pw *io.PipeWriter, recordedAt time.Time) {
	c.pw, c.next, c.err = pw, 0, nil
	c.at = pgTimestamp(recordedAt)
	c.buf = append(c.buf[:0], copySignature...)
}

// add encodes the rows plan has added since the last call.
func (c *copyStream) add(r *rowArrays) {
	c.buf = r.appendCopyRows(c.buf, c.next, len(r.positions), c.at)
	c.next = len(r.positions)
	if len(c.buf) >= copyChunk {
		c.flush()
	}
}

func (c *copyStream) flush() {
	if c.err == nil && len(c.buf) > 0 {
		_, c.err = c.pw.Write(c.buf)
	}
	c.buf = c.buf[:0]
}

// finish writes the rest and the trailer and ends the stream.
func (c *copyStream) finish() {
	c.buf = binary.BigEndian.AppendUint16(c.buf, math.MaxUint16)
	c.flush()
	c.pw.Close()
}

// abandon makes the COPY fail, so the transaction writes nothing.
func (c *copyStream) abandon() {
	c.pw.CloseWithError(errCopyAbandoned)
}

// pgTimestamp is t as timestamptz's binary value. Store times are whole
// microseconds (eventstore.Now), so nothing is rounded here.
func pgTimestamp(t time.Time) int64 {
	return t.Unix()*1_000_000 + int64(t.Nanosecond()/1000) - pgEpochMicros
}

func appendInt64(dst []byte, v int64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, 8)
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

func appendField(dst, v []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

func appendText(dst []byte, v string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

// appendNullable writes nil as SQL NULL, as pgx does for a nil []byte.
func appendNullable(dst, v []byte) []byte {
	if v == nil {
		return appendNull(dst)
	}
	return appendField(dst, v)
}

func appendNull(dst []byte) []byte {
	return binary.BigEndian.AppendUint32(dst, math.MaxUint32) // length -1
}
