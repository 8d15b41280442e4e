package main

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/domain/audit"
	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
	"github.com/ledgerline/ledgerline/eventstore"
)

func checkpointCodec(t *testing.T) *eventstore.Codec {
	t.Helper()
	codec, err := eventstore.NewCodec(eventstore.NewRegistry().MustRegister(audit.ChainCheckpointSigned{}),
		eventstore.NewSealer(eventstore.NewMemVault(eventstore.NewMemKeyring()), 0))
	if err != nil {
		t.Fatal(err)
	}
	return codec
}

// TestAuditVerifyInLogCheckpoints: serve's checkpointer records signed
// heads; audit verify checks them, and a history rewritten before one fails
// naming the checkpoint's position, whether the chain was left broken
// (TamperData) or rebuilt to verify (another log carrying the checkpoint).
func TestAuditVerifyInLogCheckpoints(t *testing.T) {
	ctx := context.Background()
	dir := embeddedLog(t, 5)
	kr, err := keyring.Open(keyring.DefaultPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	pub := certificate.FormatPublicKey(kr.SigningKey().Public().(ed25519.PublicKey))
	codec := checkpointCodec(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var first eventstore.Event
	withEmbedded(t, dir, func(s *embedded.Store) {
		cp, err := newChainCheckpointer(s, codec, kr.SigningKey(), time.Hour, log)
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name   string
			grow   int
			wantAt uint64 // position of the recorded checkpoint event; 0: none
		}{
			{"SignsHead", 0, 6},
			{"NothingNew", 0, 0},
			{"SignsNewHead", 2, 9},
		}
		for _, st := range steps {
			if st.grow > 0 {
				appendTestEvents(t, s, st.grow)
			}
			at, err := cp.Checkpoint(ctx)
			if err != nil || at != st.wantAt {
				t.Fatalf("%s: Checkpoint = %d, %v; want %d", st.name, at, err, st.wantAt)
			}
		}
		evs, err := s.ReadStream(ctx, audit.CheckpointsStream, 1, 1)
		if err != nil || len(evs) != 1 {
			t.Fatal(evs, err)
		}
		first = evs[0]
	})

	out, err := runCLI(t, "audit", "verify", "--quiet", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "OK: 2 signed checkpoints in the log verified (latest: position 8") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "audit", "verify", "--quiet", "--data-dir", dir, "--public-key", pub); err != nil {
		t.Fatalf("verify --public-key: %v\n%s", err, out)
	}
	other := certificate.FormatPublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	if _, err := runCLI(t, "audit", "verify", "--quiet", "--data-dir", dir, "--public-key", other); err == nil ||
		!strings.Contains(err.Error(), "checkpoint at position 5 does not verify") {
		t.Fatalf("wrong key: err = %v", err)
	}

	// A rebuilt history whose chain verifies, carrying the old checkpoint.
	rewritten := embeddedLog(t, 5)
	withEmbedded(t, rewritten, func(s *embedded.Store) {
		e := first
		e.Position, e.Version, e.PrevHash, e.Hash = 0, 0, eventstore.Hash{}, eventstore.Hash{}
		if _, err := s.Append(ctx, audit.CheckpointsStream, eventstore.NoStream, e); err != nil {
			t.Fatal(err)
		}
	})
	out, err = runCLI(t, "audit", "verify", "--quiet", "--data-dir", rewritten, "--public-key", pub)
	if err == nil || !strings.Contains(err.Error(), "checkpoint at position 5 no longer matches the log: history up to it was rewritten") ||
		!strings.Contains(out, "OK: hash chain verified: 6 events") {
		t.Fatalf("rewritten: %v\n%s", err, out)
	}

	// An event before both checkpoints altered in place.
	withEmbedded(t, dir, func(s *embedded.Store) {
		if err := s.TamperData(ctx, 3); err != nil {
			t.Fatal(err)
		}
	})
	out, err = runCLI(t, "audit", "verify", "--quiet", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "hash chain broken at position 3") ||
		!strings.Contains(err.Error(), "checkpoint at position 5 no longer matches") || !strings.Contains(err.Error(), "checkpoint at position 8 no longer matches") {
		t.Fatalf("tampered: %v\n%s", err, out)
	}
	if !strings.Contains(out, "BROKEN: signed checkpoint at position 5 (recorded at position 6") {
		t.Fatalf("tampered output: %s", out)
	}

	// Without any key, in-log checkpoints are still checked against the log (here: a log shorter than the checkpoint).
	noKeyring := embeddedLog(t, 2)
	withEmbedded(t, noKeyring, func(s *embedded.Store) {
		e := first
		e.Position, e.Version, e.PrevHash, e.Hash = 0, 0, eventstore.Hash{}, eventstore.Hash{}
		if _, err := s.Append(ctx, audit.CheckpointsStream, eventstore.NoStream, e); err != nil {
			t.Fatal(err)
		}
	})
	if out, err := runCLI(t, "audit", "verify", "--quiet", "--data-dir", noKeyring); err == nil || !strings.Contains(err.Error(), "checkpoint at position 5 is beyond the log's end") ||
		!strings.Contains(out, "NOTE: no --public-key and no keyring") {
		t.Fatalf("no key: err = %v\n%s", err, out)
	}
}

// TestCheckpointEventMatchesFile: an in-log checkpoint signs the same bytes
// as an `audit checkpoint` file of the same head, so either verifies the other.
func TestCheckpointEventMatchesFile(t *testing.T) {
	kr := eventstore.NewMemKeyring()
	at := eventstore.Now()
	h := eventstore.Hash{1, 2, 3}
	ev, err := audit.SignCheckpoint(12, h, at, kr.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	canonical, err := ev.Statement().Canonical()
	if err != nil {
		t.Fatal(err)
	}
	c, err := verifyCheckpoint(checkpointFile(canonical, ev.Signature), kr.SigningKey().Public().(ed25519.PublicKey))
	if err != nil || c.Position != 12 || c.Hash != h || !c.Time.Equal(at) {
		t.Fatalf("file from event: %+v, %v", c, err)
	}
}
