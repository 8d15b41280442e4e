package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/eventstore"
)

// runMigrate applies every PostgreSQL migration (event store, vault, read
// models) and prints what the schema holds. Migrations are idempotent and
// serialised per schema, so running it while servers run is safe. The
// embedded store has no migrations: its files are created on open.
func runMigrate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("migrate", "migrate [--database-url URL]")
	sf := addStorageFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate takes no arguments (got %q)", fs.Arg(0))
	}
	url := *sf.databaseURL
	if url == "" {
		fmt.Fprintf(out, "Nothing to migrate: the embedded store (%s) creates its files when it is opened.\n"+
			"Pass --database-url (or set LEDGERLINE_DATABASE_URL) to migrate a PostgreSQL database.\n", *sf.dataDir)
		return nil
	}
	st, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 2})
	if err != nil {
		return fmt.Errorf("open PostgreSQL store: %w", err)
	}
	defer st.Close()
	// The vault's tables need no key material to exist: a throwaway keyring
	// lets migrate run without access to the real one.
	v, err := postgres.NewVault(ctx, st.Pool(), eventstore.NewMemKeyring())
	if err != nil {
		return fmt.Errorf("migrate vault: %w", err)
	}
	defer v.Close()
	if _, err := postgres.OpenReadModels(ctx, postgres.ReadModelsConfig{Pool: st.Pool(), Codec: &eventstore.Codec{}}); err != nil {
		return fmt.Errorf("migrate read models: %w", err)
	}
	rows, err := st.Pool().Query(ctx, `SELECT component, version, name, applied_at FROM schema_migrations ORDER BY component, version`)
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	defer rows.Close()
	fmt.Fprintf(out, "PostgreSQL schema %q is up to date:\n", st.Schema())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "component\tversion\tname\tapplied at")
	for rows.Next() {
		var (
			comp, name string
			ver        int
			at         time.Time
		)
		if err := rows.Scan(&comp, &ver, &name, &at); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", comp, ver, name, at.UTC().Format(time.RFC3339))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}
