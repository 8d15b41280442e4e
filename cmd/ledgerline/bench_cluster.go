package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
)

// runBenchCluster starts `ledgerline serve` nodes (this binary) on one fresh
// PostgreSQL schema and a NATS JetStream broker and measures, in one run:
//
//   - append_3nodes_vs_1node: usage records/s through HTTP batches of 500 when
//     the same load generator spreads them over 3 nodes vs sends them all to
//     1 node (the first phase runs before nodes 2 and 3 start).
//   - failover_seconds: from SIGKILL of the node holding the outbox-relay
//     lease, under load, until another node holds it and the leased
//     projections (relay, PostgreSQL read models) are less than 1s behind the
//     log again.
//
// The schema and the JetStream streams are removed at the end.
func runBenchCluster(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench cluster", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "short run (under a minute)")
	dbURL := fs.String("database-url", envDefault("LEDGERLINE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL URL (env LEDGERLINE_DATABASE_URL)")
	natsURL := fs.String("nats-url", envDefault("LEDGERLINE_TEST_NATS_URL", "nats://127.0.0.1:4222"),
		"NATS JetStream URL (env LEDGERLINE_TEST_NATS_URL)")
	workers := fs.Int("workers", 12, "concurrent HTTP clients of the load generator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	phase := 10 * time.Second
	if *quick {
		phase = 4 * time.Second
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var rb [5]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return err
	}
	tag := hex.EncodeToString(rb[:])
	schema, prefix := "benchcluster_"+tag, "llbench-"+tag

	admin, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("bench: PostgreSQL not reachable (set --database-url): %w", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	}()
	nc, err := nats.Connect(*natsURL, nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("bench: NATS not reachable (set --nats-url): %w", err)
	}
	defer nc.Close()
	defer dropStreams(nc, prefix)
	u, err := url.Parse(*dbURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	dir, err := os.MkdirTemp("", "ledgerline-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var nodes []*benchNode
	defer func() {
		for _, n := range nodes {
			n.kill()
		}
	}()
	start := func(i int) (*benchNode, error) {
		n, err := startBenchNode(self, filepath.Join(dir, fmt.Sprintf("node%d", i)), "serve", "--addr", "127.0.0.1:0",
			"--keyring", filepath.Join(dir, "keyring.json"), "--database-url", u.String(), "--bus", *natsURL,
			"--bus-prefix", prefix, "--pg-read-models", "--access-log=false")
		if err == nil {
			nodes = append(nodes, n)
		}
		return n, err
	}
	fmt.Fprintf(out, "# starting node 1 (schema %s, NATS %s)\n", schema, *natsURL)
	n1, err := start(1)
	if err != nil {
		return err
	}
	gw, keys, err := benchSetup(n1)
	if err != nil {
		return err
	}
	load := &benchLoad{gateway: gw, keys: keys, tag: tag}

	fmt.Fprintf(out, "# phase 1: %d clients, batches of %d, all to node 1, %s\n", *workers, benchBatch, phase)
	one := load.run(ctx, []*benchNode{n1}, *workers, phase)
	fmt.Fprintf(out, "%-28s %12.0f records/s\n", "append_1node", one)

	for i := 2; i <= 3; i++ {
		if _, err := start(i); err != nil {
			return err
		}
	}
	// diagnostic: what the two extra nodes cost when they take no requests
	// (their read models tail the log), apart from appends racing across nodes
	fmt.Fprintf(out, "# phase 2a: 3 nodes running, all requests still to node 1, %s\n", phase)
	idle := load.run(ctx, []*benchNode{n1}, *workers, phase)
	fmt.Fprintf(out, "%-28s %12.0f records/s\n", "append_3up_all_to_node1", idle)
	fmt.Fprintf(out, "# phase 2: the same clients spread over 3 nodes, %s\n", phase)
	three := load.run(ctx, nodes, *workers, phase)
	fmt.Fprintf(out, "%-28s %12.0f records/s\n", "append_3nodes", three)

	// failover under load
	holder := benchLeaseHolder(nodes)
	if holder == nil {
		return errors.New("bench: no node reports holding the relay lease")
	}
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan float64, 1)
	go func() { loadDone <- load.run(lctx, nodes, *workers, time.Hour) }()
	time.Sleep(time.Second)
	t0 := time.Now()
	holder.kill()
	var tLease time.Time
	deadline := t0.Add(60 * time.Second)
	failover := -1.0
	for time.Now().Before(deadline) {
		if tLease.IsZero() {
			for _, n := range nodes {
				if n != holder && n.leaseSince(leaseRelay, t0) {
					tLease = time.Now()
				}
			}
		}
		if !tLease.IsZero() {
			lag, err := benchProjectionLag(ctx, admin, schema)
			if err == nil && lag < time.Second {
				failover = time.Since(t0).Seconds()
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopLoad()
	<-loadDone
	if failover < 0 {
		return errors.New("bench: no failover within 60s")
	}
	fmt.Fprintf(out, "# relay lease moved after %.3fs\n", tLease.Sub(t0).Seconds())
	fmt.Fprintf(out, "# load generator errors (killed node, refused connections): %d\n", load.errors.Load())
	fmt.Fprintf(out, "ratio append_3nodes_vs_1node %.3f\n", three/one)
	fmt.Fprintf(out, "ratio failover_seconds %.3f\n", failover)
	return nil
}

const benchBatch = 500

// benchNode is one `ledgerline serve` child process.
type benchNode struct {
	cmd   *exec.Cmd
	url   string
	admin string
	done  chan struct{}

	mu     sync.Mutex
	leases []benchLeaseLine
}

type benchLeaseLine struct {
	lease string
	at    time.Time
}

var (
	benchURLLine   = regexp.MustCompile(`listening on (http://\S+)`)
	benchTokenLine = regexp.MustCompile(`Admin token \(shown once[^)]*\): (llt_\S+)`)
)

func startBenchNode(bin, dataDir string, args ...string) (*benchNode, error) {
	n := &benchNode{cmd: exec.Command(bin, append(args, "--data-dir", dataDir)...), done: make(chan struct{})}
	n.cmd.Env = append(os.Environ(), "LEDGERLINE_DATABASE_URL=", "LEDGERLINE_EVENTSTOREDB_URL=")
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	var tail bytes.Buffer
	var tailMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var rec struct {
				Msg   string `json:"msg"`
				Lease string `json:"lease"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "lease acquired" {
				n.mu.Lock()
				n.leases = append(n.leases, benchLeaseLine{rec.Lease, time.Now()})
				n.mu.Unlock()
			}
			tailMu.Lock()
			if tail.Len() < 16<<10 {
				tail.Write(line)
				tail.WriteByte('\n')
			}
			tailMu.Unlock()
		}
	}()
	go func() {
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			line := sc.Text()
			if m := benchURLLine.FindStringSubmatch(line); m != nil {
				n.url = m[1]
			}
			if m := benchTokenLine.FindStringSubmatch(line); m != nil {
				n.admin = m[1]
			}
			if strings.HasPrefix(line, "API reference:") && !once {
				once = true
				close(ready)
			}
		}
		_ = n.cmd.Wait()
		close(n.done)
	}()
	select {
	case <-ready:
		return n, nil
	case <-n.done:
	case <-time.After(60 * time.Second):
		n.kill()
	}
	tailMu.Lock()
	defer tailMu.Unlock()
	return nil, fmt.Errorf("bench: node did not start:\n%s", tail.String())
}

func (n *benchNode) kill() {
	if n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.done
	}
}

func (n *benchNode) alive() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// leaseSince reports whether the node logged acquiring lease after t.
func (n *benchNode) leaseSince(lease string, t time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.leases {
		if l.lease == lease && l.at.After(t) {
			return true
		}
	}
	return false
}

// benchLeaseHolder is the living node that acquired the relay lease last.
func benchLeaseHolder(nodes []*benchNode) *benchNode {
	var best *benchNode
	var at time.Time
	for _, n := range nodes {
		if !n.alive() {
			continue
		}
		n.mu.Lock()
		for _, l := range n.leases {
			if l.lease == leaseRelay && l.at.After(at) {
				best, at = n, l.at
			}
		}
		n.mu.Unlock()
	}
	return best
}

// benchPost sends one JSON request; want is the expected status.
func benchPost(base, token, path string, body any, want int, v any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest("POST", base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: status %d: %s", path, res.StatusCode, rb)
	}
	if v != nil {
		return json.Unmarshal(rb, v)
	}
	return nil
}

// benchSetup issues a gateway token and registers accounts with one key each.
func benchSetup(n *benchNode) (gateway string, keys []string, err error) {
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := benchPost(n.url, n.admin, "/v1/tokens", map[string]any{"role": "gateway"}, 201, &tok); err != nil {
		return "", nil, err
	}
	for i := 0; i < 8; i++ {
		var acct struct {
			AccountID string `json:"account_id"`
		}
		if err := benchPost(n.url, tok.Secret, "/v1/accounts", map[string]any{"email": fmt.Sprintf("bench%d@example.org", i),
			"name": fmt.Sprintf("Bench %d", i), "age_confirmed": true, "region": "DE", "jurisdiction": "EU", "policy_version": "2025-10-01"}, 201, &acct); err != nil {
			return "", nil, err
		}
		var key struct {
			KeyID string `json:"key_id"`
		}
		if err := benchPost(n.url, n.admin, "/v1/accounts/"+acct.AccountID+"/keys", map[string]any{"name": "bench", "scopes": []string{"inference"}}, 201, &key); err != nil {
			return "", nil, err
		}
		keys = append(keys, key.KeyID)
	}
	return tok.Secret, keys, nil
}

// benchLoad posts usage batches with fresh request ids.
type benchLoad struct {
	gateway string
	keys    []string
	tag     string
	seq     atomic.Int64
	errors  atomic.Int64
}

// run posts batches from workers clients, client i to the living nodes in
// turn, for d or until ctx ends, and returns the records recorded per second.
func (l *benchLoad) run(ctx context.Context, nodes []*benchNode, workers int, d time.Duration) float64 {
	var recorded atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	began := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				n := nodes[i%len(nodes)]
				if !n.alive() {
					continue
				}
				recs := make([]map[string]any, benchBatch)
				for j := range recs {
					s := l.seq.Add(1)
					recs[j] = map[string]any{"key_id": l.keys[int(s)%len(l.keys)], "request_id": fmt.Sprintf("%s-%d", l.tag, s),
						"provider": "openai", "model": "gpt-4o", "input_tokens": 100, "output_tokens": 50, "cost_micros": 10,
						"status": "ok", "latency_ms": 120}
				}
				var res struct {
					Recorded int `json:"recorded"`
				}
				if err := benchPost(n.url, l.gateway, "/v1/usage/batch", map[string]any{"records": recs}, 200, &res); err != nil {
					l.errors.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				recorded.Add(int64(res.Recorded))
			}
		}()
	}
	wg.Wait()
	return float64(recorded.Load()) / time.Since(began).Seconds()
}

// benchProjectionLag is the age of the oldest event the outbox relay or the
// PostgreSQL read models have not applied yet (0 when both are caught up).
func benchProjectionLag(ctx context.Context, db *pgx.Conn, schema string) (time.Duration, error) {
	s := pgx.Identifier{schema}.Sanitize()
	var relay, rm int64
	if err := db.QueryRow(ctx, `SELECT coalesce((SELECT position FROM `+s+`.reader_checkpoints WHERE name = $1), 0)`, relayCheckpoint).Scan(&relay); err != nil {
		return 0, err
	}
	if err := db.QueryRow(ctx, `SELECT coalesce(min(position), 0) FROM `+s+`.projection_checkpoints`).Scan(&rm); err != nil {
		return 0, err
	}
	from := min(relay, rm)
	var oldest *time.Time
	if err := db.QueryRow(ctx, `SELECT min(recorded_at) FROM `+s+`.events WHERE position = $1`, from+1).Scan(&oldest); err != nil {
		return 0, err
	}
	if oldest == nil {
		return 0, nil
	}
	return time.Since(*oldest), nil
}

// dropStreams deletes the JetStream streams whose names start with prefix.
func dropStreams(nc *nats.Conn, prefix string) {
	js, err := nc.JetStream()
	if err != nil {
		return
	}
	for name := range js.StreamNames() {
		if strings.HasPrefix(name, prefix) {
			_ = js.DeleteStream(name)
		}
	}
}
