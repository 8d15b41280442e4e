package eventstore

import (
	"bytes"
	"context"
)

// Finding is one place where a scan found a searched value. It never holds
// the value itself: Needle is its index in the list the caller passed.
type Finding struct {
	Store    string // e.g. "embedded data directory", "postgres"
	Location string // a file (and byte offset) or a table
	Needle   int    // index into the needles of the Scan call
}

// StoreScanner searches the raw storage of a backend (every file of a data
// directory, every table of a database schema) for byte strings: the proof,
// after an erasure, that no copy of a person's plaintext survived anywhere the
// application writes. Implementations must read everything they cover, not
// only what the application's queries would return, must be safe for
// concurrent use, and must never log or return the needles.
type StoreScanner interface {
	Scan(ctx context.Context, needles [][]byte) ([]Finding, error)
}

// ChunkMatcher finds needles in a byte stream read in chunks: it keeps the
// tail of the previous chunk so a needle spanning two chunks is found.
type ChunkMatcher struct {
	needles [][]byte
	maxLen  int
	tail    []byte
	offset  int64 // stream offset of tail[0]
	found   map[int]int64
}

// NewChunkMatcher returns a matcher for needles (empty ones are ignored).
func NewChunkMatcher(needles [][]byte) *ChunkMatcher {
	m := &ChunkMatcher{needles: needles, found: map[int]int64{}}
	for _, n := range needles {
		m.maxLen = max(m.maxLen, len(n))
	}
	return m
}

// Write feeds the next chunk of the stream.
func (m *ChunkMatcher) Write(p []byte) {
	if m.maxLen == 0 || len(p) == 0 {
		return
	}
	buf := append(m.tail, p...)
	for i, n := range m.needles {
		if len(n) == 0 {
			continue
		}
		if _, ok := m.found[i]; ok {
			continue
		}
		if j := bytes.Index(buf, n); j >= 0 {
			m.found[i] = m.offset + int64(j)
		}
	}
	keep := min(len(buf), m.maxLen-1)
	m.offset += int64(len(buf) - keep)
	m.tail = append(m.tail[:0:0], buf[len(buf)-keep:]...)
}

// Found returns, for every needle seen so far, the stream offset of its first
// occurrence.
func (m *ChunkMatcher) Found() map[int]int64 { return m.found }
