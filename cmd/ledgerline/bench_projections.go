package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
	"github.com/ledgerline/ledgerline/projections/readmodeltest"
)

// runBenchProjections measures the read models against PostgreSQL baselines
// taken in the same run, on a fresh schema dropped at the end:
//
//   - rebuild_memory_vs_raw_read: rebuilding every in-memory read model from
//     the PostgreSQL store (read, decode, apply; one reader for all models)
//     vs SELECT position, data FROM events ORDER BY position.
//   - rebuild_pg_vs_floor: rebuilding the PostgreSQL read models (tables and
//     checkpoints in one transaction per batch) vs pgx COPY of 500-row
//     batches into a bare (bigint, bytea) table.
//   - lag_p99_ms_at_half_load: p99 of (read model applied − append returned)
//     while appending at half the measured maximum rate (64 writers).
//
// The history is a realistic one from projections/readmodeltest (sealed
// personal data, mostly usage), loaded into the events table with COPY.
func runBenchProjections(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench projections", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "short run (under a minute)")
	defURL := os.Getenv("LEDGERLINE_DATABASE_URL")
	if defURL == "" {
		defURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	dbURL := fs.String("database-url", defURL, "PostgreSQL URL (env LEDGERLINE_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	accounts, phase := 300, 8*time.Second
	if *quick {
		accounts, phase = 60, 3*time.Second
	}

	var rb [6]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return err
	}
	schema := "benchproj_" + hex.EncodeToString(rb[:])
	cfg, err := pgxpool.ParseConfig(*dbURL)
	if err != nil {
		return fmt.Errorf("bench: database URL: %w", err)
	}
	store, err := postgres.Open(ctx, postgres.Config{URL: *dbURL, Schema: schema, MaxConns: 16})
	if err != nil {
		return fmt.Errorf("bench: PostgreSQL not reachable (set --database-url): %w", err)
	}
	defer func() {
		store.Close()
		c, err := pgx.Connect(context.Background(), *dbURL)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			c.Close(context.Background())
		}
	}()
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.MaxConns = 16
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer admin.Close()

	// history: generated in memory, loaded with COPY (the chain is the same)
	fmt.Fprintf(out, "# generating history (%d accounts)...\n", accounts)
	env, err := readmodeltest.NewEnv(nil)
	if err != nil {
		return err
	}
	if _, err := readmodeltest.Generate(ctx, env, readmodeltest.GenConfig{Accounts: accounts, KeysPerAccount: 2, UsagePerKey: 250}); err != nil {
		return err
	}
	evs, err := env.Store.ReadAll(ctx, 1, 0)
	if err != nil {
		return err
	}
	if err := benchLoadEvents(ctx, admin, evs); err != nil {
		return fmt.Errorf("bench: load events: %w", err)
	}
	n := int64(len(evs))
	fmt.Fprintf(out, "# %d events loaded\n", n)
	codec := env.Codec

	rate := func(events int64, d time.Duration) float64 { return float64(events) / d.Seconds() }
	tw := func(name string, r float64, note string) {
		fmt.Fprintf(out, "%-28s %12.0f events/s  %s\n", name, r, note)
	}

	// floor
	if _, err := admin.Exec(ctx, `CREATE TABLE floor (id bigint, payload bytea)`); err != nil {
		return err
	}
	p := make([]byte, 100)
	rows := make([][]any, 500)
	var next int64
	start := time.Now()
	var floorRows int64
	for time.Since(start) < phase {
		for i := range rows {
			next++
			rows[i] = []any{next, p}
		}
		if _, err := admin.CopyFrom(ctx, pgx.Identifier{"floor"}, []string{"id", "payload"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		floorRows += 500
	}
	floor := rate(floorRows, time.Since(start))
	tw("floor_copy500", floor, "COPY 500-row batches into (bigint, bytea)")

	// raw ordered read (best of 3)
	var raw float64
	for range 3 {
		start = time.Now()
		rs, err := admin.Query(ctx, `SELECT position, data FROM events ORDER BY position`)
		if err != nil {
			return err
		}
		var cnt int64
		var pos int64
		var d []byte
		for rs.Next() {
			if err := rs.Scan(&pos, &d); err != nil {
				rs.Close()
				return err
			}
			cnt++
		}
		rs.Close()
		raw = max(raw, rate(cnt, time.Since(start)))
	}
	tw("raw_ordered_read", raw, "SELECT position, data ORDER BY position (best of 3)")

	// decode only (what every extra reader would repeat)
	start = time.Now()
	for i := 0; i < len(evs); i += 2000 {
		if _, err := projections.DecodeRecords(codec, evs[i:min(i+2000, len(evs))]); err != nil {
			return err
		}
	}
	tw("decode_only", rate(n, time.Since(start)), "codec.DecodePublic on all CPUs, no I/O")

	// in-memory rebuild from the PostgreSQL store (best of 3)
	var mem float64
	for range 3 {
		set := projections.NewMemSet(codec, projections.MemSetOptions{})
		start = time.Now()
		last, err := projections.Replay(ctx, store, codec, set, projections.Until{}, projections.ReplayConfig{PageSize: 5000})
		if err != nil {
			return err
		}
		if int64(last) != n {
			return fmt.Errorf("bench: memory rebuild reached %d of %d", last, n)
		}
		mem = max(mem, rate(n, time.Since(start)))
	}
	tw("rebuild_memory", mem, "all read models, one reader, pipelined (best of 3)")

	// PostgreSQL rebuild
	rm, err := postgres.OpenReadModels(ctx, postgres.ReadModelsConfig{Pool: admin, Codec: codec})
	if err != nil {
		return err
	}
	start = time.Now()
	last, err := projections.Replay(ctx, store, codec, rm.Projector(), projections.Until{}, projections.ReplayConfig{PageSize: 2000})
	if err != nil {
		return err
	}
	if int64(last) != n {
		return fmt.Errorf("bench: pg rebuild reached %d of %d", last, n)
	}
	pgRate := rate(n, time.Since(start))
	tw("rebuild_pg", pgRate, "all read models, tables + checkpoints per 2000-event transaction")

	// lag at half load
	lagMem, lagPG, maxRate, err := benchLag(ctx, store, codec, rm, phase)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# max append rate %.0f events/s (64 writers); lag measured at half of it\n", maxRate)
	fmt.Fprintf(out, "ratio rebuild_memory_vs_raw_read %.3f\n", mem/raw)
	fmt.Fprintf(out, "ratio rebuild_pg_vs_floor %.3f\n", pgRate/floor)
	fmt.Fprintf(out, "lag_p99_ms_at_half_load %.1f\n", lagMem)
	fmt.Fprintf(out, "lag_p99_ms_at_half_load_pg %.1f\n", lagPG)
	return nil
}

// benchLoadEvents writes evs (positions and chain as generated) into the
// events table and moves the head, as if another process had appended them.
func benchLoadEvents(ctx context.Context, pool *pgxpool.Pool, evs []eventstore.Event) error {
	for i := 0; i < len(evs); i += 5000 {
		chunk := evs[i:min(i+5000, len(evs))]
		_, err := pool.CopyFrom(ctx, pgx.Identifier{"events"},
			[]string{"position", "id", "stream", "version", "type", "schema", "recorded_at", "data", "subject", "sealed", "meta", "prev_hash", "hash"},
			pgx.CopyFromSlice(len(chunk), func(j int) ([]any, error) {
				e := chunk[j]
				var subject *string
				if e.Subject != "" {
					subject = &e.Subject
				}
				var sealed []byte
				if len(e.Sealed) > 0 {
					sealed = e.Sealed
				}
				return []any{int64(e.Position), e.ID, e.Stream, int64(e.Version), e.Type, int32(e.Schema), e.RecordedAt, e.Data, subject, sealed, nil, e.PrevHash[:], e.Hash[:]}, nil
			}))
		if err != nil {
			return err
		}
	}
	last := evs[len(evs)-1]
	_, err := pool.Exec(ctx, `UPDATE head SET position = $1, hash = $2`, int64(last.Position), last.Hash[:])
	return err
}

// benchLag measures the maximum append rate with 64 closed-loop writers,
// then appends at half that rate while a memory hub and a PostgreSQL runner
// follow the log, and returns the p99 lag of each in milliseconds.
func benchLag(ctx context.Context, store *postgres.Store, codec *eventstore.Codec, rm *postgres.ReadModels, phase time.Duration) (memP99, pgP99, maxRate float64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	data := []byte(`{"request_id":"x","key_id":"00000000-0000-0000-0000-000000000000","account_id":"00000000-0000-0000-0000-000000000000","provider":"openai","model":"gpt-4o","input_tokens":1,"output_tokens":1,"cost_micros":0,"status":"ok","latency_ms":1,"occurred_at":"2025-01-01T00:00:00Z"}`)
	appendOne := func(w int, i int64) (uint64, error) {
		id, _ := uuid.NewV7()
		res, err := store.Append(ctx, fmt.Sprintf("lag-%d-%d", w, i), eventstore.NoStream, eventstore.Event{ID: id, Type: "usage.recorded", Schema: 1, Data: data})
		return res.LastPosition, err
	}
	// maximum rate
	var total atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(phase / 2)
	var firstErr atomic.Value
	start := time.Now()
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); time.Now().Before(deadline); i++ {
				if _, err := appendOne(w, i); err != nil {
					firstErr.Store(err)
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return 0, 0, 0, e
	}
	maxRate = float64(total.Load()) / time.Since(start).Seconds()

	// followers: memory hub and PostgreSQL read models
	type mark struct {
		pos uint64
		at  time.Time
	}
	var mu sync.Mutex
	var memMarks, pgMarks []mark
	hub, err := projections.NewHub(store, codec, projections.HubConfig{Runner: projections.RunnerConfig{PollInterval: 10 * time.Millisecond,
		OnBatch: func(_ string, last eventstore.Event, _ int) {
			mu.Lock()
			memMarks = append(memMarks, mark{last.Position, time.Now()})
			mu.Unlock()
		}}})
	if err != nil {
		return 0, 0, 0, err
	}
	if err := hub.CatchUpAll(ctx); err != nil {
		return 0, 0, 0, err
	}
	pgRunner, err := projections.NewRunner(store, codec, rm.Projector(), projections.RunnerConfig{PollInterval: 10 * time.Millisecond,
		OnBatch: func(_ string, last eventstore.Event, _ int) {
			mu.Lock()
			pgMarks = append(pgMarks, mark{last.Position, time.Now()})
			mu.Unlock()
		}})
	if err != nil {
		return 0, 0, 0, err
	}
	if _, err := projections.Replay(ctx, store, codec, rm.Projector(), projections.Until{}, projections.ReplayConfig{}); err != nil {
		return 0, 0, 0, err
	}
	go hub.Run(ctx)
	go pgRunner.Run(ctx)

	// open loop at half the maximum rate
	target := maxRate / 2
	var appended []mark
	var amu sync.Mutex
	sem := make(chan struct{}, 128)
	start = time.Now()
	var sent int64
	var awg sync.WaitGroup
	for time.Since(start) < phase {
		due := int64(time.Since(start).Seconds() * target)
		for ; sent < due; sent++ {
			sem <- struct{}{}
			awg.Add(1)
			go func(i int64) {
				defer func() { <-sem; awg.Done() }()
				pos, err := appendOne(1000+int(i%64), i)
				if err == nil {
					amu.Lock()
					appended = append(appended, mark{pos, time.Now()})
					amu.Unlock()
				}
			}(sent)
		}
		time.Sleep(time.Millisecond)
	}
	awg.Wait()
	time.Sleep(500 * time.Millisecond)
	cancel()
	mu.Lock()
	defer mu.Unlock()
	p99 := func(marks []mark) float64 {
		sort.Slice(marks, func(i, j int) bool { return marks[i].pos < marks[j].pos })
		var lags []time.Duration
		for _, a := range appended {
			i := sort.Search(len(marks), func(i int) bool { return marks[i].pos >= a.pos })
			if i == len(marks) {
				lags = append(lags, time.Second*10) // never applied: counts as a huge lag
				continue
			}
			l := marks[i].at.Sub(a.at)
			if l < 0 {
				l = 0
			}
			lags = append(lags, l)
		}
		if len(lags) == 0 {
			return 0
		}
		sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
		return float64(lags[len(lags)*99/100]) / float64(time.Millisecond)
	}
	return p99(memMarks), p99(pgMarks), maxRate, nil
}
