package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
)

// storageFlags select where a command finds the log: PostgreSQL when a
// database URL is given (flag or environment), the embedded store in the
// data directory otherwise. Every command resolves them the same way.
type storageFlags struct {
	dataDir     *string
	databaseURL *string
	keyring     *string // nil for commands that take no keyring flag
	esdbURL     *string // nil for commands that cannot use EventStoreDB
}

// addStoreFlags registers --data-dir and --database-url only (the audit and
// replay tools, which read the log and bring their own keyring flag).
func addStoreFlags(fs *flag.FlagSet) *storageFlags {
	return &storageFlags{
		dataDir: fs.String("data-dir", envDefault(envDataDir, storeDefaultDataDir),
			"data directory: embedded store (events.db, vault.db) and the keyring (env LEDGERLINE_DATA_DIR)"),
		databaseURL: fs.String("database-url", envDefault(envDatabaseURL, ""),
			"PostgreSQL URL; when set the store and vault live there instead of the data directory (env LEDGERLINE_DATABASE_URL)"),
	}
}

// addStorageFlags registers the store flags plus --keyring and --eventstoredb-url.
func addStorageFlags(fs *flag.FlagSet) storageFlags {
	f := addStoreFlags(fs)
	f.keyring = fs.String("keyring", envDefault(keyring.EnvPath, ""),
		"keyring file (KEKs, pepper, signing key; mode 0600); default <data-dir>/keyring.json (env LEDGERLINE_KEYRING)")
	f.esdbURL = fs.String("eventstoredb-url", envDefault("LEDGERLINE_EVENTSTOREDB_URL", ""),
		"EventStoreDB/KurrentDB URL (esdb://...) for the log; the vault stays in PostgreSQL, so --database-url is required too (env LEDGERLINE_EVENTSTOREDB_URL)")
	return *f
}

// backend is the wired storage: keyring → vault → sealer → codec, and the store.
type backend struct {
	kind    string // "embedded" or "postgres"
	where   string // data dir or redacted database name, for messages
	store   eventstore.Store
	vault   eventstore.Vault
	keyring eventstore.Keyring
	sealer  *eventstore.VaultSealer
	codec   *eventstore.Codec
	pool    *pgxpool.Pool // the PostgreSQL database when there is one (leases, checkpoints)
	ownPool bool          // pool opened apart from the store: Close closes it
}

func openBackend(ctx context.Context, f storageFlags) (*backend, error) {
	dataDir := *f.dataDir
	if dataDir == "" {
		return nil, errors.New("--data-dir must not be empty")
	}
	var krPath string
	if f.keyring != nil {
		krPath = *f.keyring
	}
	if krPath == "" {
		krPath = keyring.DefaultPath(dataDir)
	}
	if err := os.MkdirAll(filepath.Dir(krPath), 0o700); err != nil {
		return nil, fmt.Errorf("create keyring directory: %w", err)
	}
	kr, err := keyring.Open(krPath)
	if err != nil {
		return nil, err
	}
	b := &backend{keyring: kr}
	if f.esdbURL != nil && *f.esdbURL != "" {
		if err := openESDBBackend(ctx, b, *f.esdbURL, *f.databaseURL); err != nil {
			return nil, err
		}
	} else if url := *f.databaseURL; url != "" {
		st, err := postgres.Open(ctx, postgres.Config{URL: url})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		v, err := postgres.NewVault(ctx, st.Pool(), kr)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("open PostgreSQL vault: %w", err)
		}
		b.kind, b.where, b.store, b.vault, b.pool = "postgres", "PostgreSQL", st, v, st.Pool()
	} else {
		st, err := embedded.Open(dataDir, embedded.Options{})
		if err != nil {
			return nil, err
		}
		v, err := embedded.OpenVault(embedded.DefaultVaultPath(dataDir), kr)
		if err != nil {
			st.Close()
			return nil, err
		}
		b.kind, b.where, b.store, b.vault = "embedded", dataDir, st, v
	}
	reg, err := cmdsvc.NewRegistry()
	if err != nil {
		b.Close()
		return nil, err
	}
	b.sealer = eventstore.NewSealer(b.vault, 0)
	if b.codec, err = eventstore.NewCodec(reg, b.sealer); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Close closes the vault, then the store (which waits for in-flight appends).
func (b *backend) Close() error {
	var errs []error
	if b.vault != nil {
		errs = append(errs, b.vault.Close())
	}
	if b.store != nil {
		errs = append(errs, b.store.Close())
	}
	if b.ownPool {
		b.pool.Close()
	}
	return errors.Join(errs...)
}
