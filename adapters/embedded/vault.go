package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ledgerline/ledgerline/eventstore"
)

// VaultFile is the vault's file name in the data directory: a bbolt file of
// its own, so shredding never rewrites the log.
const VaultFile = "vault.db"

// DefaultVaultPath is the vault's path inside dataDir.
func DefaultVaultPath(dataDir string) string { return filepath.Join(dataDir, VaultFile) }

var (
	bucketVaultKeys     = []byte("keys")     // subject → key id (16) | epoch (4) | wrapped DEK
	bucketVaultShredded = []byte("shredded") // subject → key id (16) | shredded_at unix µs (8)
)

// Vault is eventstore.Vault in a bbolt file. bbolt never overwrites a page in
// place: a deleted value stays in the file's free pages until they are
// reused. So Shred rewrites the whole file without the key (bbolt.Compact
// into a new file renamed over the old one) before it returns: afterwards
// the file holds no copy of the wrapped key. Blocks the file system freed
// with the old file, and backups, are residual copies that KEK rotation
// (eventstore.RotateKEK) makes unreadable.
//
// One process opens the file at a time (bbolt's file lock).
type Vault struct {
	path string
	kr   eventstore.Keyring

	mu sync.RWMutex // shared by every operation, exclusive while Shred swaps the file
	db *bbolt.DB    // nil once closed
}

var _ eventstore.Vault = (*Vault)(nil)

// OpenVault opens (creating it, mode 0600, if missing) the vault file at path.
func OpenVault(path string, keyring eventstore.Keyring) (*Vault, error) {
	if path == "" || keyring == nil {
		return nil, errors.New("embedded: vault needs a path and a keyring")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("embedded: create vault directory: %w", err)
	}
	db, err := openVaultDB(path)
	if err != nil {
		return nil, err
	}
	return &Vault{path: path, kr: keyring, db: db}, nil
}

func openVaultDB(path string) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second, FreelistType: bbolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("embedded: %s is locked by another open vault (in this or another process)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketVaultKeys, bucketVaultShredded} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	return db, nil
}

type vaultKey struct {
	id      uuid.UUID
	epoch   int
	wrapped []byte
}

func encodeVaultKey(k vaultKey) []byte {
	b := make([]byte, 0, 20+len(k.wrapped))
	b = append(b, k.id[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(k.epoch))
	return append(b, k.wrapped...)
}

// decodeVaultKey copies out of b (bbolt's bytes live only during the tx).
func decodeVaultKey(b []byte) (vaultKey, error) {
	if len(b) < 21 {
		return vaultKey{}, fmt.Errorf("%w: vault key record of %d bytes", eventstore.ErrSealBroken, len(b))
	}
	var k vaultKey
	copy(k.id[:], b[:16])
	k.epoch = int(binary.BigEndian.Uint32(b[16:20]))
	k.wrapped = append([]byte(nil), b[20:]...)
	return k, nil
}

func decodeTombstone(b []byte) (eventstore.ShredResult, error) {
	if len(b) != 24 {
		return eventstore.ShredResult{}, fmt.Errorf("embedded: vault tombstone of %d bytes", len(b))
	}
	var r eventstore.ShredResult
	copy(r.KeyID[:], b[:16])
	r.ShreddedAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b[16:]))).UTC()
	return r, nil
}

func vaultShreddedErr(subject string) error {
	return fmt.Errorf("%w: subject %s", eventstore.ErrKeyShredded, subject)
}

// view runs fn in a read transaction under the shared lock.
func (v *Vault) view(fn func(tx *bbolt.Tx) error) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.db == nil {
		return eventstore.ErrClosed
	}
	return v.db.View(fn)
}

func (v *Vault) update(fn func(tx *bbolt.Tx) error) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.db == nil {
		return eventstore.ErrClosed
	}
	return v.db.Update(fn)
}

// get reads subject's key: found=false when it has none; ErrKeyShredded
// when it was shredded.
func vaultGet(tx *bbolt.Tx, subject string) (vaultKey, bool, error) {
	if tx.Bucket(bucketVaultShredded).Get([]byte(subject)) != nil {
		return vaultKey{}, false, vaultShreddedErr(subject)
	}
	b := tx.Bucket(bucketVaultKeys).Get([]byte(subject))
	if b == nil {
		return vaultKey{}, false, nil
	}
	k, err := decodeVaultKey(b)
	return k, err == nil, err
}

func (v *Vault) lookup(subject string) (k vaultKey, found bool, err error) {
	err = v.view(func(tx *bbolt.Tx) error {
		k, found, err = vaultGet(tx, subject)
		return err
	})
	return k, found, err
}

func (v *Vault) unwrap(subject string, k vaultKey) (eventstore.DEK, error) {
	d, err := eventstore.UnwrapWith(v.kr, k.wrapped, subject, k.epoch)
	if err == nil && d.ID != k.id {
		return eventstore.DEK{}, fmt.Errorf("%w: key id of subject %s does not match its record", eventstore.ErrSealBroken, subject)
	}
	return d, err
}

// DataKey implements eventstore.Vault. The key is wrapped inside the write
// transaction, so bbolt's single writer orders it with RewrapAll.
func (v *Vault) DataKey(ctx context.Context, subject string) (eventstore.DEK, error) {
	k, found, err := v.lookup(subject)
	if err != nil {
		return eventstore.DEK{}, err
	}
	if found {
		return v.unwrap(subject, k)
	}
	dek, err := eventstore.NewDEK()
	if err != nil {
		return eventstore.DEK{}, err
	}
	raced := false
	err = v.update(func(tx *bbolt.Tx) error {
		if k, raced, err = vaultGet(tx, subject); err != nil || raced {
			return err
		}
		wrapped, epoch, err := eventstore.WrapCurrent(v.kr, subject, dek)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketVaultKeys).Put([]byte(subject), encodeVaultKey(vaultKey{id: dek.ID, epoch: epoch, wrapped: wrapped}))
	})
	switch {
	case err != nil:
		return eventstore.DEK{}, err
	case raced:
		return v.unwrap(subject, k)
	}
	return dek, nil
}

// OpenKey implements eventstore.Vault.
func (v *Vault) OpenKey(ctx context.Context, subject string) (eventstore.DEK, error) {
	k, found, err := v.lookup(subject)
	if err != nil {
		return eventstore.DEK{}, err
	}
	if !found {
		return eventstore.DEK{}, fmt.Errorf("%w: no data key for subject %s", eventstore.ErrNotFound, subject)
	}
	return v.unwrap(subject, k)
}

// Shred implements eventstore.Vault: it deletes the key, records the
// tombstone, then rewrites the file so no free page keeps the wrapped key.
func (v *Vault) Shred(ctx context.Context, subject string) (eventstore.ShredResult, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.db == nil {
		return eventstore.ShredResult{}, eventstore.ErrClosed
	}
	res, err := vaultShredTx(v.db, subject)
	if err != nil || res.AlreadyShredded {
		return res, err
	}
	if err := v.compact(); err != nil {
		return res, fmt.Errorf("embedded: key of %s deleted but the vault file not yet rewritten: %w", subject, err)
	}
	return res, nil
}

// shredTx deletes subject's key and records its tombstone in one transaction.
func vaultShredTx(db *bbolt.DB, subject string) (eventstore.ShredResult, error) {
	var res eventstore.ShredResult
	err := db.Update(func(tx *bbolt.Tx) error {
		gone := tx.Bucket(bucketVaultShredded)
		if b := gone.Get([]byte(subject)); b != nil {
			r, err := decodeTombstone(b)
			r.AlreadyShredded = true
			res = r
			return err
		}
		keys := tx.Bucket(bucketVaultKeys)
		if b := keys.Get([]byte(subject)); b != nil {
			copy(res.KeyID[:], b[:min(16, len(b))])
			if err := keys.Delete([]byte(subject)); err != nil {
				return err
			}
		}
		res.ShreddedAt = eventstore.Now()
		t := make([]byte, 0, 24)
		t = append(t, res.KeyID[:]...)
		t = binary.BigEndian.AppendUint64(t, uint64(res.ShreddedAt.UnixMicro()))
		return gone.Put([]byte(subject), t)
	})
	return res, err
}

// compact rewrites the vault into a new file and renames it over the old
// one. The caller holds mu exclusively.
func (v *Vault) compact() error {
	tmp := v.path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: 2 * time.Second, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return err
	}
	if err := bbolt.Compact(dst, v.db, 0); err != nil {
		dst.Close()
		os.Remove(tmp)
		return err
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := v.db.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	v.db = nil
	renameErr := os.Rename(tmp, v.path)
	if renameErr == nil {
		renameErr = vaultSyncDir(filepath.Dir(v.path))
	} else {
		os.Remove(tmp)
	}
	db, err := openVaultDB(v.path)
	if err != nil {
		return errors.Join(renameErr, err)
	}
	v.db = db
	return renameErr
}

func vaultSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// RewrapAll implements eventstore.Vault in one write transaction, which
// bbolt orders with every key creation.
func (v *Vault) RewrapAll(ctx context.Context, newEpoch int) (int, error) {
	keks := eventstore.NewKEKCache(v.kr)
	defer keks.Clear()
	newKEK, err := keks.Get(newEpoch)
	if err != nil {
		return 0, err
	}
	n := 0
	err = v.update(func(tx *bbolt.Tx) error {
		n = 0
		keys := tx.Bucket(bucketVaultKeys)
		type rewrapped struct{ subject, value []byte }
		var out []rewrapped
		err := keys.ForEach(func(s, b []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			k, err := decodeVaultKey(b)
			if err != nil {
				return fmt.Errorf("subject %s: %w", s, err)
			}
			if k.epoch == newEpoch {
				return nil
			}
			oldKEK, err := keks.Get(k.epoch)
			if err != nil {
				return fmt.Errorf("subject %s: %w", s, err)
			}
			w, err := eventstore.Rewrap(oldKEK, newKEK, string(s), k.epoch, newEpoch, k.wrapped)
			if err != nil {
				return err
			}
			k.epoch, k.wrapped = newEpoch, w
			out = append(out, rewrapped{append([]byte(nil), s...), encodeVaultKey(k)})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range out {
			if err := keys.Put(r.subject, r.value); err != nil {
				return err
			}
		}
		n = len(out)
		return nil
	})
	return n, err
}

// WrappedKey implements eventstore.Vault.
func (v *Vault) WrappedKey(ctx context.Context, subject string) ([]byte, int, error) {
	k, found, err := v.lookup(subject)
	if err != nil {
		return nil, 0, err
	}
	if !found {
		return nil, 0, fmt.Errorf("%w: no data key for subject %s", eventstore.ErrNotFound, subject)
	}
	return k.wrapped, k.epoch, nil
}

// Close implements eventstore.Vault.
func (v *Vault) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.db == nil {
		return nil
	}
	err := v.db.Close()
	v.db = nil
	return err
}
