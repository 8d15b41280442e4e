package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/eventstore/vaulttest"
)

func openTestVault(t *testing.T, path string, kr eventstore.Keyring) *Vault {
	t.Helper()
	v, err := OpenVault(path, kr)
	if err != nil {
		t.Fatalf("OpenVault: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestVaultContract(t *testing.T) {
	vaulttest.Run(t, vaulttest.Features{
		New: func(t *testing.T) (eventstore.Vault, eventstore.Keyring) {
			kr := eventstore.NewMemKeyring()
			return openTestVault(t, DefaultVaultPath(t.TempDir()), kr), kr
		},
		Reopen: func(t *testing.T, old eventstore.Vault, kr eventstore.Keyring) eventstore.Vault {
			path := old.(*Vault).path
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			return openTestVault(t, path, kr)
		},
	})
}

func TestVaultFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := DefaultVaultPath(dir)
	v := openTestVault(t, path, eventstore.NewMemKeyring())
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("vault file mode %04o, want 0600", info.Mode().Perm())
	}
	if _, err := OpenVault(path, eventstore.NewMemKeyring()); err == nil {
		t.Fatal("a second OpenVault of the same file succeeded")
	}
	ctx := context.Background()
	if _, err := v.DataKey(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Shred(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if info, _ = os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("vault file mode after the rewrite %04o, want 0600", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data directory holds %d entries after a shred, want only %s", len(entries), VaultFile)
	}
}

// seedVault fills a vault with n subjects and returns the wrapped key of the
// one to shred, which sits in the middle.
func seedVault(t *testing.T, v *Vault, n int) (target string, wrapped []byte) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		s := fmt.Sprintf("subject-%05d", i)
		if _, err := v.DataKey(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	target = fmt.Sprintf("subject-%05d", n/2)
	w, _, err := v.WrappedKey(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	return target, w
}

func fileHolds(t *testing.T, path string, needle []byte) bool {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(raw, needle)
}

// TestVaultShredLeavesNoCopy searches the raw bytes of vault.db for the
// wrapped key after a shred (PRIVACY-CHECKLIST 8 and 9).
func TestVaultShredLeavesNoCopy(t *testing.T) {
	path := DefaultVaultPath(t.TempDir())
	v := openTestVault(t, path, eventstore.NewMemKeyring())
	target, wrapped := seedVault(t, v, 200)
	if !fileHolds(t, path, wrapped) {
		t.Fatal("test is blind: the wrapped key is not found in the file before the shred")
	}
	if _, err := v.Shred(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if fileHolds(t, path, wrapped) {
		t.Fatal("vault.db still holds the wrapped key after the shred")
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Fatal("the compaction file was left behind")
	}
	// The rest survived the rewrite.
	if _, err := v.OpenKey(context.Background(), "subject-00001"); err != nil {
		t.Fatal(err)
	}
}

// TestBoltKeepsFreedPages documents why Shred rewrites the file: deleting
// a key in bbolt leaves its page, wrapped key included, in the file's free
// pages until a later transaction happens to reuse the page (overwriting the
// value with zeros first only moves the problem to another page). Whether
// the copy survives is a matter of page allocation, so it only logs.
const boltSubjects = 200

func TestBoltKeepsFreedPages(t *testing.T) {
	for _, tc := range []struct {
		name string
		zero func(db *bbolt.DB, subject string) error
	}{
		{"DeleteOnly", nil},
		{"ZeroInEarlierTx", func(db *bbolt.DB, s string) error {
			return db.Update(func(tx *bbolt.Tx) error {
				b := tx.Bucket(bucketVaultKeys)
				return b.Put([]byte(s), make([]byte, len(b.Get([]byte(s)))))
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := DefaultVaultPath(t.TempDir())
			v := openTestVault(t, path, eventstore.NewMemKeyring())
			target, wrapped := seedVault(t, v, boltSubjects)
			if tc.zero != nil {
				if err := tc.zero(v.db, target); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := vaultShredTx(v.db, target); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrapped key in vault.db right after the delete: %v", fileHolds(t, path, wrapped))
			// More writes, as a running system would make, may or may not
			// reuse the freed page.
			for i := range 3 {
				if _, err := v.DataKey(context.Background(), fmt.Sprintf("later-%d", i)); err != nil {
					t.Fatal(err)
				}
				t.Logf("... after %d more writes: %v", i+1, fileHolds(t, path, wrapped))
			}
		})
	}
}

func TestVaultRejectsCorruptRecord(t *testing.T) {
	path := DefaultVaultPath(t.TempDir())
	v := openTestVault(t, path, eventstore.NewMemKeyring())
	ctx := context.Background()
	if _, err := v.DataKey(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	err := v.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketVaultKeys)
		rec := append([]byte(nil), b.Get([]byte("a"))...)
		rec[len(rec)-1] ^= 1
		if err := b.Put([]byte("a"), rec); err != nil {
			return err
		}
		short := binary.BigEndian.AppendUint32(make([]byte, 16), 1)
		return b.Put([]byte("short"), short)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "short"} {
		if _, err := v.OpenKey(ctx, s); err == nil {
			t.Fatalf("corrupt record of %s opened", s)
		}
	}
}

// BenchmarkVaultShred: the cost of a shred, file rewrite included, in a
// vault of 10,000 subjects.
func BenchmarkVaultShred(b *testing.B) {
	kr := eventstore.NewMemKeyring()
	v, err := OpenVault(DefaultVaultPath(b.TempDir()), kr)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	const n = 10000
	err = v.db.Update(func(tx *bbolt.Tx) error {
		for i := range n {
			s := fmt.Sprintf("subject-%05d", i)
			d, err := eventstore.NewDEK()
			if err != nil {
				return err
			}
			w, epoch, err := eventstore.WrapCurrent(kr, s, d)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketVaultKeys).Put([]byte(s), encodeVaultKey(vaultKey{id: d.ID, epoch: epoch, wrapped: w})); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := v.Shred(context.Background(), fmt.Sprintf("subject-%05d", i%n)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
