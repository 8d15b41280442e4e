package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers of the reliability, hostile-input and leak tests. Names carry a
// "rel" prefix so they never collide with the other end-to-end helpers.

var relBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// relBinary builds ./cmd/ledgerline once per test process.
func relBinary(t testing.TB) string {
	t.Helper()
	relBuild.once.Do(func() {
		// LEDGERLINE_REL_BIN: a prebuilt binary (e.g. while the tree does not build)
		if p := os.Getenv("LEDGERLINE_REL_BIN"); p != "" {
			relBuild.path = p
			return
		}
		dir, err := os.MkdirTemp("", "ledgerline-rel-bin-")
		if err != nil {
			relBuild.err = err
			return
		}
		relBuild.path = filepath.Join(dir, "ledgerline")
		cmd := exec.Command("go", "build", "-o", relBuild.path, "../cmd/ledgerline")
		relBuild.out, relBuild.err = cmd.CombinedOutput()
	})
	if relBuild.err != nil {
		t.Fatalf("go build: %v\n%s", relBuild.err, relBuild.out)
	}
	return relBuild.path
}

// relLog collects everything a server printed, across restarts.
type relLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *relLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *relLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// relServer is a `ledgerline serve` that can be killed and started again on
// the same data directory (and database).
type relServer struct {
	bin, dir string
	extra    []string
	env      []string

	cmd   *exec.Cmd
	done  chan error
	url   string
	admin string // printed on the first start only
	out   relLog // stdout of every run
	err   relLog // stderr (the JSON log) of every run
	runs  int
}

var (
	relURLLine   = `listening on `
	relTokenLine = `Admin token (shown once; store it safely): `
)

// relStart starts a new server in dir (a fresh store) and returns it with
// its admin token.
func relStart(t testing.TB, bin, dir string, extra ...string) *relServer {
	t.Helper()
	s := &relServer{bin: bin, dir: dir, extra: extra}
	t.Cleanup(func() { s.killQuiet() })
	s.start(t)
	if s.admin == "" {
		t.Fatalf("no admin token on the first start:\n%s", s.out.String())
	}
	return s
}

// start (re)starts the process and waits until it serves.
func (s *relServer) start(t testing.TB) {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", s.dir}, s.extra...)
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Env = append(append(os.Environ(), "LEDGERLINE_DATABASE_URL="), s.env...)
	s.cmd.Stderr = &s.err
	pipe, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.runs++
	done := make(chan error, 1)
	s.done = done
	ready := make(chan string, 1)
	go func(cmd *exec.Cmd) {
		sc := bufio.NewScanner(pipe)
		url, signalled := "", false
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.out.Write([]byte(line + "\n"))
			if i := strings.Index(line, relURLLine); i >= 0 {
				url = strings.Fields(line[i+len(relURLLine):])[0]
			}
			if i := strings.Index(line, relTokenLine); i >= 0 {
				s.admin = strings.TrimSpace(line[i+len(relTokenLine):])
			}
			if strings.HasPrefix(line, "API reference:") && !signalled {
				signalled = true
				ready <- url
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		done <- cmd.Wait()
	}(s.cmd)
	select {
	case s.url = <-ready:
	case err := <-done:
		s.cmd = nil
		t.Fatalf("serve exited early: %v\nstdout:\n%s\nstderr:\n%s", err, s.out.String(), relTail(s.err.String(), 4000))
	case <-time.After(90 * time.Second):
		t.Fatalf("serve did not start\nstdout:\n%s\nstderr:\n%s", s.out.String(), relTail(s.err.String(), 4000))
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *relServer) kill(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("killed server did not exit")
	}
	s.cmd = nil
}

func (s *relServer) killQuiet() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
		s.cmd = nil
	}
}

// stop sends SIGTERM and expects a clean exit.
func (s *relServer) stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve exited with %v\nstderr:\n%s", err, relTail(s.err.String(), 4000))
		}
	case <-time.After(60 * time.Second):
		t.Error("serve did not stop after SIGTERM")
		s.killQuiet()
	}
	s.cmd = nil
}

func relTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// relClient is shared by the load generators: enough idle connections for
// 64 workers, and a timeout so that a hang shows as an error, not a stuck test.
var relClient = &http.Client{
	Timeout: 60 * time.Second,
	Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	},
}

// relReply is one HTTP answer.
type relReply struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// relRaw sends a request with a raw body and content type; err is a transport error.
func relRaw(ctx context.Context, base, token, method, path, ctype string, body []byte) (relReply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return relReply{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := relClient.Do(req)
	if err != nil {
		return relReply{took: time.Since(start)}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	r := relReply{status: res.StatusCode, header: res.Header, body: b, took: time.Since(start)}
	return r, err
}

// relDo sends v as JSON (nil: no body).
func relDo(ctx context.Context, base, token, method, path string, v any) (relReply, error) {
	if v == nil {
		return relRaw(ctx, base, token, method, path, "", nil)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return relReply{}, err
	}
	return relRaw(ctx, base, token, method, path, "application/json", b)
}

// relMust sends v and fails the test unless the status is want; out, when
// not nil, receives the JSON answer.
func relMust(t testing.TB, s *relServer, token, method, path string, v any, want int, out any) relReply {
	t.Helper()
	r, err := relDo(context.Background(), s.url, token, method, path, v)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, relTail(string(r.body), 2000))
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: decode %v: %s", method, path, err, r.body)
		}
	}
	return r
}

// relToken issues an operator token of role (account for customers).
func relToken(t testing.TB, s *relServer, role, account string) string {
	t.Helper()
	body := map[string]any{"role": role}
	if account != "" {
		body["account_id"] = account
	}
	var out struct {
		Secret string `json:"secret"`
	}
	relMust(t, s, s.admin, "POST", "/v1/tokens", body, 201, &out)
	return out.Secret
}

// relAccount registers an account and issues one API key; it returns the
// account id, the key id and the key secret.
func relAccount(t testing.TB, s *relServer, token, email, name string) (acct, keyID, keySecret string) {
	t.Helper()
	var reg struct {
		AccountID string `json:"account_id"`
	}
	relMust(t, s, token, "POST", "/v1/accounts", map[string]any{"email": email, "name": name, "age_confirmed": true,
		"region": "DE", "jurisdiction": "EU", "policy_version": "2025-10-01"}, 201, &reg)
	var key struct {
		KeyID  string `json:"key_id"`
		Secret string `json:"secret"`
	}
	relMust(t, s, s.admin, "POST", "/v1/accounts/"+reg.AccountID+"/keys", map[string]any{"name": "k", "scopes": []string{"inference"}}, 201, &key)
	return reg.AccountID, key.KeyID, key.Secret
}

// relEvent is an event of GET /v1/audit/events.
type relEvent struct {
	ID       string          `json:"id"`
	Stream   string          `json:"stream"`
	Position uint64          `json:"position"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Sealed   []byte          `json:"sealed"`
}

// relReadLog pages through the whole log over HTTP.
func relReadLog(t testing.TB, s *relServer, token string) []relEvent {
	t.Helper()
	var all []relEvent
	from := uint64(1)
	for {
		var page struct {
			Events []relEvent `json:"events"`
			Next   uint64     `json:"next"`
		}
		relMust(t, s, token, "GET", "/v1/audit/events?limit=1000&from="+strconv.FormatUint(from, 10), nil, 200, &page)
		all = append(all, page.Events...)
		if len(page.Events) == 0 || page.Next == 0 {
			return all
		}
		from = page.Next
	}
}

// relHead returns the log's last position.
func relHead(t testing.TB, s *relServer, token string) uint64 {
	t.Helper()
	var h struct {
		Position uint64 `json:"position"`
	}
	relMust(t, s, token, "GET", "/v1/audit/head", nil, 200, &h)
	return h.Position
}

// relVerify checks the hash chain over HTTP and returns the events verified.
func relVerify(t testing.TB, s *relServer, token string) uint64 {
	t.Helper()
	var v struct {
		OK       bool   `json:"ok"`
		Events   uint64 `json:"events"`
		BrokenAt uint64 `json:"broken_at"`
		Reason   string `json:"reason"`
		Head     struct {
			Position uint64 `json:"position"`
		} `json:"head"`
	}
	relMust(t, s, token, "GET", "/v1/audit/verify", nil, 200, &v)
	if !v.OK || v.Events != v.Head.Position {
		t.Fatalf("chain does not verify: %+v", v)
	}
	return v.Events
}

// relCLI runs the binary with args and returns its combined output.
func relCLI(t testing.TB, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LEDGERLINE_DATABASE_URL=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// relFigure prints a line `make reliability` collects into docs/reliability.md.
func relFigure(t testing.TB, name string, kv ...any) {
	t.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, "FIGURE %s", name)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&sb, " %v=%v", kv[i], kv[i+1])
	}
	t.Log(sb.String())
	if p := os.Getenv("LEDGERLINE_RELIABILITY_FIGURES"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, sb.String())
			f.Close()
		}
	}
}
