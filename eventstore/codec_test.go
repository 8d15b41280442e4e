package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

type profileV2 struct {
	Account  uuid.UUID       `json:"account"`
	Plan     string          `json:"plan"`
	Seats    int             `json:"seats"`
	Personal profilePersonal `json:"-"`
}

type profilePersonal struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

func (profileV2) EventType() string      { return "test.profile" }
func (profileV2) EventSchema() int       { return 2 }
func (p profileV2) SubjectID() uuid.UUID { return p.Account }

type leaky struct {
	Personal profilePersonal `json:"personal"`
}

func (leaky) EventType() string    { return "test.leaky" }
func (leaky) SubjectID() uuid.UUID { return uuid.Nil }

// plainSealer is a stand-in Sealer that keeps plaintext readable, so the
// codec's own behaviour is what the test sees.
type plainSealer struct{ shredded map[string]bool }

func (p plainSealer) Seal(_ context.Context, _ string, _ uuid.UUID, b []byte) ([]byte, error) {
	return append([]byte(nil), b...), nil
}

func (p plainSealer) Open(_ context.Context, s string, _ uuid.UUID, b []byte) ([]byte, error) {
	if p.shredded[s] {
		return nil, eventstore.ErrKeyShredded
	}
	return b, nil
}

func newTestCodec(t *testing.T, s plainSealer) *eventstore.Codec {
	t.Helper()
	reg := eventstore.NewRegistry()
	if err := reg.Register(profileV2{}); err != nil {
		t.Fatal(err)
	}
	// schema 1 had "seat_count"; schema 2 renamed it to "seats"
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
	c, err := eventstore.NewCodec(reg, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodecRoundTripKeepsPersonalOutOfData(t *testing.T) {
	c := newTestCodec(t, plainSealer{})
	in := profileV2{Account: uuid.New(), Plan: "pro", Seats: 3, Personal: profilePersonal{Email: "canary@example.com", Name: "Ada"}}
	ev, err := c.Encode(context.Background(), in, eventstore.Metadata{Actor: "op-1"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "test.profile" || ev.Schema != 2 || ev.Subject != in.Account.String() {
		t.Fatalf("envelope %+v", ev)
	}
	if strings.Contains(string(ev.Data), "canary") || strings.Contains(string(ev.Data), "Ada") {
		t.Fatalf("personal data leaked into the public payload: %s", ev.Data)
	}
	d, err := c.Decode(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Payload.(profileV2); got != in || d.Erased {
		t.Fatalf("decoded %+v erased=%v, want %+v", got, d.Erased, in)
	}
	pub, err := c.DecodePublic(ev)
	if err != nil || pub.(profileV2).Personal != (profilePersonal{}) || pub.(profileV2).Seats != 3 {
		t.Fatalf("DecodePublic %+v %v", pub, err)
	}
}

func TestCodecUpcastsOldSchema(t *testing.T) {
	c := newTestCodec(t, plainSealer{})
	old := eventstore.Event{ID: uuid.New(), Type: "test.profile", Schema: 1, Data: []byte(`{"plan":"team","seat_count":7}`)}
	d, err := c.Decode(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Payload.(profileV2); got.Seats != 7 || got.Plan != "team" {
		t.Fatalf("upcast gave %+v", got)
	}
}

func TestCodecErrors(t *testing.T) {
	ctx := context.Background()
	subj := uuid.New()
	c := newTestCodec(t, plainSealer{shredded: map[string]bool{subj.String(): true}})
	cases := []struct {
		name string
		ev   eventstore.Event
		want error
	}{
		{"ErrUnknownType", eventstore.Event{Type: "nope", Data: []byte(`{}`)}, eventstore.ErrUnknownType},
		{"ErrUpcastMissing", eventstore.Event{Type: "test.profile", Schema: 0, Data: []byte(`{}`)}, eventstore.ErrUpcastMissing},
	}
	for _, tc := range cases {
		if _, err := c.Decode(ctx, tc.ev); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
	garbled := eventstore.Event{Type: "test.profile", Schema: 2, Data: []byte(`{}`), Subject: uuid.NewString(), Sealed: []byte{0x01, 0x05, 'e'}}
	if _, err := c.Decode(ctx, garbled); err == nil {
		t.Error("garbled personal part decoded without error")
	}
	legacy := eventstore.Event{Type: "test.profile", Schema: 2, Data: []byte(`{}`), Subject: uuid.NewString(), Sealed: []byte(`{"email":"old@example.com"}`)}
	if d, err := c.Decode(ctx, legacy); err != nil || d.Payload.(profileV2).Personal.Email != "old@example.com" {
		t.Errorf("JSON personal part: %+v %v", d.Payload, err)
	}
	erased := eventstore.Event{Type: "test.profile", Schema: 2, Data: []byte(`{"plan":"pro"}`), Subject: subj.String(), Sealed: []byte{0x01}}
	if d, err := c.Decode(ctx, erased); err != nil || !d.Erased || d.Payload.(profileV2).Plan != "pro" {
		t.Errorf("shredded subject: %+v %v", d, err)
	}
	if err := eventstore.NewRegistry().Register(leaky{}); err == nil {
		t.Error("a Personal field without json:\"-\" was accepted")
	}
	if _, err := c.Encode(ctx, struct{}{}, eventstore.Metadata{}); !errors.Is(err, eventstore.ErrUnknownType) {
		t.Errorf("unregistered type: %v", err)
	}
}
