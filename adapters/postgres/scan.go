package postgres

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/eventstore"
)

// TableScanner searches every table of the connections' current schema
// (event log, vault, read models, checkpoints, anything else there) row by
// row in its text form, whatever the application's queries would return.
// bytea columns render as hex, so ciphertext never matches plaintext by
// accident; jsonb and text columns render as written.
type TableScanner struct {
	Pool *pgxpool.Pool
}

var _ eventstore.StoreScanner = TableScanner{}

// Scan implements eventstore.StoreScanner.
func (t TableScanner) Scan(ctx context.Context, needles [][]byte) ([]eventstore.Finding, error) {
	if t.Pool == nil {
		return nil, fmt.Errorf("postgres: TableScanner needs a pool")
	}
	rows, err := t.Pool.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
		FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: scan: list tables: %w", mapErr(err))
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: scan: list tables: %w", mapErr(err))
	}
	var out []eventstore.Finding
	for _, table := range tables {
		found, err := scanTable(ctx, t.Pool, table, needles)
		if err != nil {
			return nil, err
		}
		idx := make([]int, 0, len(found))
		for i := range found {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			out = append(out, eventstore.Finding{Store: "postgres", Location: fmt.Sprintf("table %s, row %d", table, found[i]), Needle: i})
		}
	}
	return out, nil
}

// scanTable returns, per needle found, the 1-based number of the first row
// holding it.
func scanTable(ctx context.Context, pool *pgxpool.Pool, table string, needles [][]byte) (map[int]int64, error) {
	rows, err := pool.Query(ctx, `SELECT t::text FROM `+table+` t`, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan %s: %w", table, mapErr(err))
	}
	defer rows.Close()
	found := map[int]int64{}
	var n int64
	for rows.Next() {
		n++
		row := rows.RawValues()[0]
		m := eventstore.NewChunkMatcher(needles)
		m.Write(row)
		for i := range m.Found() {
			if _, ok := found[i]; !ok {
				found[i] = n
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: scan %s: %w", table, mapErr(err))
	}
	return found, nil
}
