package embedded

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
)

// TestReadStreamAcrossChunks checks every (from, limit) of streams long
// enough to seal several index chunks, written in batches that straddle
// chunk boundaries and interleaved with another stream, also after reopen.
func TestReadStreamAcrossChunks(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	sizes := []int{1, 30, 2, 31, 33, 64, 5, 1, 1, 40} // 208 events
	total := 0
	for _, n := range sizes {
		evs := make([]eventstore.Event, n)
		for i := range evs {
			evs[i] = ev("t.a", fmt.Sprintf(`{"v":%d}`, total+i+1))
		}
		if _, err := s.Append(bg, "long", eventstore.Exact(uint64(total)), evs...); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(bg, "other", eventstore.Any, ev("t.b", `{}`)); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	check := func(s *Store) {
		t.Helper()
		all, err := s.ReadAll(bg, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want []eventstore.Event
		for _, e := range all {
			if e.Stream == "long" {
				want = append(want, e)
			}
		}
		if len(want) != total {
			t.Fatalf("log holds %d events of the stream, want %d", len(want), total)
		}
		for from := 0; from <= total+1; from++ {
			for _, limit := range []int{0, 1, 31, 32, 33, 100} {
				got, err := s.ReadStream(bg, "long", uint64(from), limit)
				if err != nil {
					t.Fatalf("from %d limit %d: %v", from, limit, err)
				}
				start := max(from, 1) - 1
				end := total
				if limit > 0 {
					end = min(end, start+limit)
				}
				exp := want[min(start, total):max(end, min(start, total))]
				if len(got) != len(exp) {
					t.Fatalf("from %d limit %d: got %d events, want %d", from, limit, len(got), len(exp))
				}
				for i := range got {
					if got[i].Position != exp[i].Position || got[i].Version != exp[i].Version {
						t.Fatalf("from %d limit %d: event %d is v%d@%d, want v%d@%d", from, limit, i,
							got[i].Version, got[i].Position, exp[i].Version, exp[i].Position)
					}
				}
			}
		}
	}
	check(s)
	s.Close()
	s = openTest(t, dir)
	check(s)
	if res, err := s.Append(bg, "long", eventstore.Exact(uint64(total)), ev("t.a", `{}`)); err != nil || res.NextVersion != uint64(total)+1 {
		t.Fatalf("append after reopen: %+v %v", res, err)
	}
}

func TestIndexRecordsRoundTripAndRejectGarbage(t *testing.T) {
	h := streamHead{version: 70, tail: []uint64{1000, 1001, 5000, 1 << 40, 1<<40 + 1, 1<<40 + 9}}
	v := appendHead(nil, &h)
	if len(v) > maxHeadSize {
		t.Fatalf("head of %d bytes exceeds bound %d", len(v), maxHeadSize)
	}
	got, err := decodeHead(v, nil)
	if err != nil || got.version != 70 || fmt.Sprint(got.tail) != fmt.Sprint(h.tail) {
		t.Fatalf("head round trip: %+v %v", got, err)
	}
	for n := 0; n < len(v); n++ {
		if _, err := decodeHead(v[:n], nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("head truncated to %d bytes: %v", n, err)
		}
	}
	if _, err := decodeHead(appendPositions(appendHead(nil, &streamHead{version: 1}), []uint64{0}), nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("zero delta accepted: %v", err)
	}
	chunk := make([]uint64, chunkLen)
	for i := range chunk {
		chunk[i] = uint64(3*i + 7)
	}
	cv := appendPositions(nil, chunk)
	if got, err := decodeChunk(cv, nil); err != nil || fmt.Sprint(got) != fmt.Sprint(chunk) {
		t.Fatalf("chunk round trip: %v %v", got, err)
	}
	for _, bad := range [][]byte{cv[:len(cv)-1], append(append([]byte(nil), cv...), 1), nil} {
		if _, err := decodeChunk(bad, nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bad chunk accepted: %v", err)
		}
	}
}
