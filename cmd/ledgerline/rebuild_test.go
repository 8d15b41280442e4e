package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
)

func TestRebuildMemoryEmbedded(t *testing.T) {
	t.Setenv(envDatabaseURL, "")
	t.Setenv(keyring.EnvPath, "")
	dir := t.TempDir()
	seedDemo(t, dir, "10", "100")
	out, err := runCLI(t, "rebuild", "--data-dir", dir, "--quiet")
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	for _, want := range []string{"every event decoded", "usage.recorded", "accounts  "} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := runCLI(t, "rebuild", "--data-dir", dir, "--read-models", "postgres"); err == nil || !strings.Contains(err.Error(), "--database-url") {
		t.Fatalf("postgres read models without a database: err = %v", err)
	}
	withEmbedded(t, dir, func(*embedded.Store) {
		_, err := runCLI(t, "rebuild", "--data-dir", dir, "--quiet")
		if err == nil || !strings.Contains(err.Error(), "stop `ledgerline serve` first") {
			t.Fatalf("locked: err = %v", err)
		}
	})
}

func TestMigrateRebuildPostgres(t *testing.T) {
	url, schema := pgtest.Schema(t)
	t.Setenv(keyring.EnvPath, "")
	dir := t.TempDir()
	out, err := runCLI(t, "migrate", "--database-url", url)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for _, want := range []string{schema, "eventstore  1", "vault       1", "readmodels  1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("migrate output lacks %q:\n%s", want, out)
		}
	}
	if out, err := runCLI(t, "migrate", "--database-url", url); err != nil {
		t.Fatalf("migrate again: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "demo", "--data-dir", dir, "--database-url", url, "--accounts", "10", "--usage", "100", "--quiet"); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	out, err = runCLI(t, "rebuild", "--data-dir", dir, "--database-url", url, "--quiet")
	if err != nil || !strings.Contains(out, "Rebuilt the PostgreSQL read models") {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	head, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := postgres.OpenReadModels(ctx, postgres.ReadModelsConfig{Pool: st.Pool(), Codec: publicCodec(t)})
	if err != nil {
		t.Fatal(err)
	}
	cps, err := rm.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, cp := range cps {
		if cp != head.Position {
			t.Errorf("read model %s at %d, head %d", name, cp, head.Position)
		}
	}
}

func TestMigrateEmbedded(t *testing.T) {
	t.Setenv(envDatabaseURL, "")
	out, err := runCLI(t, "migrate", "--data-dir", t.TempDir())
	if err != nil || !strings.Contains(out, "Nothing to migrate") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
}

func publicCodec(t *testing.T) *eventstore.Codec {
	t.Helper()
	reg, err := cmdsvc.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	c, err := eventstore.NewCodec(reg, publicOnlySealer{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
