package embedded

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

func sampleEvent() eventstore.Event {
	e := eventstore.Event{
		ID: uuid.MustParse("0190f3a4-7b1c-7def-8123-456789abcdef"), Stream: "account-1", Version: 7, Position: 42,
		Type: "account.registered", Schema: 3, RecordedAt: time.UnixMicro(1_730_000_000_123_456).UTC(),
		Data: []byte(`{"region":"eu"}`), Subject: "01900000-0000-7000-8000-000000000001", Sealed: []byte{0, 1, 2, 255},
		Meta: eventstore.Metadata{CorrelationID: "corr", CausationID: "cause", Actor: "user-9", ActorRole: "admin", RequestID: "req"},
	}
	eventstore.Link(&e, eventstore.Hash{1, 2, 3}, nil)
	return e
}

func TestCodecRoundTrip(t *testing.T) {
	plain := sampleEvent()
	plain.Subject, plain.Sealed, plain.Meta = "", nil, eventstore.Metadata{}
	eventstore.Link(&plain, plain.PrevHash, nil)
	big := sampleEvent()
	big.Data = []byte(`"` + string(make([]byte, 5000)) + `"`)
	big.Schema = 1 << 30
	eventstore.Link(&big, big.PrevHash, nil)
	cases := []struct {
		name string
		e    eventstore.Event
	}{
		{"OK", sampleEvent()},
		{"NoPersonalPart", plain},
		{"LargeData", big},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			val := appendEvent(nil, &c.e)
			if len(val) > encodedSize(&c.e) {
				t.Fatalf("encoded %d bytes, size bound %d", len(val), encodedSize(&c.e))
			}
			got, err := decodeEvent(val)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.e) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c.e)
			}
			if h, _ := eventstore.ComputeHash(got.PrevHash, &got, nil); h != got.Hash {
				t.Fatal("hash does not recompute after a round trip")
			}
		})
	}
}

func TestDecodeOwnsItsMemory(t *testing.T) {
	e := sampleEvent()
	val := appendEvent(nil, &e)
	var d decoder
	var a, b eventstore.Event
	if err := d.decode(&a, val); err != nil {
		t.Fatal(err)
	}
	if err := d.decode(&b, val); err != nil {
		t.Fatal(err)
	}
	for i := range val {
		val[i] = 0xff // bolt reuses the page once the transaction ends
	}
	a.Data = append(a.Data, '!') // must not spill into b's chunk neighbour
	if string(b.Data) != string(e.Data) || b.Stream != e.Stream || string(b.Sealed) != string(e.Sealed) {
		t.Fatalf("decoded event aliases the stored value or its neighbour: %+v", b)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	e := sampleEvent()
	val := appendEvent(nil, &e)
	for n := 0; n < len(val); n++ {
		if _, err := decodeEvent(val[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: want ErrCorrupt, got %v", n, len(val), err)
		}
	}
	cases := []struct {
		name string
		val  []byte
	}{
		{"ErrUnknownFormat", append([]byte{9}, val[1:]...)},
		{"ErrTrailingBytes", append(append([]byte(nil), val...), 0)},
		{"ErrZeroPosition", func() []byte { z := e; z.Position = 0; return appendEvent(nil, &z) }()},
		{"ErrZeroSchema", func() []byte { z := e; z.Schema = 0; return appendEvent(nil, &z) }()},
		{"ErrHugeLength", append(append([]byte(nil), val[:1+1+1+1+binaryLen(e.RecordedAt.UnixMicro())+80]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := decodeEvent(c.val); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("want ErrCorrupt, got %v", err)
			}
		})
	}
}

func binaryLen(v int64) int {
	n := 0
	for u := uint64(v<<1) ^ uint64(v>>63); ; u >>= 7 {
		n++
		if u < 0x80 {
			return n
		}
	}
}

func TestDataOffset(t *testing.T) {
	e := sampleEvent()
	val := appendEvent(nil, &e)
	off, n, err := dataOffset(val)
	if err != nil || string(val[off:off+n]) != string(e.Data) {
		t.Fatalf("dataOffset = %d, %d, %v", off, n, err)
	}
}

func FuzzDecode(f *testing.F) {
	e := sampleEvent()
	f.Add(appendEvent(nil, &e))
	f.Add([]byte{})
	f.Add([]byte{codecV1})
	f.Fuzz(func(t *testing.T, val []byte) {
		got, err := decodeEvent(val)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		again, err := decodeEvent(appendEvent(nil, &got))
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("re-encode changed the event:\n%+v\n%+v", got, again)
		}
	})
}
