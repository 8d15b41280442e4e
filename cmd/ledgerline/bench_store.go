package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/eventstore"
)

const benchDefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// benchResult is one row of the report.
type benchResult struct {
	name     string
	events   int64
	elapsed  time.Duration
	perTx    float64 // events per transaction; 0 when unknown
	lat      []time.Duration
	note     string
	cpu      float64 // cores of this process busy during the phase
	rate     float64
	p50, p99 time.Duration
}

func (r *benchResult) finish() *benchResult {
	if r.elapsed > 0 {
		r.rate = float64(r.events) / r.elapsed.Seconds()
	}
	if len(r.lat) > 0 {
		sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
		r.p50 = r.lat[len(r.lat)/2]
		r.p99 = r.lat[len(r.lat)*99/100]
	}
	return r
}

// runBenchStore measures the event stores against PostgreSQL baselines taken
// in the same run, on a fresh schema dropped at the end, and prints a table
// followed by "ratio <name> <value>" lines.
func runBenchStore(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench store", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "short run (under a minute)")
	defURL := os.Getenv("LEDGERLINE_DATABASE_URL")
	if defURL == "" {
		defURL = benchDefaultDatabaseURL
	}
	dbURL := fs.String("database-url", defURL, "PostgreSQL URL (env LEDGERLINE_DATABASE_URL)")
	embeddedDir := fs.String("embedded-dir", "", "directory for the embedded store (default: a temporary directory)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	phase := 10 * time.Second
	if *quick {
		phase = 3 * time.Second
	}
	b := &storeBench{phase: phase, out: out}
	if err := b.setup(ctx, *dbURL); err != nil {
		return err
	}
	defer b.teardown()

	var results []*benchResult
	run := func(name string, fn func(context.Context) (*benchResult, error)) (*benchResult, error) {
		fmt.Fprintf(out, "# %s...\n", name)
		cpu0, wall0 := processCPU(), time.Now()
		r, err := fn(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		// How busy this process was: what is left of the two cores went
		// to PostgreSQL (or sat idle waiting for the disk).
		r.cpu = float64(processCPU()-cpu0) / float64(time.Since(wall0))
		r.name = name
		results = append(results, r.finish())
		return r, nil
	}
	floor, err := run("floor_copy500", b.floor)
	if err != nil {
		return err
	}
	if _, err := run("raw_copy500_events", b.rawCopyEvents); err != nil {
		return err
	}
	if _, err := run("naive_1w", func(ctx context.Context) (*benchResult, error) { return b.naive(ctx, 1) }); err != nil {
		return err
	}
	naive64, err := run("naive_64w", func(ctx context.Context) (*benchResult, error) { return b.naive(ctx, 64) })
	if err != nil {
		return err
	}
	pg64, err := run("pg_append_64w", b.pgAppend64)
	if err != nil {
		return err
	}
	contended, err := run("pg_append_contended_64w_8s", b.pgContended)
	if err != nil {
		return err
	}
	batch, err := run("pg_append_batch500", b.pgBatch500)
	if err != nil {
		return err
	}
	// Reads: best of 3 each. The first read after the appends sets
	// PostgreSQL's hint bits on every row (writes), which would otherwise
	// fall on whichever read ran first.
	rawRead, err := run("raw_ordered_read", bestOf(3, b.rawRead))
	if err != nil {
		return err
	}
	readAll, err := run("pg_readall", bestOf(3, b.pgReadAll))
	if err != nil {
		return err
	}
	emb, err := run("embedded_append_64w", func(ctx context.Context) (*benchResult, error) {
		return benchEmbeddedAppend(ctx, *embeddedDir, phase)
	})
	if err != nil {
		return err
	}

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "name\tevents/s\tevents/tx\tp50 ms\tp99 ms\tbench cpu\tnote\t")
	for _, r := range results {
		perTx, p50, p99 := "-", "-", "-"
		if r.perTx > 0 {
			perTx = fmt.Sprintf("%.1f", r.perTx)
		}
		if len(r.lat) > 0 {
			p50, p99 = fmt.Sprintf("%.2f", ms(r.p50)), fmt.Sprintf("%.2f", ms(r.p99))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%.2f\t%s\t\n", r.name, r.rate, perTx, p50, p99, r.cpu, r.note)
	}
	tw.Flush()
	ratio := func(name string, a, b *benchResult) {
		v := 0.0
		if b.rate > 0 {
			v = a.rate / b.rate
		}
		fmt.Fprintf(out, "ratio %s %.3f\n", name, v)
	}
	ratio("pg_append_64w_vs_floor", pg64, floor)
	ratio("pg_append_64w_vs_naive_64w", pg64, naive64)
	ratio("pg_append_batch500_vs_floor", batch, floor)
	ratio("pg_append_contended_vs_floor", contended, floor)
	ratio("pg_readall_vs_raw_read", readAll, rawRead)
	ratio("embedded_append_64w_vs_floor", emb, floor)
	fmt.Fprintf(out, "p99_ms pg_append_64w %.2f\n", ms(pg64.p99))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type storeBench struct {
	phase  time.Duration
	out    io.Writer
	admin  *pgxpool.Pool // 64+ connections, schema on the search_path
	schema string
	base   string
	store  *postgres.Store
}

func (b *storeBench) setup(ctx context.Context, base string) error {
	var rb [6]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return err
	}
	b.base = base
	b.schema = "bench_" + hex.EncodeToString(rb[:])
	cfg, err := pgxpool.ParseConfig(base)
	if err != nil {
		return fmt.Errorf("bench: database URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("bench: PostgreSQL not reachable (set --database-url): %w", err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{b.schema}.Sanitize())
	conn.Close(context.Background())
	if err != nil {
		return fmt.Errorf("bench: create schema: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = b.schema
	cfg.MaxConns = 70
	if b.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	b.store, err = postgres.Open(ctx, postgres.Config{URL: base, Schema: b.schema})
	if err != nil {
		return err
	}
	_, err = b.admin.Exec(ctx, `
		CREATE TABLE floor (id bigint, payload bytea);
		CREATE TABLE raw_events (LIKE events INCLUDING ALL);
		CREATE TABLE naive_events (position bigserial PRIMARY KEY, id uuid NOT NULL UNIQUE, stream text NOT NULL,
			version bigint NOT NULL, type text NOT NULL, data bytea NOT NULL, UNIQUE (stream, version));`)
	return err
}

func (b *storeBench) teardown() {
	if b.store != nil {
		b.store.Close()
	}
	if b.admin != nil {
		b.admin.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.base)
	if err != nil {
		fmt.Fprintf(b.out, "# could not drop schema %s: %v\n", b.schema, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{b.schema}.Sanitize()+" CASCADE"); err != nil {
		fmt.Fprintf(b.out, "# could not drop schema %s: %v\n", b.schema, err)
	}
}

func payload(n int) []byte {
	p := make([]byte, n)
	p[0], p[n-1] = '"', '"'
	for i := 1; i < n-1; i++ {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

// closedLoop runs writers until the phase ends; each call of op returns the
// events it wrote. Latencies are kept per call.
func closedLoop(ctx context.Context, writers int, d time.Duration, op func(ctx context.Context, w, i int) (int, error)) (*benchResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(d)
	var (
		total atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		lats  []time.Duration
		first error
	)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				n, err := op(ctx, w, i)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					break
				}
				local = append(local, time.Since(t0))
				total.Add(int64(n))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return &benchResult{events: total.Load(), elapsed: time.Since(start), lat: lats}, nil
}

func (b *storeBench) floor(ctx context.Context) (*benchResult, error) {
	p := payload(100)
	var next int64
	rows := make([][]any, 500)
	r, err := closedLoop(ctx, 1, b.phase, func(ctx context.Context, _, _ int) (int, error) {
		for i := range rows {
			next++
			rows[i] = []any{next, p}
		}
		_, err := b.admin.CopyFrom(ctx, pgx.Identifier{"floor"}, []string{"id", "payload"}, pgx.CopyFromRows(rows))
		return len(rows), err
	})
	if err == nil {
		r.perTx, r.lat, r.note = 500, nil, "1 writer"
	}
	return r, err
}

func (b *storeBench) rawCopyEvents(ctx context.Context) (*benchResult, error) {
	p := payload(200)
	var next int64
	hash := make([]byte, 32)
	now := time.Now()
	rows := make([][]any, 500)
	r, err := closedLoop(ctx, 1, b.phase, func(ctx context.Context, _, i int) (int, error) {
		stream := fmt.Sprintf("raw-%d", i)
		for j := range rows {
			next++
			rows[j] = []any{next, [16]byte(uuid.Must(uuid.NewV7())), stream, int64(j + 1), "bench.raw", int32(1), now, p, hash, hash}
		}
		_, err := b.admin.CopyFrom(ctx, pgx.Identifier{"raw_events"},
			[]string{"position", "id", "stream", "version", "type", "schema", "recorded_at", "data", "prev_hash", "hash"}, pgx.CopyFromRows(rows))
		return len(rows), err
	})
	if err == nil {
		r.perTx, r.lat, r.note = 500, nil, "1 writer"
	}
	return r, err
}

func (b *storeBench) naive(ctx context.Context, writers int) (*benchResult, error) {
	p := payload(200)
	r, err := closedLoop(ctx, writers, b.phase, func(ctx context.Context, w, i int) (int, error) {
		_, err := b.admin.Exec(ctx, `INSERT INTO naive_events (id, stream, version, type, data) VALUES ($1, $2, $3, $4, $5)`,
			[16]byte(uuid.Must(uuid.NewV7())), fmt.Sprintf("naive-%d-%d", writers, w), int64(i+1), "bench.naive", p)
		return 1, err
	})
	if err == nil {
		r.perTx = 1
	}
	return r, err
}

func (b *storeBench) storeRun(ctx context.Context, writers int, op func(ctx context.Context, w, i int) (int, error)) (*benchResult, error) {
	before := b.store.Stats()
	r, err := closedLoop(ctx, writers, b.phase, op)
	if err != nil {
		return nil, err
	}
	after := b.store.Stats()
	if n := after.Batches - before.Batches; n > 0 {
		r.perTx = float64(after.Events-before.Events) / float64(n)
		r.note = fmt.Sprintf("%d writers, %d slow commits", writers, after.SlowCommits-before.SlowCommits)
	}
	return r, nil
}

func benchEvent(typ string, p []byte) eventstore.Event {
	return eventstore.Event{Type: typ, Data: p, Meta: eventstore.Metadata{Actor: "bench", RequestID: "r-1"}}
}

func (b *storeBench) pgAppend64(ctx context.Context) (*benchResult, error) {
	p := payload(200)
	run := make([]byte, 4)
	rand.Read(run)
	prefix := "own-" + hex.EncodeToString(run)
	return b.storeRun(ctx, 64, func(ctx context.Context, w, i int) (int, error) {
		_, err := b.store.Append(ctx, fmt.Sprintf("%s-%d", prefix, w), eventstore.Exact(uint64(i)), benchEvent("bench.appended", p))
		return 1, err
	})
}

func (b *storeBench) pgContended(ctx context.Context) (*benchResult, error) {
	p := payload(200)
	var (
		mu        sync.Mutex
		acked     = map[uuid.UUID]struct{}{}
		conflicts atomic.Int64
	)
	known := make([]uint64, 64)
	r, err := b.storeRun(ctx, 64, func(ctx context.Context, w, _ int) (int, error) {
		stream := fmt.Sprintf("contended-%d", w%8)
		e := benchEvent("bench.contended", p)
		e.ID = uuid.Must(uuid.NewV7())
		for {
			_, err := b.store.Append(ctx, stream, eventstore.Exact(known[w]), e)
			if errors.Is(err, eventstore.ErrConcurrency) {
				conflicts.Add(1)
				newer, err := b.store.ReadStream(ctx, stream, known[w]+1, 0)
				if err != nil {
					return 0, err
				}
				known[w] += uint64(len(newer))
				continue
			}
			if err != nil {
				return 0, err
			}
			known[w]++
			mu.Lock()
			acked[e.ID] = struct{}{}
			mu.Unlock()
			return 1, nil
		}
	})
	if err != nil {
		return nil, err
	}
	// Every acknowledged event exactly once, nothing unacknowledged.
	seen := map[uuid.UUID]int{}
	for s := range 8 {
		evs, err := b.store.ReadStream(ctx, fmt.Sprintf("contended-%d", s), 1, 0)
		if err != nil {
			return nil, err
		}
		for i, e := range evs {
			if e.Version != uint64(i+1) {
				return nil, fmt.Errorf("stream contended-%d: version gap at %d", s, i+1)
			}
			seen[e.ID]++
		}
	}
	lost, dup := 0, 0
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	for id, n := range seen {
		if _, ok := acked[id]; !ok || n > 1 {
			dup++
		}
	}
	r.note += fmt.Sprintf(", %d conflicts, %d lost, %d duplicated", conflicts.Load(), lost, dup)
	if lost > 0 || dup > 0 {
		return nil, fmt.Errorf("contended appends lost %d and duplicated %d events", lost, dup)
	}
	return r, nil
}

func (b *storeBench) pgBatch500(ctx context.Context) (*benchResult, error) {
	p := payload(200)
	const writers = 4
	r, err := b.storeRun(ctx, writers, func(ctx context.Context, w, i int) (int, error) {
		evs := make([]eventstore.Event, 500)
		for j := range evs {
			evs[j] = benchEvent("bench.batched", p)
		}
		_, err := b.store.Append(ctx, fmt.Sprintf("batch-%d", w), eventstore.Exact(uint64(i*500)), evs...)
		return 500, err
	})
	return r, err
}

func (b *storeBench) rawRead(ctx context.Context) (*benchResult, error) {
	start := time.Now()
	rows, err := b.admin.Query(ctx, `SELECT position, data FROM events ORDER BY position`)
	if err != nil {
		return nil, err
	}
	var (
		n   int64
		pos int64
		d   []byte
	)
	for rows.Next() {
		if err := rows.Scan(&pos, &d); err != nil {
			rows.Close()
			return nil, err
		}
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return &benchResult{events: n, elapsed: time.Since(start), note: "SELECT position, data ORDER BY position"}, nil
}

func (b *storeBench) pgReadAll(ctx context.Context) (*benchResult, error) {
	start := time.Now()
	var n int64
	for from := uint64(1); ; {
		page, err := b.store.ReadAll(ctx, from, 5000)
		if err != nil {
			return nil, err
		}
		n += int64(len(page))
		if len(page) < 5000 {
			break
		}
		from = page[len(page)-1].Position + 1
	}
	return &benchResult{events: n, elapsed: time.Since(start), note: "pages of 5000"}, nil
}

// benchEmbeddedAppend measures the embedded store with the same load as
// pg_append_64w.
func benchEmbeddedAppend(ctx context.Context, dir string, d time.Duration) (*benchResult, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ledgerline-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	p := payload(200)
	run := make([]byte, 4)
	rand.Read(run)
	prefix := "own-" + hex.EncodeToString(run)
	return closedLoop(ctx, 64, d, func(ctx context.Context, w, i int) (int, error) {
		_, err := s.Append(ctx, fmt.Sprintf("%s-%d", prefix, w), eventstore.Exact(uint64(i)), benchEvent("bench.appended", p))
		return 1, err
	})
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bestOf runs fn n times and keeps the fastest run.
func bestOf(n int, fn func(context.Context) (*benchResult, error)) func(context.Context) (*benchResult, error) {
	return func(ctx context.Context) (*benchResult, error) {
		var best *benchResult
		for range n {
			r, err := fn(ctx)
			if err != nil {
				return nil, err
			}
			r.finish()
			if best == nil || r.rate > best.rate {
				best = r
			}
		}
		return best, nil
	}
}
