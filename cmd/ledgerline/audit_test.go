package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Test-only event types: one public, one with a sealed personal part.
type auditTestNoted struct {
	Account uuid.UUID `json:"account"`
	N       int       `json:"n"`
}

func (auditTestNoted) EventType() string { return "audittest.noted" }

type auditTestPersonal struct {
	Email string `json:"email"`
}

type auditTestRegistered struct {
	Account  uuid.UUID         `json:"account"`
	Personal auditTestPersonal `json:"-"`
}

func (auditTestRegistered) EventType() string      { return "audittest.registered" }
func (e auditTestRegistered) SubjectID() uuid.UUID { return e.Account }

const auditTestEmail = "alice.auditor-test@example.com"

// auditTestEvents returns n envelopes: first a registration whose sealed part
// holds auditTestEmail, then public events. The subject's key is shredded
// before return, as after an erasure.
func auditTestEvents(t *testing.T, n int) []eventstore.Event {
	t.Helper()
	ctx := context.Background()
	vault := eventstore.NewMemVault(eventstore.NewMemKeyring())
	sealer := eventstore.NewSealer(vault, 16)
	codec, err := eventstore.NewCodec(eventstore.NewRegistry().MustRegister(auditTestNoted{}, auditTestRegistered{}), sealer)
	if err != nil {
		t.Fatal(err)
	}
	account := uuid.New()
	evs := make([]eventstore.Event, 0, n)
	for i := range n {
		var payload any = auditTestNoted{Account: account, N: i}
		if i == 0 {
			payload = auditTestRegistered{Account: account, Personal: auditTestPersonal{Email: auditTestEmail}}
		}
		e, err := codec.Encode(ctx, payload, eventstore.Metadata{Actor: "test", CorrelationID: "c-1"})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if _, err := sealer.Shred(ctx, account.String()); err != nil {
		t.Fatal(err)
	}
	return evs
}

func appendTestEvents(t *testing.T, s eventstore.Store, n int) {
	t.Helper()
	for i, e := range auditTestEvents(t, n) {
		stream := "account-" + string(rune('a'+i%3))
		if _, err := s.Append(context.Background(), stream, eventstore.Any, e); err != nil {
			t.Fatal(err)
		}
	}
}

// embeddedLog makes a data directory holding a log of n events.
func embeddedLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	withEmbedded(t, dir, func(s *embedded.Store) { appendTestEvents(t, s, n) })
	return dir
}

func withEmbedded(t *testing.T, dir string, fn func(s *embedded.Store)) {
	t.Helper()
	s, err := embedded.Open(dir, embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fn(s)
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var buf bytes.Buffer
	err := run(context.Background(), args, &buf)
	return buf.String(), err
}

func TestAuditVerifyEmbedded(t *testing.T) {
	dir := embeddedLog(t, 7)
	out, err := runCLI(t, "audit", "verify", "--data-dir", dir)
	if err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	if !strings.Contains(out, "OK: hash chain verified: 7 events, head position 7 hash ") {
		t.Fatalf("output: %s", out)
	}

	withEmbedded(t, dir, func(s *embedded.Store) {
		if err := s.TamperData(context.Background(), 4); err != nil {
			t.Fatal(err)
		}
	})
	out, err = runCLI(t, "audit", "verify", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "position 4") {
		t.Fatalf("tampered log: err = %v", err)
	}
	if !strings.Contains(out, "BROKEN: hash chain broken at position 4") || !strings.Contains(out, "3 events before it verified") {
		t.Fatalf("output: %s", out)
	}
}

func TestAuditVerifyEnvironment(t *testing.T) {
	dir := embeddedLog(t, 2)
	t.Setenv(envDataDir, dir)
	t.Setenv(envDatabaseURL, "")
	if out, err := runCLI(t, "audit", "verify", "--quiet"); err != nil || !strings.Contains(out, "2 events") {
		t.Fatalf("audit verify from %s: %v\n%s", envDataDir, err, out)
	}
	if _, err := runCLI(t, "audit", "verify", "--data-dir", dir, "--database-url", "postgres://x"); err == nil {
		t.Fatal("both --data-dir and --database-url accepted")
	}
}

func TestAuditVerifyNoLog(t *testing.T) {
	dir := t.TempDir()
	_, err := runCLI(t, "audit", "verify", "--data-dir", filepath.Join(dir, "typo"))
	if err == nil || !strings.Contains(err.Error(), "no Ledgerline log") {
		t.Fatalf("err = %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "typo")); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatal("audit verify created a data directory")
	}
}

func TestAuditVerifyWhileServerHoldsLock(t *testing.T) {
	dir := embeddedLog(t, 1)
	withEmbedded(t, dir, func(*embedded.Store) {
		_, err := runCLI(t, "audit", "verify", "--data-dir", dir)
		if err == nil || !strings.Contains(err.Error(), "stop the server") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestAuditExport(t *testing.T) {
	dir := embeddedLog(t, 5)
	var stored []eventstore.Event
	withEmbedded(t, dir, func(s *embedded.Store) {
		var err error
		if stored, err = s.ReadAll(context.Background(), 1, 100); err != nil {
			t.Fatal(err)
		}
	})
	out, err := runCLI(t, "audit", "export", "--data-dir", dir, "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, auditTestEmail) {
		t.Fatal("export holds plaintext personal data")
	}
	lines := readExport(t, out)
	if len(lines) != 5 {
		t.Fatalf("exported %d lines, want 5:\n%s", len(lines), out)
	}
	for i, x := range lines {
		e := stored[i]
		if x.Position != e.Position || x.ID != e.ID || x.Stream != e.Stream || x.Version != e.Version ||
			x.Type != e.Type || x.Schema != e.Schema || !x.RecordedAt.Equal(e.RecordedAt) || x.Subject != e.Subject ||
			!bytes.Equal(x.Sealed, e.Sealed) || x.Meta != e.Meta || x.PrevHash != e.PrevHash || x.Hash != e.Hash ||
			!bytes.Equal(x.Data, e.Data) || x.DataBase64 != nil {
			t.Fatalf("line %d = %+v\nstored %+v", i, x, e)
		}
		// The export carries everything needed to recompute the chain.
		back := eventstore.Event{Position: x.Position, ID: x.ID, Stream: x.Stream, Version: x.Version, Type: x.Type,
			Schema: x.Schema, RecordedAt: x.RecordedAt, Data: x.Data, Subject: x.Subject, Sealed: x.Sealed, Meta: x.Meta}
		if h, _ := eventstore.ComputeHash(x.PrevHash, &back, nil); h != x.Hash {
			t.Fatalf("line %d: hash does not recompute from the export", i)
		}
	}
	if lines[0].Subject == "" || len(lines[0].Sealed) == 0 {
		t.Fatal("the registration's sealed part is missing from the export")
	}
	if !strings.Contains(out, `"sealed":"`+base64.StdEncoding.EncodeToString(stored[0].Sealed)+`"`) {
		t.Fatal("sealed part is not base64 of the stored ciphertext")
	}

	file := filepath.Join(t.TempDir(), "log.jsonl")
	out, err = runCLI(t, "audit", "export", "--data-dir", dir, "--from", "3", "--out", file, "--quiet")
	if err != nil || !strings.Contains(out, "exported 3 events (positions 3-5)") {
		t.Fatalf("export --from 3 --out: %v\n%s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if lines := readExport(t, string(data)); len(lines) != 3 || lines[0].Position != 3 {
		t.Fatalf("file holds %d lines starting at %d", len(lines), lines[0].Position)
	}
}

func TestExportKeepsTamperedBytes(t *testing.T) {
	e := eventstore.Event{Data: []byte(`{"a":` + "\xff" + `}`)}
	if x := toExport(e); x.Data != nil || !bytes.Equal(x.DataBase64, e.Data) {
		t.Fatalf("invalid data: %+v", x)
	}
	e.Data = []byte(`{"a": 1}`)
	if x := toExport(e); !bytes.Equal(x.DataBase64, e.Data) || x.Data == nil {
		t.Fatalf("non-compact data: %+v", x)
	}
	e.Data = []byte(`{"a":"<&>"}`)
	b, err := json.Marshal(toExport(e))
	if err != nil || toExport(e).DataBase64 != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(toExport(e))
	if !strings.Contains(buf.String(), `"data":{"a":"<&>"}`) {
		t.Fatalf("data not verbatim: %s (%s)", buf.String(), b)
	}
}

func readExport(t *testing.T, s string) []exportEvent {
	t.Helper()
	var out []exportEvent
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var x exportEvent
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, x)
	}
	return out
}

func TestAuditCheckpoint(t *testing.T) {
	dir := embeddedLog(t, 4)
	if _, err := keyring.Open(keyring.DefaultPath(dir)); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "checkpoint.json")
	out, err := runCLI(t, "audit", "checkpoint", "--data-dir", dir, "--out", cp, "--quiet")
	if err != nil || !strings.Contains(out, "position 4") {
		t.Fatalf("checkpoint: %v\n%s", err, out)
	}
	pub, err := runCLI(t, "certificate", "public-key", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	pub = strings.TrimSpace(pub)

	verify := func(dataDir string, extra ...string) (string, error) {
		return runCLI(t, append([]string{"audit", "verify", "--quiet", "--data-dir", dataDir, "--checkpoint", cp, "--public-key", pub}, extra...)...)
	}
	if out, err := verify(dir); err != nil || !strings.Contains(out, "is still in the log") {
		t.Fatalf("verify --checkpoint: %v\n%s", err, out)
	}
	// The log grows: the checkpoint still holds.
	withEmbedded(t, dir, func(s *embedded.Store) { appendTestEvents(t, s, 2) })
	if out, err := verify(dir); err != nil || !strings.Contains(out, "6 events") {
		t.Fatalf("after growth: %v\n%s", err, out)
	}

	// Another log (a rewritten history) with the same length or shorter fails.
	rewritten := embeddedLog(t, 6)
	if _, err := verify(rewritten); err == nil || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("rewritten log: err = %v", err)
	}
	short := embeddedLog(t, 2)
	if _, err := verify(short); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("truncated log: err = %v", err)
	}

	// An altered checkpoint file, or the wrong key, fails before any reading.
	data, err := os.ReadFile(cp)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		altered := bytes.Clone(data)
		altered[i] ^= 0x01
		if _, err := verifyCheckpoint(altered, mustPublicKey(t, pub)); err == nil {
			t.Fatalf("checkpoint with byte %d altered still verifies", i)
		}
	}
	if _, err := runCLI(t, "audit", "verify", "--data-dir", dir, "--checkpoint", cp); err == nil {
		t.Fatal("--checkpoint without a public key accepted")
	}
	// A broken chain fails even with a good checkpoint.
	withEmbedded(t, dir, func(s *embedded.Store) {
		if err := s.TamperData(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := verify(dir); err == nil || !strings.Contains(err.Error(), "position 2") {
		t.Fatalf("tampered log: err = %v", err)
	}
	if _, err := runCLI(t, "audit", "checkpoint", "--data-dir", dir, "--quiet"); err == nil || !strings.Contains(err.Error(), "refusing to sign") {
		t.Fatalf("checkpoint of a broken chain: err = %v", err)
	}
}

func TestAuditPostgres(t *testing.T) {
	url, _ := pgtest.Schema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendTestEvents(t, s, 6)

	out, err := runCLI(t, "audit", "verify", "--database-url", url, "--quiet")
	if err != nil || !strings.Contains(out, "OK: hash chain verified: 6 events, head position 6") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	out, err = runCLI(t, "audit", "export", "--database-url", url, "--quiet")
	if err != nil || len(readExport(t, out)) != 6 || strings.Contains(out, auditTestEmail) {
		t.Fatalf("audit export: %v\n%s", err, out)
	}
	if err := s.TamperData(ctx, 5); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envDatabaseURL, url) // from the environment this time
	out, err = runCLI(t, "audit", "verify", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "position 5") || !strings.Contains(out, "BROKEN: hash chain broken at position 5") {
		t.Fatalf("tampered: err = %v\n%s", err, out)
	}
}

func TestAuditHelp(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "--help"}, {"audit", "verify", "--help"}, {"audit", "export", "--help"}, {"audit", "checkpoint", "--help"},
	} {
		if _, err := runCLI(t, args...); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, err := runCLI(t, "audit", "frobnicate"); err == nil {
		t.Error("unknown audit command accepted")
	}
}
