package embedded

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// The stream index maps (stream, version) to a global position. A B-tree
// entry per event would make every commit rewrite one index page per stream
// it touched: with 64 writers on 64 streams that was 64 of the ~90 pages a
// commit wrote, and it cost four fifths of the committer's time. Instead:
//
//   - heads: stream → current version and the positions of the versions not
//     yet sealed (fewer than chunkLen). It is small and dense, so a batch on
//     many streams dirties few of its pages; the version check reads it too.
//   - streams: len(stream) | stream | big-endian chunk number → the positions
//     of chunkLen consecutive versions. Written once per chunkLen appends to
//     a stream, never rewritten.
//
// Positions are stored as a first value and increasing deltas (uvarints).

// chunkLen is the number of versions one sealed index chunk holds.
const chunkLen = 32

// streamHead is a stream's record in the heads bucket.
type streamHead struct {
	version uint64
	tail    []uint64 // positions of the last version%chunkLen versions
}

// sealed is the number of versions whose positions live in chunks.
func (h *streamHead) sealed() uint64 { return h.version - uint64(len(h.tail)) }

// maxHeadSize bounds an encoded head.
const maxHeadSize = binary.MaxVarintLen64 * (1 + chunkLen)

func appendHead(buf []byte, h *streamHead) []byte {
	buf = binary.AppendUvarint(buf, h.version)
	return appendPositions(buf, h.tail)
}

// decodeHead reads a head record into tail's storage; a missing record is a
// stream at version 0.
func decodeHead(v []byte, tail []uint64) (streamHead, error) {
	h := streamHead{tail: tail[:0]}
	if v == nil {
		return h, nil
	}
	r := reader{b: v}
	h.version = r.uvarint("stream version")
	h.tail = readPositions(&r, h.tail, int(h.version%chunkLen))
	if r.err == nil && r.off != len(v) {
		r.fail("trailing bytes in stream head")
	}
	if r.err != nil {
		return streamHead{}, r.err
	}
	return h, nil
}

func appendPositions(buf []byte, ps []uint64) []byte {
	var prev uint64
	for _, p := range ps {
		buf = binary.AppendUvarint(buf, p-prev)
		prev = p
	}
	return buf
}

// readPositions reads count strictly increasing positions.
func readPositions(r *reader, dst []uint64, count int) []uint64 {
	var prev uint64
	for range count {
		d := r.uvarint("position")
		if r.err != nil {
			return dst
		}
		if d == 0 || prev+d < prev {
			r.fail("position not increasing")
			return dst
		}
		prev += d
		dst = append(dst, prev)
	}
	return dst
}

func decodeChunk(v []byte, dst []uint64) ([]uint64, error) {
	r := reader{b: v}
	dst = readPositions(&r, dst[:0], chunkLen)
	if r.err == nil && r.off != len(v) {
		r.fail("trailing bytes in index chunk")
	}
	return dst, r.err
}

// streamKey is len(stream) | stream | big-endian n: the length prefix keeps a
// stream's keys together even when its name is a prefix of another's.
func streamKey(buf []byte, stream string, n uint64) []byte {
	buf = append(buf, byte(len(stream)))
	buf = append(buf, stream...)
	return binary.BigEndian.AppendUint64(buf, n)
}

// streamPositions resolves versions of one stream to positions, reading
// each chunk once. Versions must be asked for in increasing order.
type streamPositions struct {
	stream  string
	head    streamHead
	chunks  *bbolt.Bucket
	chunk   []uint64
	chunkNo uint64
	key     []byte
}

func (sp *streamPositions) position(v uint64) (uint64, error) {
	if v == 0 || v > sp.head.version {
		return 0, fmt.Errorf("embedded: stream %q has no version %d", sp.stream, v)
	}
	if v > sp.head.sealed() {
		return sp.head.tail[v-sp.head.sealed()-1], nil
	}
	c := (v - 1) / chunkLen
	if sp.chunk == nil || c != sp.chunkNo {
		sp.key = streamKey(sp.key[:0], sp.stream, c)
		val := sp.chunks.Get(sp.key)
		if val == nil {
			return 0, fmt.Errorf("%w: stream %q index chunk %d missing", ErrCorrupt, sp.stream, c)
		}
		var err error
		if sp.chunk, err = decodeChunk(val, sp.chunk); err != nil {
			return 0, fmt.Errorf("stream %q index chunk %d: %w", sp.stream, c, err)
		}
		sp.chunkNo = c
	}
	return sp.chunk[(v-1)%chunkLen], nil
}
