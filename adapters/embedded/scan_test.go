package embedded

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

func TestDirScannerAndReadSubject(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	a, b := "01900000-0000-7000-8000-00000000000a", "01900000-0000-7000-8000-00000000000b"
	for i, subj := range []string{a, b, a} {
		ev := eventstore.Event{ID: uuid.Must(uuid.NewV7()), Type: "t.x", Schema: 1, Data: []byte(`{"n":"public-marker"}`), Subject: subj, Sealed: []byte{1, 2}}
		if _, err := s.Append(ctx, "s-"+string(rune('0'+i)), eventstore.NoStream, ev); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.ReadSubject(ctx, a, 1, 0)
	if err != nil || len(evs) != 2 || evs[0].Position != 1 || evs[1].Position != 3 {
		t.Fatalf("ReadSubject: %v %d", err, len(evs))
	}
	if err := os.WriteFile(filepath.Join(dir, "stray.log"), []byte("xx leaked.canary@example.org xx"), 0o600); err != nil {
		t.Fatal(err)
	}
	found, err := DirScanner{Dir: dir}.Scan(ctx, [][]byte{[]byte("leaked.canary@example.org"), []byte("never-written-value")})
	if err != nil || len(found) != 1 || found[0].Needle != 0 || !strings.HasPrefix(found[0].Location, "stray.log") {
		t.Fatalf("scan: %v %+v", err, found)
	}
	if f, err := (DirScanner{Dir: dir}).Scan(ctx, [][]byte{[]byte("public-marker")}); err != nil || len(f) == 0 {
		t.Fatalf("the log's public data is not scanned: %v %+v", err, f)
	}
}
