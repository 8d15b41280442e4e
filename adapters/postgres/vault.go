package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/eventstore"
)

// vaultMigrations create the vault's tables (component "vault"). A key row
// holds only the wrapped DEK; a tombstone holds no key material at all.
var vaultMigrations = []Migration{{
	Version: 1,
	Name:    "vault keys and tombstones",
	SQL: `
CREATE TABLE IF NOT EXISTS vault_keys (
	subject    text        PRIMARY KEY,
	key_id     uuid        NOT NULL,
	epoch      integer     NOT NULL,
	wrapped    bytea       NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS vault_shredded (
	subject     text        PRIMARY KEY,
	key_id      uuid,
	shredded_at timestamptz NOT NULL
);
`,
}}

// vaultLockClass is the first key of the per-subject advisory locks that
// serialise key creation with shredding across processes.
const vaultLockClass = 0x766c7431 // "vlt1"

// rewrapPage bounds the keys re-wrapped per round trip.
const rewrapPage = 500

// Vault is eventstore.Vault on PostgreSQL: tables vault_keys and
// vault_shredded in the pool's schema. Creating and shredding a subject's key
// take a transaction-scoped advisory lock on the subject, so they are safe
// across processes. A shred deletes the key row, which PostgreSQL keeps as a
// dead tuple (and in WAL and backups) for a while: KEK rotation
// (eventstore.RotateKEK) is what makes those copies unreadable.
//
// Keys created while RewrapAll runs in the same process are waited for;
// a rotation must not run while another process creates keys with a keyring
// that has not seen the new epoch.
type Vault struct {
	pool   *pgxpool.Pool
	kr     eventstore.Keyring
	rot    sync.RWMutex // shared while creating a key, exclusive in RewrapAll
	closed atomic.Bool
}

var _ eventstore.Vault = (*Vault)(nil)

// NewVault returns a vault over pool (which the caller keeps owning), creating
// its tables if missing.
func NewVault(ctx context.Context, pool *pgxpool.Pool, keyring eventstore.Keyring) (*Vault, error) {
	if pool == nil || keyring == nil {
		return nil, errors.New("postgres: vault needs a pool and a keyring")
	}
	if err := ApplyMigrations(ctx, pool, "vault", vaultMigrations); err != nil {
		return nil, err
	}
	return &Vault{pool: pool, kr: keyring}, nil
}

type keyRow struct {
	id      uuid.UUID
	epoch   int
	wrapped []byte
}

// lookup reads the subject's key row and tombstone in one round trip.
func (v *Vault) lookup(ctx context.Context, subject string) (keyRow, bool, error) {
	if v.closed.Load() {
		return keyRow{}, false, eventstore.ErrClosed
	}
	var (
		id      pgtype.UUID
		epoch   pgtype.Int4
		wrapped []byte
		gone    pgtype.Timestamptz
	)
	err := v.pool.QueryRow(ctx, `
SELECT k.key_id, k.epoch, k.wrapped, s.shredded_at
FROM (SELECT $1::text AS subject) q
LEFT JOIN vault_keys k ON k.subject = q.subject
LEFT JOIN vault_shredded s ON s.subject = q.subject`, subject).Scan(&id, &epoch, &wrapped, &gone)
	if err != nil {
		return keyRow{}, false, mapErr(err)
	}
	if gone.Valid {
		return keyRow{}, false, fmt.Errorf("%w: subject %s", eventstore.ErrKeyShredded, subject)
	}
	if !id.Valid {
		return keyRow{}, false, nil
	}
	return keyRow{id: id.Bytes, epoch: int(epoch.Int32), wrapped: wrapped}, true, nil
}

func (v *Vault) unwrap(subject string, k keyRow) (eventstore.DEK, error) {
	d, err := eventstore.UnwrapWith(v.kr, k.wrapped, subject, k.epoch)
	if err == nil && d.ID != k.id {
		return eventstore.DEK{}, fmt.Errorf("%w: key id of subject %s does not match its row", eventstore.ErrSealBroken, subject)
	}
	return d, err
}

func lockSubject(ctx context.Context, tx pgx.Tx, subject string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || '/' || $2::text))`, int32(vaultLockClass), subject)
	return err
}

// DataKey implements eventstore.Vault.
func (v *Vault) DataKey(ctx context.Context, subject string) (eventstore.DEK, error) {
	if k, ok, err := v.lookup(ctx, subject); err != nil || ok {
		if err != nil {
			return eventstore.DEK{}, err
		}
		return v.unwrap(subject, k)
	}
	v.rot.RLock()
	defer v.rot.RUnlock()
	dek, err := eventstore.NewDEK()
	if err != nil {
		return eventstore.DEK{}, err
	}
	wrapped, epoch, err := eventstore.WrapCurrent(v.kr, subject, dek)
	if err != nil {
		return eventstore.DEK{}, err
	}
	var stored keyRow
	shredded := false
	err = pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		if err := lockSubject(ctx, tx, subject); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vault_shredded WHERE subject = $1)`, subject).Scan(&shredded); err != nil || shredded {
			return err
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO vault_keys (subject, key_id, epoch, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (subject) DO NOTHING`, subject, dek.ID, epoch, wrapped, eventstore.Now()); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT key_id, epoch, wrapped FROM vault_keys WHERE subject = $1`, subject).
			Scan(&stored.id, &stored.epoch, &stored.wrapped)
	})
	switch {
	case err != nil:
		return eventstore.DEK{}, mapErr(err)
	case shredded:
		return eventstore.DEK{}, fmt.Errorf("%w: subject %s", eventstore.ErrKeyShredded, subject)
	case stored.id == dek.ID:
		return dek, nil
	}
	return v.unwrap(subject, stored) // another process created it first
}

// OpenKey implements eventstore.Vault.
func (v *Vault) OpenKey(ctx context.Context, subject string) (eventstore.DEK, error) {
	k, ok, err := v.lookup(ctx, subject)
	if err != nil {
		return eventstore.DEK{}, err
	}
	if !ok {
		return eventstore.DEK{}, fmt.Errorf("%w: no data key for subject %s", eventstore.ErrNotFound, subject)
	}
	return v.unwrap(subject, k)
}

// Shred implements eventstore.Vault: the key row is deleted and the
// tombstone written in one transaction.
func (v *Vault) Shred(ctx context.Context, subject string) (eventstore.ShredResult, error) {
	if v.closed.Load() {
		return eventstore.ShredResult{}, eventstore.ErrClosed
	}
	var res eventstore.ShredResult
	err := pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		res = eventstore.ShredResult{}
		if err := lockSubject(ctx, tx, subject); err != nil {
			return err
		}
		var id pgtype.UUID
		err := tx.QueryRow(ctx, `SELECT key_id, shredded_at FROM vault_shredded WHERE subject = $1`, subject).Scan(&id, &res.ShreddedAt)
		if err == nil {
			res.KeyID, res.AlreadyShredded = id.Bytes, true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		err = tx.QueryRow(ctx, `DELETE FROM vault_keys WHERE subject = $1 RETURNING key_id`, subject).Scan(&id)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		res.KeyID, res.ShreddedAt = id.Bytes, eventstore.Now()
		_, err = tx.Exec(ctx, `INSERT INTO vault_shredded (subject, key_id, shredded_at) VALUES ($1, $2, $3)`, subject, id, res.ShreddedAt)
		return err
	})
	if err != nil {
		return eventstore.ShredResult{}, mapErr(err)
	}
	res.ShreddedAt = res.ShreddedAt.UTC()
	return res, nil
}

// RewrapAll implements eventstore.Vault. Each key is updated only if it is
// still the row that was read, so a concurrent shred simply wins.
func (v *Vault) RewrapAll(ctx context.Context, newEpoch int) (int, error) {
	if v.closed.Load() {
		return 0, eventstore.ErrClosed
	}
	v.rot.Lock()
	defer v.rot.Unlock()
	keks := eventstore.NewKEKCache(v.kr)
	defer keks.Clear()
	newKEK, err := keks.Get(newEpoch)
	if err != nil {
		return 0, err
	}
	n, after := 0, ""
	for {
		rows, err := v.pool.Query(ctx, `
SELECT subject, key_id, epoch, wrapped FROM vault_keys
WHERE epoch <> $1 AND subject > $2 ORDER BY subject LIMIT $3`, newEpoch, after, rewrapPage)
		if err != nil {
			return n, mapErr(err)
		}
		type item struct {
			subject string
			k       keyRow
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (item, error) {
			var it item
			err := r.Scan(&it.subject, &it.k.id, &it.k.epoch, &it.k.wrapped)
			return it, err
		})
		if err != nil {
			return n, mapErr(err)
		}
		if len(page) == 0 {
			return n, nil
		}
		batch := &pgx.Batch{}
		for _, it := range page {
			oldKEK, err := keks.Get(it.k.epoch)
			if err != nil {
				return n, fmt.Errorf("subject %s: %w", it.subject, err)
			}
			w, err := eventstore.Rewrap(oldKEK, newKEK, it.subject, it.k.epoch, newEpoch, it.k.wrapped)
			if err != nil {
				return n, err
			}
			batch.Queue(`UPDATE vault_keys SET epoch = $1, wrapped = $2 WHERE subject = $3 AND key_id = $4 AND epoch = $5`,
				newEpoch, w, it.subject, it.k.id, it.k.epoch)
		}
		br := v.pool.SendBatch(ctx, batch)
		for range page {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return n, mapErr(err)
			}
			n += int(tag.RowsAffected())
		}
		if err := br.Close(); err != nil {
			return n, mapErr(err)
		}
		after = page[len(page)-1].subject
	}
}

// WrappedKey implements eventstore.Vault.
func (v *Vault) WrappedKey(ctx context.Context, subject string) ([]byte, int, error) {
	k, ok, err := v.lookup(ctx, subject)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("%w: no data key for subject %s", eventstore.ErrNotFound, subject)
	}
	return k.wrapped, k.epoch, nil
}

// Close stops the vault; the pool stays open (its owner closes it).
func (v *Vault) Close() error {
	v.closed.Store(true)
	return nil
}
