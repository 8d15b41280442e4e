package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// usageCopy measures what PostgreSQL alone does with the rows usage
// ingestion writes: the usage events the warm-up stored, copied as they
// are (binary COPY, batches the size of the store's group commits, one
// transaction each, durable) into a table with the events table's columns,
// constraints and indexes. It is the ceiling of one writer for those rows on
// this machine, with none of the service's work (HTTP, checks, sealing, the
// hash chain) and none of its CPU; bench http reports ingestion against it
// beside the target ratio, so a reader can tell the service's overhead from
// the database's cost per row.
//
// The table grows the way the log does: it starts with a copy of the events
// table, and every pass over the captured rows copies them again with new
// positions, ids and versions, so the phase never writes into a smaller
// table (smaller indexes) than ingestion does. Emptied before each phase,
// as it first was, it answered 1.3-1.6x the rate the same rows reach in a
// table of the log's size, and overstated the ceiling.
type usageCopy struct {
	pool    *pgxpool.Pool
	batches [][]byte // complete binary COPY streams
	rows    []int    // rows per batch
	marks   [][]rowMarks
	pass    uint64 // passes over the batches begun; every row carries it
	next    int    // the batch the next phase starts with
}

// rowMarks are the offsets, in its batch, of a row's position, id and
// version values.
type rowMarks struct{ pos, id, version int32 }

// passShift moves the positions and versions of each pass past those of the
// one before (bench logs hold far fewer than 2^32 events or versions).
const passShift = 1 << 32

const usageCopyColumns = `position, id, stream, version, type, schema, recorded_at, data, subject, sealed, meta, prev_hash, hash`

// capture reads up to limit stored usage events in the binary COPY format
// and cuts them into batches of batchRows, and creates the target table.
func (u *usageCopy) capture(ctx context.Context, pool *pgxpool.Pool, limit, batchRows int) error {
	u.pool = pool
	q := `CREATE TABLE usage_copy (LIKE events INCLUDING ALL); INSERT INTO usage_copy (` + usageCopyColumns + `) SELECT ` + usageCopyColumns + ` FROM events`
	if _, err := pool.Exec(ctx, q); err != nil {
		return fmt.Errorf("usage copy: create table: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var all bytes.Buffer
	q = fmt.Sprintf(`COPY (SELECT %s FROM events WHERE type = 'usage.recorded' ORDER BY position LIMIT %d) TO STDOUT (FORMAT binary)`, usageCopyColumns, limit)
	if _, err := conn.Conn().PgConn().CopyTo(ctx, &all, q); err != nil {
		return fmt.Errorf("usage copy: capture: %w", err)
	}
	if err := u.split(all.Bytes(), batchRows); err != nil {
		return err
	}
	if len(u.batches) == 0 {
		return errors.New("usage copy: the warm-up stored no usage rows")
	}
	return nil
}

// split cuts one binary COPY stream of rows shaped as usageCopyColumns into
// complete streams of at most batchRows rows each, and marks where each
// row's position, id and version are.
func (u *usageCopy) split(stream []byte, batchRows int) error {
	header := len(copyHeader)
	if len(stream) < header+2 || !bytes.Equal(stream[:11], copyHeader[:11]) {
		return errors.New("usage copy: not a binary COPY stream")
	}
	ext := int(binary.BigEndian.Uint32(stream[15:19]))
	p := 19 + ext
	start, n := p, 0
	var marks []rowMarks
	flush := func(end int) {
		if n == 0 {
			return
		}
		b := append(append([]byte(nil), copyHeader...), stream[start:end]...)
		u.batches = append(u.batches, binary.BigEndian.AppendUint16(b, math.MaxUint16))
		u.rows = append(u.rows, n)
		u.marks = append(u.marks, marks)
		start, n, marks = end, 0, nil
	}
	for {
		if p+2 > len(stream) {
			return errors.New("usage copy: stream ends inside a row")
		}
		fields := binary.BigEndian.Uint16(stream[p:])
		if fields == math.MaxUint16 {
			flush(p)
			return nil
		}
		q := p + 2
		var m rowMarks
		base := len(copyHeader) - start // offset of stream[x] in its batch: x + base
		for f := range int(fields) {
			if q+4 > len(stream) {
				return errors.New("usage copy: stream ends inside a row")
			}
			l := int32(binary.BigEndian.Uint32(stream[q:]))
			q += 4
			at := int32(q + base)
			switch {
			case f == 0 && l == 8:
				m.pos = at
			case f == 1 && l == 16:
				m.id = at
			case f == 3 && l == 8:
				m.version = at
			case f < 4 && f != 2:
				return fmt.Errorf("usage copy: field %d of a row is %d bytes, not a position, id or version", f, l)
			}
			if l > 0 {
				q += int(l)
			}
		}
		if q > len(stream) {
			return errors.New("usage copy: stream ends inside a row")
		}
		if fields < 4 {
			return errors.New("usage copy: a row has fewer fields than position, id, stream and version")
		}
		marks = append(marks, m)
		p = q
		if n++; n == batchRows {
			flush(p)
		}
	}
}

// copyHeader is the binary COPY signature, flags and an empty extension.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// advance starts a pass: every row's position and version move passShift
// past the previous pass's, and its id takes the new pass's mask (the
// captured ids XOR a value of the pass; ids are random UUIDs, so no two rows
// of any passes collide). The captured rows are stored in the events table
// the copy starts from, so the first pass changes them too.
func (u *usageCopy) advance() {
	prev, next := passMask(u.pass), passMask(u.pass+1)
	u.pass++
	for i, b := range u.batches {
		for _, m := range u.marks[i] {
			addUint64(b[m.pos:], passShift)
			addUint64(b[m.version:], passShift)
			binary.BigEndian.PutUint64(b[m.id:], binary.BigEndian.Uint64(b[m.id:])^prev^next)
		}
	}
}

func passMask(pass uint64) uint64 { return pass * 0x9e3779b97f4a7c15 }

func addUint64(b []byte, d uint64) { binary.BigEndian.PutUint64(b, binary.BigEndian.Uint64(b)+d) }

// phase copies the captured batches in order, one transaction each, for d,
// going on from where the previous phase stopped and starting a new pass
// when they run out.
func (u *usageCopy) phase(d time.Duration) func(context.Context) (*benchResult, error) {
	return func(ctx context.Context) (*benchResult, error) {
		conn, err := u.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		defer conn.Release()
		sql := `COPY usage_copy (` + usageCopyColumns + `) FROM STDIN (FORMAT binary)`
		res := &benchResult{}
		start := time.Now()
		for time.Since(start) < d {
			if u.next == 0 {
				u.advance()
			}
			if _, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(u.batches[u.next]), sql); err != nil {
				return nil, fmt.Errorf("usage copy: %w", err)
			}
			res.events += int64(u.rows[u.next])
			u.next = (u.next + 1) % len(u.batches)
		}
		res.elapsed = time.Since(start)
		return res, nil
	}
}
