package postgres

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one forward-only schema change of a component. Versions are
// per component, start at 1 and must never be renumbered or edited once
// released: add a new one instead.
type Migration struct {
	Version int
	Name    string
	SQL     string // may hold several statements
}

// ApplyMigrations applies, in version order and each in its own transaction,
// the migrations of component not yet recorded in schema_migrations (in the
// connections' current schema). It is idempotent and safe to run from several
// processes at once: a transaction-scoped advisory lock serialises migrators of
// the same schema. Other packages (vault, read models) call it with their own
// component name.
func ApplyMigrations(ctx context.Context, pool *pgxpool.Pool, component string, migrations []Migration) error {
	if component == "" {
		return fmt.Errorf("postgres: migrations need a component name")
	}
	ms := append([]Migration(nil), migrations...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version < 1 || (i > 0 && ms[i-1].Version == m.Version) {
			return fmt.Errorf("postgres: %s migration %q: version %d must be >= 1 and unique", component, m.Name, m.Version)
		}
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ledgerline/migrate/' || current_schema()))`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				component  text        NOT NULL,
				version    integer     NOT NULL,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now(),
				PRIMARY KEY (component, version))`); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE component = $1 AND version = $2)`,
				component, m.Version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)`, component, m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: %s migration %d (%s): %w", component, m.Version, m.Name, mapErr(err))
		}
	}
	return nil
}

// migrations of the event store (component "eventstore").
var storeMigrations = []Migration{{
	Version: 1,
	Name:    "events and head",
	SQL: `
CREATE TABLE IF NOT EXISTS events (
	position    bigint      PRIMARY KEY,
	id          uuid        NOT NULL UNIQUE,
	stream      text        NOT NULL,
	version     bigint      NOT NULL,
	type        text        NOT NULL,
	schema      integer     NOT NULL,
	recorded_at timestamptz NOT NULL,
	data        bytea       NOT NULL,
	subject     text,
	sealed      bytea,
	meta        bytea,
	prev_hash   bytea       NOT NULL,
	hash        bytea       NOT NULL,
	UNIQUE (stream, version)
);
CREATE INDEX IF NOT EXISTS events_subject ON events (subject, position) WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS head (
	one      boolean PRIMARY KEY DEFAULT true CHECK (one),
	position bigint  NOT NULL,
	hash     bytea   NOT NULL
);
INSERT INTO head (one, position, hash) VALUES (true, 0, decode(repeat('00', 32), 'hex')) ON CONFLICT DO NOTHING;
`,
}, {
	Version: 2,
	Name:    "subject index without position",
	// A subject's events are only ever looked up by equality (export,
	// erasure verification). A btree on (subject, position) has a unique
	// 36-byte-text key per event and cost sealed appends 10-15% of their
	// throughput. A btree on subject alone deduplicates (PostgreSQL 13+ keeps
	// one key with a posting list of row ids), so it stays small and cheap
	// to extend: sealed appends went from ~0.72 to ~0.8 of plain ones (bench
	// vault). A hash index measured the same but degrades with many rows per
	// key (overflow chains), which is exactly a heavy customer's usage.
	SQL: `
DROP INDEX IF EXISTS events_subject;
CREATE INDEX IF NOT EXISTS events_subject_only ON events (subject) WHERE subject IS NOT NULL;
`,
}, {
	Version: 3,
	Name:    "subject as uuid",
	// Subjects are UUIDs in canonical form (eventstore.PrepareAppend checks
	// it): 16 bytes in the row and the index instead of 37, sent and read in
	// binary (no text cast on either side).
	SQL: `
ALTER TABLE events ALTER COLUMN subject TYPE uuid USING subject::uuid;
`,
}, {
	Version: 4,
	Name:    "guarded head move that fails",
	// A large group commit goes to the server as one simple query (BEGIN,
	// lock, head check, COPY, head move, notify, COMMIT) with the rows
	// streamed behind it while the committer is still hashing them.
	// Statements of one query cannot test each other's results, so the check
	// raises when the head is no longer where the committer last left it
	// (before any row is copied: with several nodes that is the common miss),
	// the rest of the query, COMMIT included, is then skipped; the move
	// guards again and takes the new head's hash from the last row copied.
	SQL: `
CREATE OR REPLACE FUNCTION ledgerline_check_head(old_pos bigint, old_hash bytea)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM head WHERE position = old_pos AND hash = old_hash;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ledgerline: the log head moved' USING ERRCODE = '` + headMovedCode + `';
	END IF;
END
$$;
CREATE OR REPLACE FUNCTION ledgerline_move_head(old_pos bigint, old_hash bytea, new_pos bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	UPDATE head SET position = new_pos, hash = (SELECT e.hash FROM events e WHERE e.position = new_pos)
	WHERE position = old_pos AND hash = old_hash;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ledgerline: the log head moved' USING ERRCODE = '` + headMovedCode + `';
	END IF;
END
$$;
`,
}}
