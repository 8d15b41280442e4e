package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

// leanColumns are the columns of ReadAllLean: what projectors use (see
// eventstore.LeanReader). Leaving out stream, version and the two hashes
// spares PostgreSQL a third of the bytes it would send per event.
const leanColumns = `position, id, type, schema, recorded_at, data, subject, sealed, meta`

var _ eventstore.LeanReader = (*Store)(nil)

// ReadAllLean implements eventstore.LeanReader.
func (s *Store) ReadAllLean(ctx context.Context, dst []eventstore.Event, from uint64, limit int) ([]eventstore.Event, error) {
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
	rows, err := s.pool.Query(ctx, `SELECT `+leanColumns+` FROM events WHERE position >= $1 ORDER BY position LIMIT $2`, int64(from), lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: read all: %w", mapErr(err))
	}
	return collectLean(rows, dst, limit)
}

// capHint sizes a page's slice: the whole page when the caller bounds it
// (growing a slice of large structs page after page is a copy and garbage
// per doubling), a small start otherwise.
func capHint(limit int) int {
	if limit <= 0 || limit > 1<<16 {
		return 256
	}
	return limit
}

// pgEpoch is 2000-01-01 in Unix microseconds (PostgreSQL's timestamp zero).
const pgEpochMicros = 946684800 * 1000000

// collect decodes rows straight from the binary wire format: no reflection,
// one allocation for the byte fields of each row, interned stream and type
// strings.
func collect(rows pgx.Rows, limit int) ([]eventstore.Event, error) {
	defer rows.Close()
	out := make([]eventstore.Event, 0, capHint(limit))
	binary1 := true
	for i, fd := range rows.FieldDescriptions() {
		// text columns are identical in both formats
		if fd.Format != pgx.BinaryFormatCode && i != 2 && i != 4 {
			binary1 = false
		}
	}
	intern := make(map[string]string)
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
		out = append(out, eventstore.Event{}) // in place: an Event is 300 bytes
		e := &out[len(out)-1]
		if !binary1 {
			if err := scanSlow(rows, e); err != nil {
				return nil, err
			}
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
			e.Subject = subjectString(v[8])
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
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read: %w", mapErr(err))
	}
	return out, nil
}

// collectLean is collect for leanColumns, writing over dst (see
// eventstore.LeanReader).
func collectLean(rows pgx.Rows, dst []eventstore.Event, limit int) ([]eventstore.Event, error) {
	defer rows.Close()
	out := dst[:0]
	if cap(out) < capHint(limit) {
		out = make([]eventstore.Event, 0, capHint(limit))
	}
	binary1 := true
	for i, fd := range rows.FieldDescriptions() {
		if fd.Format != pgx.BinaryFormatCode && i != 2 { // type is text: identical in both formats
			binary1 = false
		}
	}
	var types internTable
	for rows.Next() {
		out = append(out, eventstore.Event{}) // in place: an Event is 300 bytes
		e := &out[len(out)-1]
		if !binary1 {
			if err := scanSlowLean(rows, e); err != nil {
				return nil, err
			}
			continue
		}
		v := rows.RawValues()
		if len(v) != 9 || len(v[0]) != 8 || len(v[1]) != 16 || len(v[3]) != 4 || len(v[4]) != 8 {
			return nil, fmt.Errorf("postgres: read: unexpected row layout")
		}
		e.Position = binary.BigEndian.Uint64(v[0])
		e.ID = uuid.UUID(v[1])
		e.Type = types.str(v[2])
		e.Schema = int(int32(binary.BigEndian.Uint32(v[3])))
		e.RecordedAt = time.UnixMicro(int64(binary.BigEndian.Uint64(v[4])) + pgEpochMicros).UTC()
		buf := make([]byte, len(v[5])+len(v[7]))
		n := copy(buf, v[5])
		e.Data = buf[:n:n]
		if v[7] != nil {
			copy(buf[n:], v[7])
			e.Sealed = buf[n:]
		}
		if v[6] != nil {
			if len(v[6]) != 16 {
				return nil, fmt.Errorf("postgres: read: stored subject of position %d is not a uuid", e.Position)
			}
			e.Subject = subjectString(v[6])
		}
		if len(v[8]) > 0 {
			m, err := decodeMeta(v[8])
			if err != nil {
				return nil, err
			}
			e.Meta = m
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read: %w", mapErr(err))
	}
	return out, nil
}

// internTable returns one string per distinct value of a small set (event
// types), so a page does not allocate the same name per row.
type internTable map[string]string

func (t *internTable) str(b []byte) string {
	if v, ok := (*t)[string(b)]; ok {
		return v
	}
	if *t == nil {
		*t = make(internTable)
	}
	v := string(b)
	if len(*t) < 4096 {
		(*t)[v] = v
	}
	return v
}

// subjectCache remembers the canonical strings of recently read subjects,
// across reads and stores: rendering a uuid allocates, and a page of usage
// events names the same few thousand subjects over and over. It is a
// direct-mapped table of immutable entries, so readers on any number of
// connections share it without a lock; a collision just replaces an entry.
var subjectCache [4096]atomic.Pointer[subjectEntry]

type subjectEntry struct {
	id  [16]byte
	str string
}

// subjectString is uuid.UUID(b).String(), through subjectCache.
func subjectString(b []byte) string {
	id := [16]byte(b)
	// the last 8 bytes are random in v4 and v7 uuids alike
	slot := &subjectCache[binary.LittleEndian.Uint64(id[8:])%uint64(len(subjectCache))]
	if e := slot.Load(); e != nil && e.id == id {
		return e.str
	}
	e := &subjectEntry{id: id, str: uuid.UUID(id).String()}
	slot.Store(e)
	return e.str
}

func scanSlowLean(rows pgx.Rows, e *eventstore.Event) error {
	var (
		pos     int64
		schema  int32
		subject pgtype.UUID
		meta    []byte
	)
	if err := rows.Scan(&pos, &e.ID, &e.Type, &schema, &e.RecordedAt, &e.Data, &subject, &e.Sealed, &meta); err != nil {
		return fmt.Errorf("postgres: read: %w", mapErr(err))
	}
	e.Position, e.Schema = uint64(pos), int(schema)
	e.RecordedAt = e.RecordedAt.UTC()
	if subject.Valid {
		e.Subject = uuid.UUID(subject.Bytes).String()
	}
	m, err := decodeMeta(meta)
	e.Meta = m
	return err
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
