package main

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"os"
	"time"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// storeScanners are the raw-storage scans of erasure verification: the data
// directory (embedded store, vault, keyring) byte by byte, and every table of
// the PostgreSQL schema when there is one.
func storeScanners(b *backend, dataDir string) []eventstore.StoreScanner {
	var out []eventstore.StoreScanner
	// With PostgreSQL the data directory may not exist at all (keyring
	// elsewhere): scan it only when it is there, or a missing directory
	// would fail every erasure.
	if _, err := os.Stat(dataDir); err == nil || (b.pool == nil && !isPostgres(b)) {
		out = append(out, embedded.DirScanner{Dir: dataDir})
	}
	if b.pool != nil {
		out = append(out, postgres.TableScanner{Pool: b.pool})
	} else if st, ok := b.store.(*postgres.Store); ok {
		out = append(out, postgres.TableScanner{Pool: st.Pool()})
	}
	return out
}

func isPostgres(b *backend) bool {
	_, ok := b.store.(*postgres.Store)
	return ok
}

// wireErasureProof turns on erasure verification and certificates, and
// returns the KEK rotation schedule whose Run the server starts.
func wireErasureProof(svc *cmdsvc.Service, b *backend, dataDir string, models projections.ReadModels,
	waitFor func(ctx context.Context, position uint64) error, interval time.Duration, log *slog.Logger) (*cmdsvc.KEKRotation, error) {
	kek, err := cmdsvc.NewKEKRotation(b.keyring, b.vault, interval, log)
	if err != nil {
		return nil, err
	}
	err = svc.SetErasureProof(&cmdsvc.ErasureProof{Keyring: b.keyring, Vault: b.vault, ReadModels: models, WaitFor: waitFor,
		Scanners: storeScanners(b, dataDir), NextKEKRotation: kek.RetiredBy, SoftwareVersion: version})
	return kek, err
}

// certificateKey is the public half of the certificate signing key.
func certificateKey(b *backend) ed25519.PublicKey {
	pub, _ := b.keyring.SigningKey().Public().(ed25519.PublicKey)
	return pub
}
