package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/eventstore"
)

const eventColumns = `position, id, stream, version, type, schema, recorded_at, data, subject, sealed, meta, prev_hash, hash`

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, from uint64, limit int) ([]eventstore.Event, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE position >= $1 ORDER BY position LIMIT $2`, int64(from), lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: read all: %w", mapErr(err))
	}
	return collect(rows, limit)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Event, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3`, stream, int64(from), lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: read stream: %w", mapErr(err))
	}
	return collect(rows, limit)
}

// pgEpoch is 2000-01-01 in Unix microseconds (PostgreSQL's timestamp zero).
const pgEpochMicros = 946684800 * 1000000

// collect decodes rows straight from the binary wire format: no reflection,
// one allocation for the byte fields of each row, interned stream and type
// strings.
func collect(rows pgx.Rows, limit int) ([]eventstore.Event, error) {
	defer rows.Close()
	capHint := limit
	if capHint <= 0 || capHint > 4096 {
		capHint = 256
	}
	out := make([]eventstore.Event, 0, capHint)
	binary1 := true
	for i, fd := range rows.FieldDescriptions() {
		// text columns are identical in both formats
		if fd.Format != pgx.BinaryFormatCode && i != 2 && i != 4 {
			binary1 = false
		}
	}
	intern := make(map[string]string)
	subjects := make(map[[16]byte]string)
	subjectStr := func(b []byte) string {
		k := [16]byte(b)
		if v, ok := subjects[k]; ok {
			return v
		}
		v := uuid.UUID(k).String()
		if len(subjects) < 4096 {
			subjects[k] = v
		}
		return v
	}
	str := func(b []byte) string {
		if v, ok := intern[string(b)]; ok {
			return v
		}
		v := string(b)
		if len(intern) < 4096 {
			intern[v] = v
		}
		return v
	}
	for rows.Next() {
		var e eventstore.Event
		if !binary1 {
			if err := scanSlow(rows, &e); err != nil {
				return nil, err
			}
			out = append(out, e)
			continue
		}
		v := rows.RawValues()
		if len(v) != 13 || len(v[0]) != 8 || len(v[1]) != 16 || len(v[3]) != 8 || len(v[5]) != 4 || len(v[6]) != 8 {
			return nil, fmt.Errorf("postgres: read: unexpected row layout")
		}
		e.Position = binary.BigEndian.Uint64(v[0])
		copy(e.ID[:], v[1])
		e.Stream = str(v[2])
		e.Version = binary.BigEndian.Uint64(v[3])
		e.Type = str(v[4])
		e.Schema = int(int32(binary.BigEndian.Uint32(v[5])))
		e.RecordedAt = time.UnixMicro(int64(binary.BigEndian.Uint64(v[6])) + pgEpochMicros).UTC()
		buf := make([]byte, len(v[7])+len(v[9]))
		n := copy(buf, v[7])
		e.Data = buf[:n:n]
		if v[9] != nil {
			copy(buf[n:], v[9])
			e.Sealed = buf[n:]
		}
		if v[8] != nil {
			if len(v[8]) != 16 {
				return nil, fmt.Errorf("postgres: read: stored subject of position %d is not a uuid", e.Position)
			}
			e.Subject = subjectStr(v[8])
		}
		m, err := decodeMeta(v[10])
		if err != nil {
			return nil, err
		}
		e.Meta = m
		if len(v[11]) != 32 || len(v[12]) != 32 {
			return nil, fmt.Errorf("postgres: read: stored hash of position %d is not 32 bytes", e.Position)
		}
		copy(e.PrevHash[:], v[11])
		copy(e.Hash[:], v[12])
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read: %w", mapErr(err))
	}
	return out, nil
}

func scanSlow(rows pgx.Rows, e *eventstore.Event) error {
	var (
		pos, version   int64
		schema         int32
		subject        pgtype.UUID
		meta, ph, hash []byte
	)
	if err := rows.Scan(&pos, &e.ID, &e.Stream, &version, &e.Type, &schema, &e.RecordedAt, &e.Data, &subject, &e.Sealed, &meta, &ph, &hash); err != nil {
		return fmt.Errorf("postgres: read: %w", mapErr(err))
	}
	e.Position, e.Version, e.Schema = uint64(pos), uint64(version), int(schema)
	e.RecordedAt = e.RecordedAt.UTC()
	if subject.Valid {
		e.Subject = uuid.UUID(subject.Bytes).String()
	}
	m, err := decodeMeta(meta)
	if err != nil {
		return err
	}
	e.Meta = m
	if e.PrevHash, err = eventstore.HashFromBytes(ph); err != nil {
		return err
	}
	e.Hash, err = eventstore.HashFromBytes(hash)
	return err
}
