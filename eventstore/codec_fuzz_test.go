package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
)

// FuzzCodecDecode feeds arbitrary envelopes (type, schema, public data,
// sealed bytes) to Codec.Decode over a registry with an upcaster: it must
// never panic, a failure must be an error, and a success must hold the
// registered type with every upcast applied.
func FuzzCodecDecode(f *testing.F) {
	reg := eventstore.NewRegistry()
	if err := reg.Register(profileV2{}); err != nil {
		f.Fatal(err)
	}
	reg.AddUpcaster("test.profile", 1, func(data []byte) ([]byte, error) {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		if m == nil {
			return nil, errors.New("payload is not an object")
		}
		m["seats"] = m["seat_count"]
		delete(m, "seat_count")
		return json.Marshal(m)
	})
	subj := uuid.MustParse("01900000-0000-7000-8000-000000000001")
	codec, err := eventstore.NewCodec(reg, plainSealer{shredded: map[string]bool{subj.String(): true}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("test.profile", 2, []byte(`{"account":"01900000-0000-7000-8000-000000000002","plan":"pro","seats":3}`), []byte(`{"email":"a@b.c"}`), "")
	f.Add("test.profile", 1, []byte(`{"plan":"team","seat_count":7}`), []byte(nil), "")
	f.Add("test.profile", 1, []byte(`[1,2]`), []byte(nil), "")
	f.Add("test.profile", 0, []byte(`null`), []byte(`x`), subj.String())
	f.Add("test.profile", -5, []byte(`{"seat_count":"many"}`), []byte(`{"email":1}`), "")
	f.Add("unknown.type", 1, []byte(`{}`), []byte(nil), "")
	f.Add("test.profile", 99, []byte("\xff"), []byte("\x00"), "not-a-uuid")
	f.Fuzz(func(t *testing.T, typ string, schema int, data, sealed []byte, subject string) {
		ev := eventstore.Event{ID: uuid.New(), Type: typ, Schema: schema, Data: data, Sealed: sealed, Subject: subject, Position: 1}
		d, err := codec.Decode(context.Background(), ev)
		if err != nil {
			if typ != "test.profile" && !errors.Is(err, eventstore.ErrUnknownType) {
				t.Fatalf("unknown type %q: error %v does not match ErrUnknownType", typ, err)
			}
			return
		}
		p, ok := d.Payload.(profileV2)
		if !ok {
			t.Fatalf("payload %T", d.Payload)
		}
		if d.Erased && subject != subj.String() {
			t.Fatalf("erased for a subject whose key exists")
		}
		_ = p
		if _, err := codec.DecodePublic(ev); err != nil {
			t.Fatalf("Decode succeeded, DecodePublic failed: %v", err)
		}
	})
}

// FuzzDomainDecode decodes arbitrary public payloads as every event type
// Ledgerline registers (with their upcasters), sealed parts included, over a
// real vault sealer: never a panic.
func FuzzDomainDecode(f *testing.F) {
	reg, err := commands.NewRegistry()
	if err != nil {
		f.Fatal(err)
	}
	names := reg.Names()
	kr := eventstore.NewMemKeyring()
	codec, err := eventstore.NewCodec(reg, eventstore.NewSealer(eventstore.NewMemVault(kr), 0))
	if err != nil {
		f.Fatal(err)
	}
	for i := range names {
		f.Add(uint16(i), 1, []byte(`{}`), []byte(nil))
		f.Add(uint16(i), 0, []byte(`{"account_id":"01900000-0000-7000-8000-000000000002","amount_micros":-1}`), []byte("sealed"))
	}
	f.Add(uint16(0), 1<<30, []byte(`{"a":`), []byte(nil))
	f.Fuzz(func(t *testing.T, which uint16, schema int, data, sealed []byte) {
		ev := eventstore.Event{ID: uuid.New(), Type: names[int(which)%len(names)], Schema: schema, Data: data,
			Sealed: sealed, Subject: "01900000-0000-7000-8000-000000000003", Position: 7}
		_, _ = codec.Decode(context.Background(), ev)
		_, _ = codec.DecodePublic(ev)
	})
}
