package eventstore

import (
	"context"
	"testing"
)

type handEncoded struct {
	N int `json:"n"`
}

func (handEncoded) EventType() string { return "test.hand_encoded" }

// AppendJSON writes member names in a different case than json.Marshal would,
// so the test can tell which encoder the codec used.
func (h handEncoded) AppendJSON(dst []byte) ([]byte, error) {
	return append(dst, `{"N":7}`...), nil
}

func TestCodecUsesJSONAppender(t *testing.T) {
	reg := NewRegistry()
	if err := reg.Register(handEncoded{}); err != nil {
		t.Fatal(err)
	}
	c, err := NewCodec(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.Encode(context.Background(), handEncoded{N: 1}, Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if string(ev.Data) != `{"N":7}` {
		t.Fatalf("codec wrote %s, not the type's own encoding", ev.Data)
	}
}
