package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// split cuts a binary COPY stream at row boundaries (null and empty fields
// included) into complete streams that hold every row once, in order.
func TestUsageCopySplit(t *testing.T) {
	var rows [][]byte
	for i := range 5 {
		r := binary.BigEndian.AppendUint16(nil, 3)
		r = binary.BigEndian.AppendUint32(r, 8)
		r = binary.BigEndian.AppendUint64(r, uint64(i))
		r = binary.BigEndian.AppendUint32(r, math.MaxUint32) // NULL
		r = binary.BigEndian.AppendUint32(r, uint32(i))      // i bytes, 0 the first time
		r = append(r, bytes.Repeat([]byte{0xff}, i)...)      // 0xffff inside data is not a trailer
		rows = append(rows, r)
	}
	stream := append([]byte(nil), copyHeader...)
	for _, r := range rows {
		stream = append(stream, r...)
	}
	stream = binary.BigEndian.AppendUint16(stream, math.MaxUint16)

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
}
