package postgres

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/projections"
)

// Usage is most of the rows a rebuild writes (one per account, key, model,
// provider and day), so its writes are the projector's largest cost. A
// batch's buckets split in two:
//
//   - buckets on a day after the account's last stored day cannot exist
//     yet: they go in with a plain INSERT, which spares PostgreSQL the
//     speculative insertion of ON CONFLICT (a third of the cost per row);
//   - the others (today's bucket, late events) are added with an upsert.
//
// The last stored day is read in the load round trip, for batches of at
// least usageSplitMin records: a small batch (a live runner's) mostly adds
// to today's buckets, so it upserts everything and spares the lookup.
// Nobody else writes rm_usage in between: every writer is a projector
// holding the usage checkpoint row lock. Where that lock cannot hold (a new
// database has no checkpoint row to lock yet) the primary key turns a
// racing plain INSERT into an error, never into a wrong sum.
//
// The arrays are unnested in the select list (one ProjectSet node stepping
// them together; they have the same length) rather than in FROM, which
// materialises each of the eleven arrays first: about a tenth faster.
const (
	usageInsertSQL = `INSERT INTO rm_usage (account_id, day, key_id, model, provider, requests, input_tokens, output_tokens, cost_micros, errors, error_reports)
	SELECT unnest($1::uuid[]), unnest($2::date[]), unnest($3::uuid[]), unnest($4::text[]), unnest($5::text[]),
		unnest($6::int8[]), unnest($7::int8[]), unnest($8::int8[]), unnest($9::int8[]), unnest($10::int8[]), unnest($11::int8[])`
	usageUpsertSQL = usageInsertSQL + `
	ON CONFLICT (account_id, day, key_id, model, provider) DO UPDATE SET
		requests = rm_usage.requests + EXCLUDED.requests, input_tokens = rm_usage.input_tokens + EXCLUDED.input_tokens,
		output_tokens = rm_usage.output_tokens + EXCLUDED.output_tokens, cost_micros = rm_usage.cost_micros + EXCLUDED.cost_micros,
		errors = rm_usage.errors + EXCLUDED.errors, error_reports = rm_usage.error_reports + EXCLUDED.error_reports`
	// one primary-key descent per account (min/max optimisation)
	usageLastDaySQL = `SELECT a.id, (SELECT max(day) FROM rm_usage WHERE account_id = a.id) FROM unnest($1::uuid[]) AS a(id)`
)

// usageSplitMin is the batch size from which the projector looks up the
// last stored days (see above) and folds usage in a goroutine. It is below
// the page size of the differential suite, which so covers both ways.
const usageSplitMin = 64

// usageBucket is one bucket's delta.
type usageBucket struct {
	key projections.UsageKey
	projections.UsageCounts
}

// usageFolded is a batch's usage: its buckets in primary key order (so
// consecutive rows land on the same index pages), or the fold's error.
type usageFolded struct {
	buckets []usageBucket
	err     error
}

// foldUsage folds records into one delta per bucket.
func foldUsage(records []projections.Record) usageFolded {
	deltas := map[projections.UsageKey]*projections.UsageCounts{}
	if err := projections.FoldUsage(records, deltas); err != nil {
		return usageFolded{err: err}
	}
	out := make([]usageBucket, 0, len(deltas))
	for k, c := range deltas {
		out = append(out, usageBucket{k, *c})
	}
	slices.SortFunc(out, func(a, b usageBucket) int {
		if c := bytes.Compare(a.key.AccountID[:], b.key.AccountID[:]); c != 0 {
			return c
		}
		if c := a.key.Day.Compare(b.key.Day); c != 0 {
			return c
		}
		if c := bytes.Compare(a.key.KeyID[:], b.key.KeyID[:]); c != 0 {
			return c
		}
		if c := strings.Compare(a.key.Model, b.key.Model); c != 0 {
			return c
		}
		return strings.Compare(a.key.Provider, b.key.Provider)
	})
	return usageFolded{buckets: out}
}

// usageFold is foldUsage running in a goroutine: the fold needs no stored
// rows, so it runs while the transaction starts, locks the checkpoints and
// loads the other models' rows.
type usageFold struct {
	ch   chan usageFolded
	res  usageFolded
	done bool
}

func foldUsageAsync(records []projections.Record) *usageFold {
	f := &usageFold{ch: make(chan usageFolded, 1)}
	go func() { f.ch <- foldUsage(records) }()
	return f
}

// wait returns the fold's result. The projector always waits before
// ApplyBatch returns, so the goroutine never reads a batch its caller may
// already be reusing.
func (f *usageFold) wait() usageFolded {
	if !f.done {
		f.res, f.done = <-f.ch, true
	}
	return f.res
}

// usageWork is the usage share of a batch: the folded buckets and the last
// stored day of the accounts with usage in the batch (the zero time for an
// account with none).
type usageWork struct {
	usageFolded
	lastDay map[uuid.UUID]time.Time
}

// queueLoad queues the last-day lookup of the accounts with usage in
// records. It takes them from the records, not from the fold, so the load
// need not wait for the fold.
func (u *usageWork) queueLoad(b *pgx.Batch, records []projections.Record) {
	u.lastDay = map[uuid.UUID]time.Time{}
	if len(records) < usageSplitMin {
		return
	}
	seen := map[uuid.UUID]bool{}
	var accs []pgtype.UUID
	for i := range records {
		var id uuid.UUID
		switch e := records[i].Payload.(type) {
		case usage.Recorded:
			id = e.AccountID
		case usage.ErrorReported:
			id = e.AccountID
		default:
			continue
		}
		if !seen[id] {
			seen[id] = true
			accs = append(accs, pgtype.UUID{Bytes: id, Valid: true})
		}
	}
	if len(accs) == 0 {
		return
	}
	b.Queue(usageLastDaySQL, accs).Query(func(rows pgx.Rows) error {
		return scanAll(rows, func(rows pgx.Rows) error {
			var id uuid.UUID
			var day *time.Time
			if err := rows.Scan(&id, &day); err != nil {
				return err
			}
			u.lastDay[id] = time.Time{}
			if day != nil {
				u.lastDay[id] = projections.Day(*day)
			}
			return nil
		})
	})
}

// queueWrite queues the plain insert of the buckets that cannot exist yet
// and the upsert of the others (which include, to be safe, any bucket whose
// account was not looked up).
func (u *usageWork) queueWrite(b *pgx.Batch) {
	var fresh, old []usageBucket
	for _, k := range u.buckets {
		if last, ok := u.lastDay[k.key.AccountID]; ok && (last.IsZero() || k.key.Day.After(last)) {
			fresh = append(fresh, k)
		} else {
			old = append(old, k)
		}
	}
	if len(fresh) > 0 {
		b.Queue(usageInsertSQL, usageArgs(fresh)...)
	}
	if len(old) > 0 {
		b.Queue(usageUpsertSQL, usageArgs(old)...)
	}
}

// usageArgs renders buckets as the statements' column arrays.
func usageArgs(buckets []usageBucket) []any {
	n := len(buckets)
	acc, key := make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	day := make([]time.Time, n)
	model, prov := make([]string, n), make([]string, n)
	req, in, out, cost, errs, reps := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, u := range buckets {
		acc[i] = pgtype.UUID{Bytes: u.key.AccountID, Valid: true}
		key[i] = pgtype.UUID{Bytes: u.key.KeyID, Valid: true}
		day[i], model[i], prov[i] = u.key.Day, u.key.Model, u.key.Provider
		req[i], in[i], out[i], cost[i], errs[i], reps[i] = u.Requests, u.InputTokens, u.OutputTokens, u.CostMicros, u.Errors, u.ErrorReports
	}
	return []any{acc, day, key, model, prov, req, in, out, cost, errs, reps}
}
