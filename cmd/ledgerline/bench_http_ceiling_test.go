package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// usageRow is a binary COPY row shaped as usageCopyColumns begins
// (position, id, stream, version), then a NULL and i bytes of 0xff (a
// trailer's bytes inside data are not a trailer).
func usageRow(i int) []byte {
	r := binary.BigEndian.AppendUint16(nil, 6)
	r = binary.BigEndian.AppendUint32(r, 8)
	r = binary.BigEndian.AppendUint64(r, uint64(100+i))
	r = binary.BigEndian.AppendUint32(r, 16)
	r = append(r, bytes.Repeat([]byte{byte(i + 1)}, 16)...)
	stream := fmt.Sprintf("usage-%d", i)
	r = binary.BigEndian.AppendUint32(r, uint32(len(stream)))
	r = append(r, stream...)
	r = binary.BigEndian.AppendUint32(r, 8)
	r = binary.BigEndian.AppendUint64(r, uint64(i+1))
	r = binary.BigEndian.AppendUint32(r, math.MaxUint32) // NULL
	r = binary.BigEndian.AppendUint32(r, uint32(i))      // i bytes, 0 the first time
	return append(r, bytes.Repeat([]byte{0xff}, i)...)
}

func copyStream(rows [][]byte) []byte {
	stream := append([]byte(nil), copyHeader...)
	for _, r := range rows {
		stream = append(stream, r...)
	}
	return binary.BigEndian.AppendUint16(stream, math.MaxUint16)
}

// split cuts a binary COPY stream at row boundaries (null and empty fields
// included) into complete streams that hold every row once, in order.
func TestUsageCopySplit(t *testing.T) {
	var rows [][]byte
	for i := range 5 {
		rows = append(rows, usageRow(i))
	}
	stream := copyStream(rows)
	u := &usageCopy{}
	if err := u.split(stream, 2); err != nil {
		t.Fatal(err)
	}
	if len(u.batches) != 3 || u.rows[0] != 2 || u.rows[1] != 2 || u.rows[2] != 1 {
		t.Fatalf("batches of %v rows", u.rows)
	}
	var got []byte
	for _, b := range u.batches {
		if !bytes.HasPrefix(b, copyHeader) || !bytes.HasSuffix(b, []byte{0xff, 0xff}) {
			t.Fatalf("batch is not a complete stream: % x", b)
		}
		got = append(got, b[len(copyHeader):len(b)-2]...)
	}
	if want := bytes.Join(rows, nil); !bytes.Equal(got, want) {
		t.Fatalf("rows differ:\n got % x\nwant % x", got, want)
	}
	if err := u.split(stream[:len(stream)-9], 2); err == nil {
		t.Fatal("a stream cut inside a row was accepted")
	}
	good := usageRow(1)
	bad := append([]byte(nil), good[:2+4+8]...) // the id field holds 15 bytes
	bad = binary.BigEndian.AppendUint32(bad, 15)
	bad = append(bad, good[2+4+8+4+1:]...)
	if err := (&usageCopy{}).split(copyStream([][]byte{bad}), 2); err == nil {
		t.Fatal("a row without a 16-byte id was accepted")
	}
}

// Each pass moves every row's position and version by passShift and gives
// its id the pass's mask, and changes nothing else.
func TestUsageCopyPasses(t *testing.T) {
	var rows [][]byte
	for i := range 5 {
		rows = append(rows, usageRow(i))
	}
	u := &usageCopy{}
	if err := u.split(copyStream(rows), 2); err != nil {
		t.Fatal(err)
	}
	u.advance()
	u.advance()
	k := 0
	for bi, b := range u.batches {
		if len(u.marks[bi]) != u.rows[bi] {
			t.Fatalf("batch %d: %d marks for %d rows", bi, len(u.marks[bi]), u.rows[bi])
		}
		for _, m := range u.marks[bi] {
			want := append([]byte(nil), rows[k]...)
			addUint64(want[2+4:], 2*passShift)
			id := want[2+4+8+4:]
			binary.BigEndian.PutUint64(id, binary.BigEndian.Uint64(id)^passMask(2))
			v := 2 + 4 + 8 + 4 + 16 + 4 + len(fmt.Sprintf("usage-%d", k)) + 4
			addUint64(want[v:], 2*passShift)
			row := b[m.pos-4-2 : int(m.pos)-4-2+len(want)]
			if !bytes.Equal(row, want) {
				t.Fatalf("row %d after two passes:\n got % x\nwant % x", k, row, want)
			}
			k++
		}
	}
	if k != len(rows) {
		t.Fatalf("marked %d rows of %d", k, len(rows))
	}
}
