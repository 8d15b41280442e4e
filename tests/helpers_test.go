package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Helpers of the privacy checklist tests (checklist_test.go, canary_test.go).
// Names start with ck so they never collide with e2e_test.go's.

var ckBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ckBuild.dir != "" {
		_ = os.RemoveAll(ckBuild.dir)
	}
	os.Exit(code)
}

// ckBinary builds ./cmd/ledgerline once per test binary run.
func ckBinary(t *testing.T) string {
	t.Helper()
	ckBuild.once.Do(func() {
		ckBuild.dir, ckBuild.err = os.MkdirTemp("", "ledgerline-checklist-")
		if ckBuild.err != nil {
			return
		}
		ckBuild.bin = filepath.Join(ckBuild.dir, "ledgerline")
		cmd := exec.Command("go", "build", "-o", ckBuild.bin, "../cmd/ledgerline")
		ckBuild.out, ckBuild.err = cmd.CombinedOutput()
	})
	if ckBuild.err != nil {
		t.Fatalf("go build ./cmd/ledgerline: %v\n%s", ckBuild.err, ckBuild.out)
	}
	return ckBuild.bin
}

// ckBackend is where a server keeps its log: the embedded store in its data
// directory, or a fresh PostgreSQL schema.
type ckBackend struct {
	name    string // "embedded" or "postgres"
	dbURL   string // with search_path (postgres only)
	baseURL string // without search_path, for pg_dump and direct SQL
	schema  string
}

func (b ckBackend) pg() bool { return b.name == "postgres" }

// ckEmbedded is the embedded backend.
var ckEmbedded = ckBackend{name: "embedded"}

// ckPostgres gives the test a fresh schema; it skips (or fails with CI=true)
// when PostgreSQL is unreachable.
func ckPostgres(t *testing.T) ckBackend {
	t.Helper()
	u, schema := pgtest.Schema(t)
	return ckBackend{name: "postgres", dbURL: u, baseURL: pgtest.URL(t), schema: schema}
}

// ckBothBackends runs fn as subtests "embedded" and "postgres".
func ckBothBackends(t *testing.T, fn func(t *testing.T, be ckBackend)) {
	t.Run("embedded", func(t *testing.T) { fn(t, ckEmbedded) })
	t.Run("postgres", func(t *testing.T) { fn(t, ckPostgres(t)) })
}

// ckServer is a running (or stopped) `ledgerline serve` in its own data
// directory. logs accumulates stdout and stderr of every run.
type ckServer struct {
	bin   string
	dir   string
	be    ckBackend
	extra []string

	url   string
	admin string

	mu     sync.Mutex
	logs   bytes.Buffer // every line of stdout and stderr, all runs
	stdout bytes.Buffer // this run
	cmd    *exec.Cmd
	done   chan error

	// responses holds every response body this helper received, so a test
	// can check where a secret appeared.
	responses []ckReply
}

type ckLockedWriter struct {
	mu *sync.Mutex
	bs []*bytes.Buffer
}

func (w ckLockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.bs {
		b.Write(p)
	}
	return len(p), nil
}

var (
	ckURLLine   = regexp.MustCompile(`listening on (http://\S+)`)
	ckTokenLine = regexp.MustCompile(`Admin token \(shown once[^)]*\): (llt_\S+)`)
)

// ckStart starts a server on a fresh temp dir and backend.
func ckStart(t *testing.T, be ckBackend, extra ...string) *ckServer {
	t.Helper()
	s := &ckServer{bin: ckBinary(t), dir: t.TempDir(), be: be, extra: extra}
	s.start(t)
	t.Cleanup(func() {
		if s.running() {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *ckServer) running() bool { return s.cmd != nil && s.cmd.ProcessState == nil && s.done != nil }

// storeArgs selects this server's store for the CLI's store commands
// (audit, keys): --data-dir or --database-url, never both.
func (s *ckServer) storeArgs() []string {
	if s.be.pg() {
		return []string{"--database-url", s.be.dbURL}
	}
	return []string{"--data-dir", s.dir}
}

// serveArgs are the storage flags of serve (and token issue): data dir
// always, database URL for PostgreSQL.
func (s *ckServer) serveArgs() []string {
	a := []string{"--data-dir", s.dir}
	if s.be.pg() {
		a = append(a, "--database-url", s.be.dbURL)
	}
	return a
}

func (s *ckServer) start(t *testing.T) {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0"}, s.serveArgs()...)
	args = append(args, s.extra...)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = ckEnv()
	s.mu.Lock()
	s.stdout.Reset()
	s.mu.Unlock()
	cmd.Stderr = ckLockedWriter{mu: &s.mu, bs: []*bytes.Buffer{&s.logs}}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	done := s.done
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stdout.WriteString(line + "\n")
			s.logs.WriteString(line + "\n")
			if m := ckURLLine.FindStringSubmatch(line); m != nil {
				s.url = m[1]
			}
			if m := ckTokenLine.FindStringSubmatch(line); m != nil {
				s.admin = m[1]
			}
			s.mu.Unlock()
			if strings.HasPrefix(line, "API reference:") && !signalled {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-done:
		done <- err
		t.Fatalf("serve exited early: %v\n%s", err, s.logText())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start\n%s", s.logText())
	}
	if s.url == "" || s.admin == "" {
		t.Fatalf("no URL or admin token on stdout:\n%s", s.logText())
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *ckServer) stop(t *testing.T) {
	t.Helper()
	if !s.running() {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, s.logText())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

// restart stops the server and starts it again on the same data (the admin
// token from the first start stays valid).
func (s *ckServer) restart(t *testing.T) {
	t.Helper()
	s.stop(t)
	admin := s.admin
	s.start(t)
	if s.admin == "" || s.admin != admin {
		// a restart prints no new admin token
		s.admin = admin
	}
}

func (s *ckServer) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// ckEnv is the environment of child processes: no store selected by the
// caller's environment.
func ckEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LEDGERLINE_DATABASE_URL=") || strings.HasPrefix(kv, "LEDGERLINE_DATA_DIR=") ||
			strings.HasPrefix(kv, "LEDGERLINE_KEYRING=") || strings.HasPrefix(kv, "LEDGERLINE_ADDR=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// cli runs the binary with args and returns its combined output and error.
func (s *ckServer) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return ckRun(t, s.bin, args...)
}

func ckRun(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = ckEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ckReply is one HTTP response.
type ckReply struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (r ckReply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s %s: decode %s: %v", r.method, r.path, r.body, err)
	}
}

// pos is the log position a write reached (X-Ledgerline-Position).
func (r ckReply) pos(t *testing.T) string {
	t.Helper()
	p := r.header.Get("X-Ledgerline-Position")
	if _, err := strconv.ParseUint(p, 10, 64); err != nil {
		t.Fatalf("%s %s: no X-Ledgerline-Position (%q): %s", r.method, r.path, p, r.body)
	}
	return p
}

// try sends one request and returns whatever came back.
func (s *ckServer) try(t *testing.T, token, method, path string, body any) ckReply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := ckReply{method: method, path: path, status: res.StatusCode, header: res.Header, body: b}
	s.mu.Lock()
	s.responses = append(s.responses, r)
	s.mu.Unlock()
	return r
}

// do sends one request and fails the test unless the status is want.
func (s *ckServer) do(t *testing.T, token, method, path string, body any, want int) ckReply {
	t.Helper()
	r := s.try(t, token, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// ckToken is an operator token issued over HTTP.
type ckToken struct {
	ID     string `json:"token_id"`
	Secret string `json:"secret"`
	Role   string `json:"role"`
}

func (s *ckServer) token(t *testing.T, role, account string) ckToken {
	t.Helper()
	body := map[string]any{"role": role}
	if account != "" {
		body["account_id"] = account
	}
	var tok ckToken
	s.do(t, s.admin, "POST", "/v1/tokens", body, 201).decode(t, &tok)
	if tok.Secret == "" || tok.ID == "" {
		t.Fatalf("token issue answered no id or secret")
	}
	return tok
}

// ckStaff are the staff tokens most tests need.
type ckStaff struct {
	gw, comp, aud ckToken
}

func (s *ckServer) staff(t *testing.T) ckStaff {
	t.Helper()
	return ckStaff{gw: s.token(t, "gateway", ""), comp: s.token(t, "compliance", ""), aud: s.token(t, "auditor", "")}
}

// ckPerson is a registered account with a customer token.
type ckPerson struct {
	ID      string
	Email   string
	Name    string
	Cust    ckToken
	Credits bool
	Pos     string
}

// ckSuffix is a value unique to this run, to build canaries.
func ckSuffix() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}

// register registers an account through the gateway role and issues a
// customer token for it.
func (s *ckServer) register(t *testing.T, gw ckToken, email, name, jurisdiction, region string) ckPerson {
	t.Helper()
	var res struct {
		AccountID      string `json:"account_id"`
		CreditsGranted bool   `json:"credits_granted"`
	}
	r := s.do(t, gw.Secret, "POST", "/v1/accounts", map[string]any{"email": email, "name": name, "age_confirmed": true,
		"region": region, "jurisdiction": jurisdiction, "policy_version": "2025-10-01"}, 201)
	r.decode(t, &res)
	p := ckPerson{ID: res.AccountID, Email: email, Name: name, Credits: res.CreditsGranted, Pos: r.pos(t)}
	p.Cust = s.token(t, "customer", p.ID)
	return p
}

// ckKey is an issued API key.
type ckKey struct {
	KeyID  string `json:"key_id"`
	Secret string `json:"secret"`
	Prefix string `json:"prefix"`
}

func (s *ckServer) issueKey(t *testing.T, p ckPerson, name string) (ckKey, string) {
	t.Helper()
	var k ckKey
	r := s.do(t, p.Cust.Secret, "POST", "/v1/accounts/"+p.ID+"/keys", map[string]any{"name": name, "scopes": []string{"inference"}}, 201)
	r.decode(t, &k)
	if k.Secret == "" || k.KeyID == "" {
		t.Fatalf("key issue answered no id or secret: %s", r.body)
	}
	return k, r.pos(t)
}

func ckUsage(keyID, req string, in, out, cost int64) map[string]any {
	return map[string]any{"key_id": keyID, "request_id": req, "provider": "openai", "model": "gpt-4o",
		"input_tokens": in, "output_tokens": out, "cost_micros": cost, "status": "ok", "latency_ms": 120}
}

// ckRequest is a privacy request as GET /v1/privacy/requests/{id} shows it.
type ckRequest struct {
	RequestID       string     `json:"request_id"`
	Subject         string     `json:"subject_id"`
	Kind            string     `json:"kind"`
	Channel         string     `json:"channel"`
	Law             string     `json:"law"`
	Status          string     `json:"status"`
	ReceivedAt      time.Time  `json:"received_at"`
	DueAt           time.Time  `json:"due_at"`
	AckDueAt        *time.Time `json:"ack_due_at"`
	AcknowledgedAt  *time.Time `json:"acknowledged_at"`
	ExtendedAt      *time.Time `json:"extended_at"`
	ExtensionReason string     `json:"extension_reason"`
	DeferredBy      []string   `json:"deferred_by"`
	KeyShreddedAt   *time.Time `json:"key_shredded_at"`
	CertificateID   *string    `json:"certificate_id"`
	ClosedAt        *time.Time `json:"closed_at"`
	Overdue         bool       `json:"overdue"`
	Details         string     `json:"details"`
	Erasure         *struct {
		Stage         string  `json:"stage"`
		CertificateID *string `json:"certificate_id"`
	} `json:"erasure"`
	Raw json.RawMessage `json:"-"`
}

func (s *ckServer) request(t *testing.T, token, id, query string) ckRequest {
	t.Helper()
	r := s.do(t, token, "GET", "/v1/privacy/requests/"+id+query, nil, 200)
	var v ckRequest
	r.decode(t, &v)
	v.Raw = r.body
	if v.CertificateID == nil && v.Erasure != nil && v.Erasure.CertificateID != nil {
		v.CertificateID = v.Erasure.CertificateID
	}
	return v
}

// waitRequest polls a request until cond holds (bounded).
func (s *ckServer) waitRequest(t *testing.T, token, id string, within time.Duration, cond func(ckRequest) bool) ckRequest {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := s.request(t, token, id, "")
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s did not reach the expected state within %s: %s", id, within, v.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// erase files an erasure request for p and runs it; it returns the request
// id and the erase answer.
func (s *ckServer) erase(t *testing.T, comp ckToken, p ckPerson) (string, ckReply) {
	t.Helper()
	var req struct {
		RequestID string `json:"request_id"`
	}
	s.do(t, comp.Secret, "POST", "/v1/privacy/requests", map[string]any{"subject_id": p.ID, "kind": "erasure", "channel": "email"}, 201).decode(t, &req)
	r := s.do(t, comp.Secret, "POST", "/v1/privacy/requests/"+req.RequestID+"/erase", nil, 200)
	return req.RequestID, r
}

// eraseDone files and runs an erasure and waits until the request is completed.
func (s *ckServer) eraseDone(t *testing.T, comp ckToken, p ckPerson) ckRequest {
	t.Helper()
	id, _ := s.erase(t, comp, p)
	return s.waitRequest(t, comp.Secret, id, 30*time.Second, func(v ckRequest) bool { return v.Status == "completed" })
}

// ckAuditEvent is one envelope from /v1/audit/*.
type ckAuditEvent struct {
	ID       string          `json:"id"`
	Stream   string          `json:"stream"`
	Version  uint64          `json:"version"`
	Position uint64          `json:"position"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Subject  string          `json:"subject"`
	Sealed   []byte          `json:"sealed"`
	Meta     json.RawMessage `json:"meta"`
}

// auditAll pages through the whole log as an auditor; it also returns the
// raw page bodies.
func (s *ckServer) auditAll(t *testing.T, aud ckToken) ([]ckAuditEvent, [][]byte) {
	t.Helper()
	var all []ckAuditEvent
	var bodies [][]byte
	from := uint64(1)
	for i := 0; i < 10000; i++ {
		r := s.do(t, aud.Secret, "GET", fmt.Sprintf("/v1/audit/events?from=%d&limit=1000", from), nil, 200)
		var page struct {
			Events []ckAuditEvent `json:"events"`
			Next   uint64         `json:"next"`
		}
		r.decode(t, &page)
		bodies = append(bodies, r.body)
		all = append(all, page.Events...)
		if page.Next == 0 || len(page.Events) == 0 {
			return all, bodies
		}
		from = page.Next
	}
	t.Fatal("audit paging did not end")
	return nil, nil
}

func (s *ckServer) auditStream(t *testing.T, aud ckToken, stream string) []ckAuditEvent {
	t.Helper()
	var page struct {
		Events []ckAuditEvent `json:"events"`
	}
	s.do(t, aud.Secret, "GET", "/v1/audit/streams/"+stream+"?limit=1000", nil, 200).decode(t, &page)
	return page.Events
}

// hasRoute reports whether the served OpenAPI document lists a path
// matching re (used to tell a missing feature from a failing one).
func (s *ckServer) hasRoute(t *testing.T, method string, re *regexp.Regexp) bool {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	s.do(t, "", "GET", "/openapi.json", nil, 200).decode(t, &doc)
	for p, ops := range doc.Paths {
		if re.MatchString(p) {
			if _, ok := ops[strings.ToLower(method)]; ok {
				return true
			}
		}
	}
	return false
}

// cliHas reports whether `ledgerline <words...> --help` is understood.
func (s *ckServer) cliHas(t *testing.T, words ...string) bool {
	t.Helper()
	out, err := s.cli(t, append(words, "--help")...)
	if err != nil && (strings.Contains(out, "unknown command") || strings.Contains(out, "unknown "+words[0]+" command")) {
		return false
	}
	return !strings.Contains(out, "unknown command") && !strings.Contains(out, "flag provided but not defined")
}

// ---- searching stored bytes ----

// ckNeedle is a value that must not be found, with a label for messages
// (never the value itself).
type ckNeedle struct {
	label string
	value []byte
}

func ckNeedles(kv ...string) []ckNeedle {
	var ns []ckNeedle
	for i := 0; i+1 < len(kv); i += 2 {
		ns = append(ns, ckNeedle{label: kv[i], value: []byte(kv[i+1])})
	}
	return ns
}

// forms are the encodings a stored value may take: raw, hex (bytea in a
// dump, hashes) and base64 (JSON []byte).
func (n ckNeedle) forms() map[string][]byte {
	f := map[string][]byte{"raw": n.value}
	f["hex"] = []byte(hex.EncodeToString(n.value))
	if len(n.value) >= 6 {
		f["base64"] = []byte(base64.StdEncoding.EncodeToString(n.value))
		f["base64-raw"] = []byte(base64.RawStdEncoding.EncodeToString(n.value))
	}
	return f
}

// ckFinding is where a needle was found.
type ckFinding struct {
	needle, form, where string
}

func (f ckFinding) String() string { return fmt.Sprintf("%s (%s) in %s", f.needle, f.form, f.where) }

func ckSearch(where string, hay []byte, needles []ckNeedle) []ckFinding {
	var out []ckFinding
	low := bytes.ToLower(hay)
	for _, n := range needles {
		for form, v := range n.forms() {
			if bytes.Contains(hay, v) || (form == "hex" && bytes.Contains(low, bytes.ToLower(v))) {
				out = append(out, ckFinding{n.label, form, where})
			}
		}
	}
	return out
}

// searchDir reads every file under dir, skipping names in skip.
func ckSearchDir(t *testing.T, dir string, needles []ckNeedle, skip ...string) []ckFinding {
	t.Helper()
	var out []ckFinding
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		for _, s := range skip {
			if d.Name() == s {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, ckSearch("file "+rel, b, needles)...)
		return nil
	})
	if err != nil {
		t.Fatalf("search %s: %v", dir, err)
	}
	if files == 0 {
		t.Fatalf("search %s: no files (the search would be vacuous)", dir)
	}
	return out
}

// pgDump dumps the backend's schema with pg_dump (data and definitions); it
// falls back to SELECTing every table as text when pg_dump is missing.
func ckPgDump(t *testing.T, be ckBackend) []byte {
	t.Helper()
	if _, err := exec.LookPath("pg_dump"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "pg_dump", "--no-owner", "-n", be.schema, "-d", be.baseURL)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			if !bytes.Contains(out, []byte("COPY "+be.schema+".events")) && !bytes.Contains(out, []byte(be.schema+".events")) {
				t.Fatalf("pg_dump of %s has no events table (vacuous search):\n%.2000s", be.schema, out)
			}
			return out
		}
		t.Logf("pg_dump failed (%v: %s); selecting every table instead", err, stderr.String())
	}
	return ckPgSelectAll(t, be)
}

func ckPgSelectAll(t *testing.T, be ckBackend) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, be.baseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, be.schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatalf("schema %s has no tables", be.schema)
	}
	var buf bytes.Buffer
	for _, tb := range tables {
		q := fmt.Sprintf(`SELECT t::text FROM %s.%s t`, pgx.Identifier{be.schema}.Sanitize(), pgx.Identifier{tb}.Sanitize())
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("select %s: %v", tb, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("select %s: %v", tb, err)
		}
		fmt.Fprintf(&buf, "-- table %s\n%s\n", tb, strings.Join(lines, "\n"))
	}
	return buf.Bytes()
}

// ckPgExec runs one statement on the backend's schema.
func ckPgConn(t *testing.T, be ckBackend) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, be.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// scanEverything searches the data directory, the PostgreSQL schema (when
// used) and the captured logs, and reports every finding as an error.
func (s *ckServer) scanEverything(t *testing.T, what string, needles []ckNeedle, skipFiles ...string) {
	t.Helper()
	var found []ckFinding
	found = append(found, ckSearchDir(t, s.dir, needles, skipFiles...)...)
	if s.be.pg() {
		found = append(found, ckSearch("pg_dump of schema "+s.be.schema, ckPgDump(t, s.be), needles)...)
	}
	logs := s.logText()
	if len(logs) == 0 {
		t.Error("no server output captured (the log search would be vacuous)")
	}
	found = append(found, ckSearch("server logs", []byte(logs), needles)...)
	for _, f := range found {
		t.Errorf("%s: found %s", what, f)
	}
}

// ckIsExit reports whether err is a non-zero exit of a child process.
func ckIsExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

// ---- opening a stopped server's storage in process ----

// ckOffline is a stopped server's keyring, store and vault, wired like
// `ledgerline serve` wires them (cmd/ledgerline/backend.go).
type ckOffline struct {
	kr    *keyring.File
	store eventstore.Store
	vault eventstore.Vault
	codec *eventstore.Codec
	seal  *eventstore.VaultSealer
	emb   *embedded.Store // embedded only
	pg    *postgres.Store // postgres only
}

// offline opens the storage of the stopped server s. Close it before
// starting s again.
func (s *ckServer) offline(t *testing.T) *ckOffline {
	t.Helper()
	if s.running() {
		t.Fatal("offline: stop the server first")
	}
	ctx := context.Background()
	kr, err := keyring.Open(keyring.DefaultPath(s.dir))
	if err != nil {
		t.Fatal(err)
	}
	o := &ckOffline{kr: kr}
	if s.be.pg() {
		st, err := postgres.Open(ctx, postgres.Config{URL: s.be.dbURL})
		if err != nil {
			t.Fatal(err)
		}
		v, err := postgres.NewVault(ctx, st.Pool(), kr)
		if err != nil {
			st.Close()
			t.Fatal(err)
		}
		o.store, o.vault, o.pg = st, v, st
	} else {
		st, err := embedded.Open(s.dir, embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := embedded.OpenVault(embedded.DefaultVaultPath(s.dir), kr)
		if err != nil {
			st.Close()
			t.Fatal(err)
		}
		o.store, o.vault, o.emb = st, v, st
	}
	reg, err := commands.NewRegistry()
	if err != nil {
		o.close(t)
		t.Fatal(err)
	}
	o.seal = eventstore.NewSealer(o.vault, 0)
	if o.codec, err = eventstore.NewCodec(reg, o.seal); err != nil {
		o.close(t)
		t.Fatal(err)
	}
	return o
}

func (o *ckOffline) close(t *testing.T) {
	t.Helper()
	if o.vault != nil {
		if err := o.vault.Close(); err != nil {
			t.Error(err)
		}
		o.vault = nil
	}
	if o.store != nil {
		if err := o.store.Close(); err != nil {
			t.Error(err)
		}
		o.store = nil
	}
}

// service is a command service over the offline storage with the clock now.
func (o *ckOffline) service(t *testing.T, now func() time.Time) *commands.Service {
	t.Helper()
	svc, err := commands.New(commands.Deps{Store: o.store, Codec: o.codec, Shredder: o.seal, Pepper: o.kr.Pepper(), Now: now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// ---- certificates (the erasure → verification → certificate flow) ----

var (
	ckCertRoute   = regexp.MustCompile(`^/v1/certificates/\{[A-Za-z_]+\}$`)
	ckPubKeyRoute = regexp.MustCompile(`^/v1/certificates/public-key$`)
)

// certificatesServed reports whether the server serves certificates: the
// routes exist and it publishes a signing key.
func (s *ckServer) certificatesServed(t *testing.T) bool {
	t.Helper()
	if !s.hasRoute(t, "GET", ckCertRoute) || !s.hasRoute(t, "GET", ckPubKeyRoute) {
		return false
	}
	return s.try(t, "", "GET", "/v1/certificates/public-key", nil).status == 200
}

// requireCertificates skips the test when the server does not serve
// certificates yet.
func (s *ckServer) requireCertificates(t *testing.T) {
	t.Helper()
	if !s.certificatesServed(t) {
		t.Skip("not implemented: erasure certificates (GET /v1/certificates/{id} and GET /v1/certificates/public-key answer nothing: no signed certificate is issued by `ledgerline serve`)")
	}
}

// ckCert is the part of a deletion certificate the tests look at.
type ckCert struct {
	Format  string `json:"format"`
	ID      string `json:"certificate_id"`
	Request struct {
		ID          string    `json:"id"`
		Channel     string    `json:"channel"`
		ReceivedAt  time.Time `json:"received_at"`
		DueAt       time.Time `json:"due_at"`
		CompletedAt time.Time `json:"completed_at"`
	} `json:"request"`
	SubjectPseudonym string `json:"subject_pseudonym"`
	Key              struct {
		KeyID                  string    `json:"key_id"`
		DestroyedAt            time.Time `json:"destroyed_at"`
		KEKEpoch               int       `json:"kek_epoch"`
		KEKRetiredAt           time.Time `json:"kek_retired_at"`
		KEKRetirementScheduled bool      `json:"kek_retirement_scheduled"`
	} `json:"key_destruction"`
	Retained []struct {
		Category  string    `json:"category"`
		Reason    string    `json:"reason"`
		Basis     string    `json:"basis"`
		Reference string    `json:"reference"`
		ReviewAt  time.Time `json:"review_at"`
	} `json:"retained"`
	Checks []struct {
		Name   string `json:"name"`
		Result string `json:"result"`
		Detail string `json:"detail"`
	} `json:"verification"`
	ChainHead struct {
		Position uint64 `json:"position"`
		Hash     string `json:"hash"`
	} `json:"chain_head"`
}

// certificate fetches the signed certificate file of a completed erasure
// request and decodes its content.
func (s *ckServer) certificate(t *testing.T, token string, req ckRequest) ([]byte, ckCert) {
	t.Helper()
	if req.CertificateID == nil || *req.CertificateID == "" {
		// verification and signing may follow the shred: wait for them
		req = s.waitRequest(t, token, req.RequestID, 30*time.Second, func(v ckRequest) bool {
			return v.CertificateID != nil && *v.CertificateID != ""
		})
	}
	r := s.do(t, token, "GET", "/v1/certificates/"+*req.CertificateID, nil, 200)
	var file struct {
		Certificate ckCert `json:"certificate"`
		Signature   string `json:"signature"`
	}
	r.decode(t, &file)
	if file.Signature == "" || file.Certificate.ID != *req.CertificateID {
		t.Fatalf("certificate file: %s", r.body)
	}
	return r.body, file.Certificate
}

// publicKey is the certificate signing public key as the server publishes it.
func (s *ckServer) publicKey(t *testing.T) string {
	t.Helper()
	r := s.do(t, "", "GET", "/v1/certificates/public-key", nil, 200)
	var v struct {
		PublicKey string `json:"public_key"`
	}
	if json.Unmarshal(r.body, &v) == nil && v.PublicKey != "" {
		return v.PublicKey
	}
	k := strings.TrimSpace(string(r.body))
	if !strings.HasPrefix(k, "ledgerline-ed25519:") {
		t.Fatalf("public key answer: %s", r.body)
	}
	return k
}

// verifyCertificateCLI runs `ledgerline certificate verify` on file.
func (s *ckServer) verifyCertificateCLI(t *testing.T, file []byte, pub string) (string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "certificate.json")
	if err := os.WriteFile(p, file, 0o600); err != nil {
		t.Fatal(err)
	}
	return s.cli(t, "certificate", "verify", p, "--public-key", pub)
}

// checkCertificateOffline: the certificate verifies offline with the public
// key and fails after any one of a spread of single-byte changes.
func (s *ckServer) checkCertificateOffline(t *testing.T, file []byte, pub string) {
	t.Helper()
	out, err := s.verifyCertificateCLI(t, file, pub)
	if err != nil || !strings.HasPrefix(out, "OK") {
		t.Fatalf("certificate verify on the issued certificate: %v\n%s", err, out)
	}
	positions := []int{0, 1, len(file) / 7, len(file) / 3, len(file) / 2, 2 * len(file) / 3, len(file) - 60, len(file) - 10, len(file) - 3, len(file) - 1}
	// also every digit of the first timestamp and of the chain head
	if i := bytes.Index(file, []byte(`"completed_at":"`)); i > 0 {
		positions = append(positions, i+len(`"completed_at":"`)+3)
	}
	if i := bytes.Index(file, []byte(`"position":`)); i > 0 {
		positions = append(positions, i+len(`"position":`))
	}
	for _, i := range positions {
		if i < 0 || i >= len(file) {
			continue
		}
		bad := bytes.Clone(file)
		switch {
		case bad[i] >= '0' && bad[i] < '9':
			bad[i]++ // a plausible edit: another digit
		case bad[i] == '9':
			bad[i] = '8'
		default:
			bad[i] ^= 0x01
		}
		out, err := s.verifyCertificateCLI(t, bad, pub)
		if err == nil || !ckIsExit(err) {
			t.Errorf("certificate verify accepted the certificate with byte %d changed (%q→%q): %v\n%s", i, file[i], bad[i], err, out)
		}
	}
}
