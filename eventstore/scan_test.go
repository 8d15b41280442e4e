package eventstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

func TestChunkMatcherAcrossChunks(t *testing.T) {
	m := eventstore.NewChunkMatcher([][]byte{[]byte("canary@example.org"), []byte("absent-value"), nil})
	stream := "xxxxxxxxxxcanary@example.orgyyyy"
	for i := 0; i < len(stream); i += 7 { // the needle spans chunk borders
		m.Write([]byte(stream[i:min(i+7, len(stream))]))
	}
	found := m.Found()
	if off, ok := found[0]; !ok || off != 10 || len(found) != 1 {
		t.Fatalf("found %v", found)
	}
}

func TestForEachSubjectEventFallback(t *testing.T) {
	s := eventstore.NewMemStore()
	defer s.Close()
	ctx := context.Background()
	a, b := "01900000-0000-7000-8000-00000000000a", "01900000-0000-7000-8000-00000000000b"
	for i, subj := range []string{a, b, a, ""} {
		ev := eventstore.Event{ID: uuid.Must(uuid.NewV7()), Type: "t.x", Schema: 1, Data: []byte(`{}`), Subject: subj}
		if subj != "" {
			ev.Sealed = []byte{1}
		}
		if _, err := s.Append(ctx, "s-"+string(rune('0'+i)), eventstore.NoStream, ev); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	if err := eventstore.ForEachSubjectEvent(ctx, s, a, func(ev eventstore.Event) error {
		got = append(got, ev.Position)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("positions %v", got)
	}
}
