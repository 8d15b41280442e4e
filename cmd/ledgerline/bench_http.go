package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/adapters/httpapi"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// runBenchHTTP measures the HTTP API in-process on a loopback listener,
// backed by PostgreSQL (store, vault, read models) on a fresh schema dropped
// at the end, with one load generator (keep-alive clients, closed loop,
// fixed duration) for every figure:
//
//   - verify_vs_trivial_handler: POST /v1/keys/verify with a real key, read
//     models in PostgreSQL, vs a handler that writes {"ok":true} on the same
//     server. verify_hub_vs_trivial_handler is the same route answered by
//     the in-memory read models `serve` uses.
//   - usage_batch_ingest_vs_floor: records/s through POST /v1/usage/batch
//     (1,000 records per request, durable before the answer) vs pgx COPY of
//     500-row batches into a bare (bigint, bytea) table, in the same run.
//     Beside it, reported without a target: copy_of_usage_rows_vs_floor (the
//     usage rows themselves copied into a copy of the events table that
//     grows as the log does: the database's ceiling for them, see
//     usageCopy), usage_batch_ingest_vs_copy_of_its_rows, and the share of
//     the ingestion time the committer spent waiting for PostgreSQL to
//     finish rows it had already sent.
func runBenchHTTP(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench http", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "short run (under a minute)")
	defURL := os.Getenv("LEDGERLINE_DATABASE_URL")
	if defURL == "" {
		defURL = benchDefaultDatabaseURL
	}
	dbURL := fs.String("database-url", defURL, "PostgreSQL URL (env LEDGERLINE_DATABASE_URL); a fresh schema is created and dropped")
	clients := fs.Int("clients", 32, "keep-alive clients for the verify and trivial phases")
	usageClients := fs.Int("usage-clients", 8, "clients posting usage batches")
	usageAccounts := fs.Int("usage-accounts", 20, "accounts (one key each) whose records every usage batch mixes")
	personal := fs.Bool("client-ip", true, "usage records carry client IP and user agent (sealed personal data)")
	only := fs.String("only", "", "run only the verify or the usage phases (for profiling; no ratio for the other)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured phases to `FILE` (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Phases alternate in short slices, so load from other processes on
	// the machine falls on both sides of each ratio alike.
	rounds, slice, ingestRounds, ingestSlice := 6, 1500*time.Millisecond, 4, 3*time.Second
	if *quick {
		rounds, slice, ingestRounds, ingestSlice = 3, time.Second, 2, 2*time.Second
	}
	sb := &storeBench{phase: ingestSlice, out: out}
	if err := sb.setup(ctx, *dbURL); err != nil {
		return err
	}
	defer sb.teardown()
	h, err := newHTTPBench(ctx, sb, *usageAccounts)
	if err != nil {
		return err
	}
	defer h.close()
	fmt.Fprintf(out, "# server on %s (schema %s); verify: %d clients, %d rounds of %s per phase; usage: %d clients, %d rounds of %s\n",
		h.url, sb.schema, *clients, rounds, slice, *usageClients, ingestRounds, ingestSlice)

	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}

	verifyBody, _ := json.Marshal(httpapi.VerifyKeyRequest{Secret: h.keySecret, Scope: "inference"})
	verifyCheck := func(b []byte) error {
		var v httpapi.VerifyKeyResponse
		if err := json.Unmarshal(b, &v); err != nil || !v.Valid {
			return fmt.Errorf("verify answered %s", b)
		}
		return nil
	}
	bodies := h.usageBodies(*usageClients, *personal)
	usageCheck := func(b []byte) error {
		res, err := batchSummary(b)
		if err != nil {
			return err
		}
		if res.Recorded != usageBatchSize {
			return fmt.Errorf("usage batch recorded %d of %d (%d duplicates, %d rejected)", res.Recorded, usageBatchSize, res.Duplicates, res.Rejected)
		}
		return nil
	}
	var commits, commitEvents uint64
	var serverWait, ingestTime time.Duration
	phases := []benchPhase{
		{name: "trivial_handler", note: fmt.Sprintf("%d clients", *clients), fn: func(ctx context.Context) (*benchResult, error) {
			return h.load(ctx, *clients, slice, "/trivial", func(int, int) []byte { return []byte(`{}`) }, nil)
		}},
		{name: "verify_key_pg", note: fmt.Sprintf("%d clients, PostgreSQL read models", *clients), fn: func(ctx context.Context) (*benchResult, error) {
			return h.load(ctx, *clients, slice, "/v1/keys/verify", func(int, int) []byte { return verifyBody }, verifyCheck)
		}},
		{name: "verify_key_hub", note: fmt.Sprintf("%d clients, in-memory read models (as serve)", *clients), fn: func(ctx context.Context) (*benchResult, error) {
			return h.load(ctx, *clients, slice, "/hub/v1/keys/verify", func(int, int) []byte { return verifyBody }, verifyCheck)
		}},
	}
	ingestPhases := []benchPhase{
		{name: "floor_copy500", note: "1 writer", fn: sb.floor},
		{name: "usage_batch_1000", note: fmt.Sprintf("%d clients, %d accounts per batch, records/s, in-memory read models (as serve)", *usageClients, *usageAccounts),
			fn: func(ctx context.Context) (*benchResult, error) {
				before := sb.store.Stats()
				r, err := h.load(ctx, *usageClients, ingestSlice, "/v1/usage/batch", bodies, usageCheck)
				if err != nil {
					return nil, err
				}
				after := sb.store.Stats()
				commits += after.Batches - before.Batches
				commitEvents += after.Events - before.Events
				serverWait += after.ServerWait - before.ServerWait
				ingestTime += r.elapsed
				r.events *= usageBatchSize
				return r, nil
			}},
	}
	var results []*benchResult
	var trivial, verify, verifyHub, floor, ingest, copied *benchResult
	if *only != "usage" {
		r, err := interleave(ctx, out, rounds, phases)
		if err != nil {
			return err
		}
		results = append(results, r...)
		trivial, verify, verifyHub = r[0], r[1], r[2]
	}
	if *only != "verify" {
		h.stopPGRM()
		// One unmeasured round first, for both phases alike: the first
		// seconds of ingestion pay one-time costs (new streams, cold key and
		// statement caches, the heap growing to its working size, the
		// in-memory read models catching up) that a long-running gateway
		// does not; they made the first round 25-35% slower than the others.
		fmt.Fprint(out, "# warm-up (not measured)")
		if _, err := interleave(ctx, io.Discard, 1, ingestPhases); err != nil {
			return err
		}
		fmt.Fprintln(out)
		uc := &usageCopy{}
		if err := uc.capture(ctx, sb.admin, usageCopyRows, usageCopyBatch); err != nil {
			return err
		}
		measured := append(ingestPhases, benchPhase{name: "copy_usage_rows",
			note: fmt.Sprintf("the warm-up's usage rows, COPY of %d per transaction into a copy of the events table, growing", usageCopyBatch),
			fn:   uc.phase(ingestSlice)})
		commits, commitEvents, serverWait, ingestTime = 0, 0, 0, 0
		r, err := interleave(ctx, out, ingestRounds, measured)
		if err != nil {
			return err
		}
		results = append(results, r...)
		floor, ingest, copied = r[0], r[1], r[2]
		copied.perTx = usageCopyBatch
		floor.perTx = 500
		if commits > 0 {
			ingest.perTx = float64(commitEvents) / float64(commits)
		}
	}

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "name\tops/s\tevents/tx\tp50 ms\tp99 ms\tnote\t")
	for _, r := range results {
		perTx, p50, p99 := "-", "-", "-"
		if r.perTx > 0 {
			perTx = fmt.Sprintf("%.1f", r.perTx)
		}
		if len(r.lat) > 0 {
			p50, p99 = fmt.Sprintf("%.2f", ms(r.p50)), fmt.Sprintf("%.2f", ms(r.p99))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t\n", r.name, r.rate, perTx, p50, p99, r.note)
	}
	tw.Flush()
	ratio := func(name string, a, b *benchResult) {
		if a == nil || b == nil {
			return
		}
		v := 0.0
		if b.rate > 0 {
			v = a.rate / b.rate
		}
		fmt.Fprintf(out, "ratio %s %.3f\n", name, v)
	}
	// serve answers key checks from the in-memory read models (the gateway's
	// hot path is a map lookup); the PostgreSQL read models are there for
	// consumers that query tables, and are reported for comparison.
	ratio("verify_vs_trivial_handler", verifyHub, trivial)
	ratio("verify_pg_read_model_vs_trivial_handler", verify, trivial)
	ratio("usage_batch_ingest_vs_floor", ingest, floor)
	// reported, no target: the database's own ceiling for these rows
	ratio("copy_of_usage_rows_vs_floor", copied, floor)
	ratio("usage_batch_ingest_vs_copy_of_its_rows", ingest, copied)
	if verify != nil {
		fmt.Fprintf(out, "p99_ms verify_key_pg %.2f\n", ms(verify.p99))
	}
	if ingestTime > 0 {
		// reported, no target: the share of the measured ingestion the
		// committer spent waiting for PostgreSQL to finish rows it had sent
		fmt.Fprintf(out, "share usage_commit_waiting_on_postgres %.3f\n", float64(serverWait)/float64(ingestTime))
	}
	return nil
}

const usageBatchSize = 1000

// batchSummary reads the counts that lead a usage batch's answer and stops
// there: the load generator shares the machine with the server, and parsing
// the 1,000 per-record results of every answer took about 7% of the
// process's CPU, which a gateway on its own host would not take from us. An
// answer that does not start with the three counts is decoded whole.
func batchSummary(b []byte) (cmdsvc.RecordUsageBatchResult, error) {
	var res cmdsvc.RecordUsageBatchResult
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return res, fmt.Errorf("usage batch answered %.80q", b)
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"recorded", &res.Recorded}, {"duplicates", &res.Duplicates}, {"rejected", &res.Rejected}} {
		if t, err := dec.Token(); err != nil || t != f.name {
			return res, json.Unmarshal(b, &res)
		}
		if err := dec.Decode(f.dst); err != nil {
			return res, err
		}
	}
	return res, nil
}

// benchPhase is one measured load; interleave runs phases in turn.
type benchPhase struct {
	name, note string
	fn         func(context.Context) (*benchResult, error)
}

// usageCopyRows and usageCopyBatch size the copy_usage_rows phase: rows
// captured after the warm-up, and rows per transaction (about what the
// store's group commits hold under this load).
const (
	usageCopyRows  = 160_000
	usageCopyBatch = 4000
)

// interleave runs every phase once per round, in turn, and merges each
// phase's rounds into one result.
func interleave(ctx context.Context, out io.Writer, rounds int, phases []benchPhase) ([]*benchResult, error) {
	merged := make([]*benchResult, len(phases))
	for i, p := range phases {
		merged[i] = &benchResult{name: p.name, note: p.note}
	}
	for r := range rounds {
		fmt.Fprintf(out, "# round %d of %d:", r+1, rounds)
		for i, p := range phases {
			fmt.Fprintf(out, " %s", p.name)
			res, err := p.fn(ctx)
			if err != nil {
				fmt.Fprintln(out)
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			if res.elapsed > 0 {
				fmt.Fprintf(out, " (%.0f/s)", float64(res.events)/res.elapsed.Seconds())
			}
			m := merged[i]
			m.events += res.events
			m.elapsed += res.elapsed
			m.lat = append(m.lat, res.lat...)
		}
		fmt.Fprintln(out)
	}
	for _, m := range merged {
		m.finish()
	}
	return merged, nil
}

// httpBench is the wired server: the real API twice (PostgreSQL read models
// at /, the in-memory hub at /hub) and the trivial handler, on one listener.
type httpBench struct {
	url       string
	srv       *http.Server
	client    *http.Client
	stop      context.CancelFunc
	stopPGRM  context.CancelFunc // stops the PostgreSQL read-model projector
	wg        sync.WaitGroup
	vault     *postgres.Vault
	token     string // gateway bearer token
	keySecret string // a real API key for verify
	usageKeys []uuid.UUID
	run       string
}

func newHTTPBench(ctx context.Context, sb *storeBench, usageAccounts int) (*httpBench, error) {
	h := &httpBench{run: uuid.NewString()[:8]}
	kr := eventstore.NewMemKeyring()
	v, err := postgres.NewVault(ctx, sb.store.Pool(), kr)
	if err != nil {
		return nil, err
	}
	h.vault = v
	reg, err := cmdsvc.NewRegistry()
	if err != nil {
		return nil, err
	}
	sealer := eventstore.NewSealer(v, 0)
	codec, err := eventstore.NewCodec(reg, sealer)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := cmdsvc.New(cmdsvc.Deps{Store: sb.store, Codec: codec, Shredder: sealer, Pepper: kr.Pepper(), Logger: log})
	if err != nil {
		return nil, err
	}
	// the read models get their own pool (the bench's admin pool, same
	// schema): the store's is sized for the committer, not for one query per
	// verify from every client
	rm, err := postgres.OpenReadModels(ctx, postgres.ReadModelsConfig{Pool: sb.admin, Codec: codec})
	if err != nil {
		return nil, err
	}
	runner, err := projections.NewRunner(sb.store, codec, rm.Projector(), projections.RunnerConfig{})
	if err != nil {
		return nil, err
	}
	hub, err := projections.NewHub(sb.store, codec, projections.HubConfig{})
	if err != nil {
		return nil, err
	}
	tokens, err := httpapi.NewTokenIndex(sb.store, codec, nil)
	if err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	h.stop = stop
	// The PostgreSQL projector runs only for the verify phases: serve runs
	// the in-memory read models by default (PostgreSQL ones with
	// --pg-read-models), so ingestion is measured as serve runs it.
	pgrm, stopPGRM := context.WithCancel(bg)
	h.stopPGRM = stopPGRM
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_ = runner.Run(pgrm)
	}()
	for _, fn := range []func(context.Context) error{hub.Run, func(ctx context.Context) error { return tokens.Run(ctx, time.Second) }} {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			_ = fn(bg)
		}()
	}

	// a gateway token, an account with a key to verify, and accounts for usage
	w := httpapi.TokenWriter{Store: sb.store, Codec: codec, Rand: rand.Reader}
	tok, _, err := w.Issue(ctx, operator.IssueParams{Role: operator.Gateway, IssuedBy: "bench"},
		eventstore.Metadata{Actor: "bench", ActorRole: "system"}, false)
	if err != nil {
		h.close()
		return nil, fmt.Errorf("issue gateway token: %w", err)
	}
	h.token = tok.Secret
	if err := tokens.Refresh(ctx); err != nil {
		h.close()
		return nil, err
	}
	actx := cmdsvc.WithActor(ctx, cmdsvc.Actor{ID: "bench", Role: "admin"})
	var last uint64
	for i := range max(1, usageAccounts) {
		res, err := svc.Dispatch(actx, &cmdsvc.RegisterAccount{Email: fmt.Sprintf("bench-%s-%d@example.com", h.run, i),
			AgeConfirmed: true, Region: "DE", Jurisdiction: "EU", PolicyVersion: "2025-10-01"})
		if err != nil {
			h.close()
			return nil, err
		}
		acc := res.Data.(cmdsvc.RegisterAccountResult).AccountID
		res, err = svc.Dispatch(actx, &cmdsvc.IssueAPIKey{AccountID: acc, Name: "bench", Scopes: []string{"inference"}})
		if err != nil {
			h.close()
			return nil, err
		}
		k := res.Data.(cmdsvc.IssueAPIKeyResult)
		if i == 0 {
			h.keySecret = k.Secret
		}
		h.usageKeys = append(h.usageKeys, k.KeyID)
		last = res.Position
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := runner.WaitFor(wctx, last); err != nil {
		h.close()
		return nil, fmt.Errorf("PostgreSQL read models did not catch up: %w", err)
	}
	if err := hub.WaitFor(wctx, last); err != nil {
		h.close()
		return nil, fmt.Errorf("memory read models did not catch up: %w", err)
	}

	newAPI := func(models projections.ReadModels, waitFor func(context.Context, uint64) error) (http.Handler, error) {
		return httpapi.New(httpapi.Config{Store: sb.store, Codec: codec, Commands: svc, Tokens: tokens, Logger: log,
			Reads: httpapi.Reads{Models: models, WaitFor: waitFor}, Version: version})
	}
	pgAPI, err := newAPI(rm, runner.WaitFor)
	if err != nil {
		h.close()
		return nil, err
	}
	hubAPI, err := newAPI(hub, hub.WaitFor)
	if err != nil {
		h.close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /trivial", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	mux.Handle("/hub/", http.StripPrefix("/hub", hubAPI))
	mux.Handle("/", pgAPI)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.close()
		return nil, err
	}
	h.url = "http://" + ln.Addr().String()
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	h.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
	return h, nil
}

func (h *httpBench) close() {
	if h.srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = h.srv.Shutdown(sctx)
		cancel()
	}
	if h.client != nil {
		h.client.CloseIdleConnections()
	}
	if h.stop != nil {
		h.stop()
	}
	h.wg.Wait()
	if h.vault != nil {
		_ = h.vault.Close()
	}
}

// load drives path with clients closed-loop keep-alive clients for d; body
// gives each request's body, check (when set) validates each 200 answer.
func (h *httpBench) load(ctx context.Context, clients int, d time.Duration, path string, body func(w, i int) []byte, check func([]byte) error) (*benchResult, error) {
	url := h.url + path
	bufs := make([]bytes.Buffer, clients)
	return closedLoop(ctx, clients, d, func(ctx context.Context, w, i int) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body(w, i)))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+h.token)
		resp, err := h.client.Do(req)
		if err != nil {
			return 0, err
		}
		b := &bufs[w]
		b.Reset()
		_, err = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s answered %d: %s", path, resp.StatusCode, b.Bytes())
		}
		if check != nil {
			if err := check(b.Bytes()); err != nil {
				return 0, err
			}
		}
		return 1, nil
	})
}

// usageBodies returns a body maker: every request is a fresh batch of 1,000
// records (new request ids) mixing every bench account, as a gateway flushes
// its recent traffic. Each client has a template whose request ids are
// patched in place, so the generator spends almost nothing per request.
func (h *httpBench) usageBodies(clients int, personal bool) func(w, i int) []byte {
	models := []struct{ provider, model string }{{"openai", "gpt-4o-mini"}, {"anthropic", "claude-sonnet-4"}, {"google", "gemini-2.0-flash"}, {"mistral", "mistral-small"}}
	templates := make([][]byte, clients)
	offsets := make([][]int, clients)
	for w := range clients {
		prefix := fmt.Sprintf("%s-%03d-", h.run, w)
		recs := make([]cmdsvc.RecordUsage, usageBatchSize)
		for j := range recs {
			m := models[j%len(models)]
			recs[j] = cmdsvc.RecordUsage{KeyID: h.usageKeys[j%len(h.usageKeys)], RequestID: fmt.Sprintf("%s%09d-%04d", prefix, 0, j),
				Provider: m.provider, Model: m.model, InputTokens: int64(100 + j), OutputTokens: int64(50 + j%300), CostMicros: int64(10 + j%90),
				Status: "ok", LatencyMs: int64(300 + j%700)}
			if personal {
				recs[j].ClientIP = fmt.Sprintf("198.51.100.%d", 1+j%254)
				recs[j].UserAgent = "bench-gateway/1.0"
			}
		}
		b, err := json.Marshal(httpapi.UsageBatchRequest{Records: recs})
		if err != nil {
			panic(err)
		}
		templates[w] = b
		for at := 0; ; {
			k := bytes.Index(b[at:], []byte(prefix))
			if k < 0 {
				break
			}
			at += k + len(prefix)
			offsets[w] = append(offsets[w], at)
		}
	}
	bufs := make([][]byte, clients)
	seq := make([]int, clients) // per client: ids never repeat across rounds
	return func(w, _ int) []byte {
		b := append(bufs[w][:0], templates[w]...)
		var digits [9]byte
		seq[w]++
		n := seq[w]
		for k := 8; k >= 0; k-- {
			digits[k] = byte('0' + n%10)
			n /= 10
		}
		for _, off := range offsets[w] {
			copy(b[off:off+9], digits[:])
		}
		bufs[w] = b
		return b
	}
}
