package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Environment variables that select the store when its flags are not given.
const (
	envDataDir     = "LEDGERLINE_DATA_DIR"
	envDatabaseURL = "LEDGERLINE_DATABASE_URL"
)

// storeDefaultDataDir is the embedded store's directory when neither
// --data-dir nor LEDGERLINE_DATA_DIR says otherwise.
const storeDefaultDataDir = "ledgerline-data"

// openExisting opens the selected store for tools that read an existing log
// (audit): the embedded directory must already hold one, so a mistyped path is
// an error rather than a fresh empty log, and if a running server holds its
// lock the error says to stop it or use the HTTP audit endpoints. Close the
// store when done.
func (sf *storageFlags) openExisting(ctx context.Context) (eventstore.Store, error) {
	dataDir, dbURL := *sf.dataDir, *sf.databaseURL
	if dbURL != "" {
		s, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 4})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		return s, nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, embedded.EventsFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no Ledgerline log in %s (no %s there): pass --data-dir or --database-url, or set %s / %s",
			dataDir, embedded.EventsFile, envDataDir, envDatabaseURL)
	} else if err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	s, err := embedded.Open(dataDir, embedded.Options{})
	if err != nil {
		// The embedded adapter has no sentinel for a held lock; its message
		// says "locked".
		if strings.Contains(err.Error(), "locked") {
			return nil, fmt.Errorf("%w\n(is `ledgerline serve` running on %s? stop the server, or use the HTTP audit endpoints)", err, dataDir)
		}
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	return s, nil
}

// keyringFlag locates the keyring: --keyring, else LEDGERLINE_KEYRING, else
// keyring.json in the data directory.
type keyringFlag struct{ path string }

func addKeyringFlag(fs *flag.FlagSet) *keyringFlag {
	kf := &keyringFlag{}
	fs.StringVar(&kf.path, "keyring", "",
		fmt.Sprintf("keyring `FILE` (env %s; default %s in the data directory)", keyring.EnvPath, keyring.FileName))
	return kf
}

// openExisting opens the keyring without ever creating one: a missing file
// is an error here, since a new keyring would hold a new signing key.
func (kf *keyringFlag) openExisting(dataDir string) (*keyring.File, error) {
	path := kf.path
	if path == "" {
		path = envDefault(keyring.EnvPath, keyring.DefaultPath(dataDir))
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no keyring at %s: pass --keyring or --data-dir, or set %s", path, keyring.EnvPath)
	}
	return keyring.Open(path)
}
