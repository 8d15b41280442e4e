package bus

import (
	"encoding/json"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

func TestMessageEventRoundTrip(t *testing.T) {
	cases := []struct {
		name     string
		payload  string
		wantJSON bool
	}{
		{"CompactJSON", `{"a":1,"b":[true,null]}`, true},
		{"JSONNumber", `42`, true},
		{"NotJSON", "x", false},
		{"SpacedJSONKeptByteExact", `{ "a": 1 }`, false},
		{"HTMLCharsKeptByteExact", `{"a":"<b>"}`, false},
		{"Empty", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := message.NewMessage("not-a-uuid-"+c.name, []byte(c.payload))
			in.Metadata.Set("correlation_id", "corr")
			in.Metadata.Set("name", "apikey.revoked")
			e, err := toEvent("keys", in)
			if err != nil {
				t.Fatal(err)
			}
			if e.Meta.CorrelationID != "corr" || e.Type != MessageType || e.ID != EventID("keys", in.UUID) {
				t.Fatalf("event envelope: %+v", e)
			}
			var w wireMessage
			if err := jsonUnmarshal(e.Data, &w); err != nil {
				t.Fatal(err)
			}
			if (w.JSON != nil) != c.wantJSON {
				t.Fatalf("payload stored as JSON=%v, want %v: %s", w.JSON != nil, c.wantJSON, e.Data)
			}
			out, err := fromEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			if out.UUID != in.UUID || string(out.Payload) != c.payload || out.Metadata.Get("correlation_id") != "corr" || out.Metadata.Get("name") != "apikey.revoked" {
				t.Fatalf("round trip: %s %q %v", out.UUID, out.Payload, out.Metadata)
			}
		})
	}
	if EventID("a", "m") == EventID("b", "m") {
		t.Fatal("one message on two topics must get two event ids")
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
