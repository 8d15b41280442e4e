package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/eventstore/vaulttest"
)

func vaultPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func newVault(t *testing.T, pool *pgxpool.Pool, kr eventstore.Keyring) *postgres.Vault {
	t.Helper()
	v, err := postgres.NewVault(context.Background(), pool, kr)
	if err != nil {
		t.Fatalf("NewVault: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestVaultContract(t *testing.T) {
	var mu sync.Mutex
	pools := map[eventstore.Vault]*pgxpool.Pool{}
	vaulttest.Run(t, vaulttest.Features{
		New: func(t *testing.T) (eventstore.Vault, eventstore.Keyring) {
			url, _ := pgtest.Schema(t)
			pool := vaultPool(t, url)
			kr := eventstore.NewMemKeyring()
			v := newVault(t, pool, kr)
			mu.Lock()
			pools[v] = pool
			mu.Unlock()
			return v, kr
		},
		Reopen: func(t *testing.T, old eventstore.Vault, kr eventstore.Keyring) eventstore.Vault {
			old.Close()
			mu.Lock()
			pool := pools[old]
			mu.Unlock()
			// A new pool too, as after a restart.
			v := newVault(t, vaultPool(t, pool.Config().ConnString()), kr)
			mu.Lock()
			pools[v] = pool
			mu.Unlock()
			return v
		},
	})
}

// TestVaultTwoProcesses: two vaults over separate pools on one schema (two
// processes) create one key per subject and see each other's shreds.
func TestVaultTwoProcesses(t *testing.T) {
	url, _ := pgtest.Schema(t)
	kr := eventstore.NewMemKeyring()
	a, b := newVault(t, vaultPool(t, url), kr), newVault(t, vaultPool(t, url), kr)
	ctx := context.Background()
	for i := range 20 {
		subject := "s" + string(rune('a'+i))
		var wg sync.WaitGroup
		keys := make([]eventstore.DEK, 8)
		for j := range keys {
			v := a
			if j%2 == 1 {
				v = b
			}
			wg.Go(func() {
				d, err := v.DataKey(ctx, subject)
				if err != nil {
					t.Error(err)
				}
				keys[j] = d
			})
		}
		wg.Wait()
		for _, k := range keys {
			if k != keys[0] {
				t.Fatalf("two processes created two keys for %s", subject)
			}
		}
	}
	if _, err := a.Shred(ctx, "sa"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DataKey(ctx, "sa"); err == nil {
		t.Fatal("the other process created a key for a shredded subject")
	}
}

// TestVaultTablesHoldNoPlaintext: the tables hold the wrapped key, never the
// DEK, and after a shred not even the wrapped key is in a live row.
func TestVaultTablesHoldNoPlaintext(t *testing.T) {
	url, _ := pgtest.Schema(t)
	pool := vaultPool(t, url)
	v := newVault(t, pool, eventstore.NewMemKeyring())
	ctx := context.Background()
	d, err := v.DataKey(ctx, "canary")
	if err != nil {
		t.Fatal(err)
	}
	wrapped, _, err := v.WrappedKey(ctx, "canary")
	if err != nil {
		t.Fatal(err)
	}
	count := func(needle []byte) int {
		var n int
		err := pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM vault_keys WHERE position($1::bytea IN wrapped) > 0 OR position($1::bytea IN convert_to(subject || key_id::text, 'UTF8')) > 0)
     + (SELECT count(*) FROM vault_shredded WHERE position($1::bytea IN convert_to(subject || coalesce(key_id::text, ''), 'UTF8')) > 0)`,
			needle).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(d.Key[:]) != 0 {
		t.Fatal("a vault table holds the plaintext DEK")
	}
	if count(wrapped) != 1 {
		t.Fatal("test is blind: the wrapped key is not found before the shred")
	}
	if _, err := v.Shred(ctx, "canary"); err != nil {
		t.Fatal(err)
	}
	if count(wrapped) != 0 {
		t.Fatal("a live row still holds the wrapped key after the shred")
	}
}
