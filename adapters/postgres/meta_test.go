package postgres

import (
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []eventstore.Metadata{
		{},
		{Actor: "op-1"},
		{CorrelationID: "c", CausationID: "", Actor: "a", ActorRole: "admin", RequestID: "req-ü-1"},
		{CorrelationID: string(make([]byte, 300)), RequestID: "r"},
	} {
		b := encodeMeta(&m)
		got, err := decodeMeta(b)
		if err != nil || got != m {
			t.Fatalf("round trip of %+v: %+v, %v", m, got, err)
		}
		for cut := 1; cut < len(b); cut++ { // every truncation fails, none panics
			if _, err := decodeMeta(b[:cut]); err == nil {
				t.Fatalf("truncated meta (%d of %d bytes) decoded", cut, len(b))
			}
		}
	}
	if _, err := decodeMeta([]byte{2, 0, 0, 0, 0, 0}); err == nil {
		t.Fatal("unknown meta version decoded")
	}
}
