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

// leanColumns are the columns of ReadAllLean: what projectors use (see
// eventstore.LeanReader). Leaving out stream, version and the two hashes
// spares PostgreSQL a third of the bytes it would send per event. The full
// envelope lists them after the lean ones, so one decoder reads both.
const (
	leanColumns  = `position, id, type, schema, recorded_at, data, subject, sealed, meta`
	eventColumns = leanColumns + `, stream, version, prev_hash, hash`
)

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, from uint64, limit int) ([]eventstore.Event, error) {
	f, lim := bounds(from, limit)
	return s.read(ctx, "read all", eventColumns, nil, limit, `WHERE position >= $1 ORDER BY position LIMIT $2`, f, lim)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Event, error) {
	f, lim := bounds(from, limit)
	return s.read(ctx, "read stream", eventColumns, nil, limit, `WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3`, stream, f, lim)
}

var _ eventstore.LeanReader = (*Store)(nil)

// ReadAllLean implements eventstore.LeanReader.
func (s *Store) ReadAllLean(ctx context.Context, dst []eventstore.Event, from uint64, limit int) ([]eventstore.Event, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if page, ok := s.recent.read(dst, max(from, 1), limit); ok {
		s.stats.recentReads.Add(uint64(len(page)))
		return page, nil // committed by this process moments ago: see recentCommits
	}
	f, lim := bounds(from, limit)
	return s.read(ctx, "read all", leanColumns, dst, limit, `WHERE position >= $1 ORDER BY position LIMIT $2`, f, lim)
}

// bounds turns a read's start and limit into query arguments: 0 starts at 1,
// a limit of 0 or less means none.
func bounds(from uint64, limit int) (int64, *int64) {
	if from == 0 {
		from = 1
	}
	if limit <= 0 {
		return int64(from), nil
	}
	l := int64(limit)
	return int64(from), &l
}

// read selects columns (eventColumns or leanColumns) of the events that
// where (a WHERE ... ORDER BY ... LIMIT clause) names and collects them over
// dst.
func (s *Store) read(ctx context.Context, op, columns string, dst []eventstore.Event, limit int, where string, args ...any) ([]eventstore.Event, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM events `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, mapErr(err))
	}
	return collect(rows, dst, limit)
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

// collect decodes rows of eventColumns or leanColumns over dst straight from
// the binary wire format: no reflection, one allocation for the byte fields
// of each row, interned stream and type strings.
func collect(rows pgx.Rows, dst []eventstore.Event, limit int) ([]eventstore.Event, error) {
	defer rows.Close()
	out := dst[:0]
	if cap(out) < capHint(limit) {
		out = make([]eventstore.Event, 0, capHint(limit))
	}
	fds := rows.FieldDescriptions()
	full := len(fds) == 13
	binary1 := true
	for i, fd := range fds {
		// type and stream are text: identical in both formats
		if fd.Format != pgx.BinaryFormatCode && i != 2 && i != 9 {
			binary1 = false
		}
	}
	var strs internTable
	for rows.Next() {
		out = append(out, eventstore.Event{}) // in place: an Event is 300 bytes
		e := &out[len(out)-1]
		var err error
		if binary1 {
			err = decodeRow(rows.RawValues(), e, full, &strs)
		} else {
			err = scanSlow(rows, e, full)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read: %w", mapErr(err))
	}
	return out, nil
}

// decodeRow decodes one row's binary values: the lean columns, and when full
// the rest of the envelope.
func decodeRow(v [][]byte, e *eventstore.Event, full bool, strs *internTable) error {
	n := 9
	if full {
		n = 13
	}
	if len(v) != n || len(v[0]) != 8 || len(v[1]) != 16 || len(v[3]) != 4 || len(v[4]) != 8 || (full && len(v[10]) != 8) {
		return fmt.Errorf("postgres: read: unexpected row layout")
	}
	e.Position = binary.BigEndian.Uint64(v[0])
	e.ID = uuid.UUID(v[1])
	e.Type = strs.str(v[2])
	e.Schema = int(int32(binary.BigEndian.Uint32(v[3])))
	e.RecordedAt = time.UnixMicro(int64(binary.BigEndian.Uint64(v[4])) + pgEpochMicros).UTC()
	e.Data, e.Sealed = ownPayload(v[5], v[7])
	if v[6] != nil {
		if len(v[6]) != 16 {
			return fmt.Errorf("postgres: read: stored subject of position %d is not a uuid", e.Position)
		}
		e.Subject = subjectString(v[6])
	}
	m, err := decodeMeta(v[8])
	if err != nil {
		return err
	}
	e.Meta = m
	if !full {
		return nil
	}
	e.Stream = strs.str(v[9])
	e.Version = binary.BigEndian.Uint64(v[10])
	if len(v[11]) != 32 || len(v[12]) != 32 {
		return fmt.Errorf("postgres: read: stored hash of position %d is not 32 bytes", e.Position)
	}
	copy(e.PrevHash[:], v[11])
	copy(e.Hash[:], v[12])
	return nil
}

// ownPayload copies an event's data and sealed part into one allocation
// (sealed stays nil when absent): the bytes a read hands out are the
// caller's, whatever buffer they came from.
func ownPayload(data, sealed []byte) ([]byte, []byte) {
	buf := make([]byte, len(data)+len(sealed))
	k := copy(buf, data)
	if sealed == nil {
		return buf[:k:k], nil
	}
	copy(buf[k:], sealed)
	return buf[:k:k], buf[k:]
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

// scanSlow is decodeRow through pgx's scanning, for a connection that did
// not return binary values.
func scanSlow(rows pgx.Rows, e *eventstore.Event, full bool) error {
	var (
		pos, version   int64
		schema         int32
		subject        pgtype.UUID
		meta, ph, hash []byte
	)
	dest := []any{&pos, &e.ID, &e.Type, &schema, &e.RecordedAt, &e.Data, &subject, &e.Sealed, &meta}
	if full {
		dest = append(dest, &e.Stream, &version, &ph, &hash)
	}
	if err := rows.Scan(dest...); err != nil {
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
	if !full {
		return nil
	}
	if e.PrevHash, err = eventstore.HashFromBytes(ph); err != nil {
		return err
	}
	e.Hash, err = eventstore.HashFromBytes(hash)
	return err
}
