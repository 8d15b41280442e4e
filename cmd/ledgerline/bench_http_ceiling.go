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
type usageCopy struct {
	pool    *pgxpool.Pool
	batches [][]byte // complete binary COPY streams
	rows    []int    // rows per batch
}

const usageCopyColumns = `position, id, stream, version, type, schema, recorded_at, data, subject, sealed, meta, prev_hash, hash`

// capture reads up to limit stored usage events in the binary COPY format
// and cuts them into batches of batchRows, and creates the target table.
func (u *usageCopy) capture(ctx context.Context, pool *pgxpool.Pool, limit, batchRows int) error {
	u.pool = pool
	if _, err := pool.Exec(ctx, `CREATE TABLE usage_copy (LIKE events INCLUDING ALL)`); err != nil {
		return fmt.Errorf("usage copy: create table: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var all bytes.Buffer
	q := fmt.Sprintf(`COPY (SELECT %s FROM events WHERE type = 'usage.recorded' ORDER BY position LIMIT %d) TO STDOUT (FORMAT binary)`, usageCopyColumns, limit)
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

// split cuts one binary COPY stream into complete streams of at most
// batchRows rows each.
func (u *usageCopy) split(stream []byte, batchRows int) error {
	header := len(copyHeader)
	if len(stream) < header+2 || !bytes.Equal(stream[:11], copyHeader[:11]) {
		return errors.New("usage copy: not a binary COPY stream")
	}
	ext := int(binary.BigEndian.Uint32(stream[15:19]))
	p := 19 + ext
	start, n := p, 0
	flush := func(end int) {
		if n == 0 {
			return
		}
		b := append(append([]byte(nil), copyHeader...), stream[start:end]...)
		u.batches = append(u.batches, binary.BigEndian.AppendUint16(b, math.MaxUint16))
		u.rows = append(u.rows, n)
		start, n = end, 0
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
		for range fields {
			if q+4 > len(stream) {
				return errors.New("usage copy: stream ends inside a row")
			}
			l := int32(binary.BigEndian.Uint32(stream[q:]))
			q += 4
			if l > 0 {
				q += int(l)
			}
		}
		p = q
		if n++; n == batchRows {
			flush(p)
		}
	}
}

// copyHeader is the binary COPY signature, flags and an empty extension.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// phase empties the table (not timed) and copies the captured batches in
// order, one transaction each, until they run out or d has passed.
func (u *usageCopy) phase(d time.Duration) func(context.Context) (*benchResult, error) {
	return func(ctx context.Context) (*benchResult, error) {
		if _, err := u.pool.Exec(ctx, `TRUNCATE usage_copy`); err != nil {
			return nil, err
		}
		conn, err := u.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		defer conn.Release()
		sql := `COPY usage_copy (` + usageCopyColumns + `) FROM STDIN (FORMAT binary)`
		res := &benchResult{}
		start := time.Now()
		for i, b := range u.batches {
			if time.Since(start) >= d {
				break
			}
			if _, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(b), sql); err != nil {
				return nil, fmt.Errorf("usage copy: %w", err)
			}
			res.events += int64(u.rows[i])
		}
		res.elapsed = time.Since(start)
		return res, nil
	}
}
