package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
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

	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
)

// TestE2E builds the binary once and walks a customer's whole life over
// HTTP against `ledgerline serve`: on the embedded store, and on PostgreSQL
// when it is reachable (with CI=true an unreachable database fails).
func TestE2E(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ledgerline")
	build := exec.Command("go", "build", "-o", bin, "../cmd/ledgerline")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		srv := startServer(t, bin, dir)
		customerLife(t, srv)
		srv.stop(t)
		srv.checkNoLeaks(t, dir)
	})
	t.Run("postgres", func(t *testing.T) {
		url, _ := pgtest.Schema(t)
		dir := t.TempDir()
		srv := startServer(t, bin, dir, "--database-url", url)
		customerLife(t, srv)
		srv.stop(t)
		srv.checkNoLeaks(t, dir)
	})
}

// server is a running `ledgerline serve`.
type server struct {
	cmd    *exec.Cmd
	url    string
	admin  string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
	// canaries: values that must never appear in logs (or, after erasure, on disk)
	canaries []string
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

var (
	urlLine   = regexp.MustCompile(`listening on (http://\S+)`)
	tokenLine = regexp.MustCompile(`Admin token \(shown once[^)]*\): (llt_\S+)`)
)

func startServer(t *testing.T, bin, dir string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir}, extra...)
	s := &server{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	s.cmd.Env = append(os.Environ(), "LEDGERLINE_DATABASE_URL=")
	s.cmd.Stderr = lockedBuf{&s.mu, &s.stderr}
	pipe, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stdout.WriteString(line + "\n")
			if m := urlLine.FindStringSubmatch(line); m != nil {
				s.url = m[1]
			}
			if m := tokenLine.FindStringSubmatch(line); m != nil {
				s.admin = m[1]
			}
			s.mu.Unlock()
			if strings.HasPrefix(line, "API reference:") && !signalled {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		s.done <- s.cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("serve exited early: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout.String(), s.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start\nstdout:\n%s\nstderr:\n%s", s.stdout.String(), s.stderr.String())
	}
	if s.url == "" || s.admin == "" {
		t.Fatalf("no URL or admin token on stdout:\n%s", s.stdout.String())
	}
	return s
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve exited with %v\nstderr:\n%s", err, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.Contains(s.stdout.String(), "Ledgerline stopped.") {
		t.Errorf("no clean stop message on stdout:\n%s", s.stdout.String())
	}
}

// checkNoLeaks: stdout and stderr never carry the email, the name or a key
// secret; after erasure the data directory holds none of them either.
func (s *server) checkNoLeaks(t *testing.T, dir string) {
	t.Helper()
	s.mu.Lock()
	out, errOut := s.stdout.String(), s.stderr.String()
	s.mu.Unlock()
	if len(errOut) == 0 {
		t.Error("no log output captured on stderr (the leak check would be vacuous)")
	}
	for _, c := range s.canaries {
		if strings.Contains(out, c) {
			t.Errorf("stdout contains a canary value (%d chars)", len(c))
		}
		if strings.Contains(errOut, c) {
			t.Errorf("stderr contains a canary value (%d chars)", len(c))
		}
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, c := range s.canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("%s contains a canary value after erasure", filepath.Base(path))
			}
		}
		return nil
	})
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r reply) position(t *testing.T) string {
	t.Helper()
	p := r.header.Get("X-Ledgerline-Position")
	if _, err := strconv.ParseUint(p, 10, 64); err != nil {
		t.Fatalf("write without X-Ledgerline-Position: %q", p)
	}
	var body struct {
		Position json.Number `json:"position"`
	}
	r.json(t, &body)
	if body.Position.String() != p {
		t.Fatalf("body position %q != header %q", body.Position, p)
	}
	return p
}

func call(t *testing.T, s *server, token, method, path string, body any, want int) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
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
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

func customerLife(t *testing.T, s *server) {
	admin := s.admin
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	email := "canary.e2e+" + suffix + "@example.org"
	name := "Canary Person " + suffix
	s.canaries = append(s.canaries, email, name)

	call(t, s, "", "GET", "/healthz", nil, 200)
	call(t, s, "", "GET", "/v1/me", nil, 401)

	// staff tokens
	var gw, comp, aud struct {
		Secret string `json:"secret"`
	}
	call(t, s, admin, "POST", "/v1/tokens", map[string]any{"role": "gateway"}, 201).json(t, &gw)
	call(t, s, admin, "POST", "/v1/tokens", map[string]any{"role": "compliance"}, 201).json(t, &comp)
	call(t, s, admin, "POST", "/v1/tokens", map[string]any{"role": "auditor"}, 201).json(t, &aud)

	// register (under 13 is refused with a field-level problem)
	r := call(t, s, gw.Secret, "POST", "/v1/accounts", map[string]any{"email": email, "name": name, "age_confirmed": false,
		"region": "DE", "jurisdiction": "EU", "policy_version": "2025-10-01"}, 422)
	if !bytes.Contains(r.body, []byte(`"field":"age_confirmed"`)) || bytes.Contains(r.body, []byte(email)) {
		t.Fatalf("under-age problem: %s", r.body)
	}
	var reg struct {
		AccountID      string `json:"account_id"`
		CreditsGranted bool   `json:"credits_granted"`
	}
	r = call(t, s, gw.Secret, "POST", "/v1/accounts", map[string]any{"email": email, "name": name, "age_confirmed": true,
		"region": "DE", "jurisdiction": "EU", "policy_version": "2025-10-01"}, 201)
	r.json(t, &reg)
	pos := r.position(t)
	acct := reg.AccountID
	if !reg.CreditsGranted {
		t.Fatal("a new email got no new-user credits")
	}
	var cust struct {
		Secret string `json:"secret"`
	}
	call(t, s, admin, "POST", "/v1/tokens", map[string]any{"role": "customer", "account_id": acct}, 201).json(t, &cust)

	// the customer reads their own profile (read-your-writes with ?after=)
	var prof struct {
		Email  string `json:"email"`
		Name   string `json:"name"`
		Erased bool   `json:"erased"`
	}
	call(t, s, cust.Secret, "GET", "/v1/accounts/"+acct+"?after="+pos, nil, 200).json(t, &prof)
	if prof.Email != email || prof.Name != name {
		t.Fatal("profile does not show the registered email and name")
	}
	// auditors never see personal data; staff must say why
	prof.Email, prof.Name = "", ""
	call(t, s, aud.Secret, "GET", "/v1/accounts/"+acct, nil, 200).json(t, &prof)
	if prof.Email != "" || prof.Name != "" {
		t.Fatal("auditor received personal data")
	}
	call(t, s, admin, "GET", "/v1/accounts/"+acct, nil, 422)

	// consent: EU defaults are opt-in; grant marketing email, read it back
	pos = call(t, s, cust.Secret, "POST", "/v1/accounts/"+acct+"/consents/marketing_email/grant",
		map[string]any{"method": "settings_page", "policy_version": "2025-10-01"}, 200).position(t)
	var cons struct {
		Purposes []struct {
			Purpose string `json:"purpose"`
			Granted bool   `json:"granted"`
		} `json:"purposes"`
	}
	call(t, s, cust.Secret, "GET", "/v1/accounts/"+acct+"/consents?after="+pos, nil, 200).json(t, &cons)
	granted := map[string]bool{}
	for _, p := range cons.Purposes {
		granted[p.Purpose] = p.Granted
	}
	if !granted["marketing_email"] || granted["advertising"] || granted["analytics"] || !granted["essential"] {
		t.Fatalf("consent state %+v", granted)
	}

	// issue a key; the gateway verifies it
	var key struct {
		KeyID  string `json:"key_id"`
		Secret string `json:"secret"`
	}
	r = call(t, s, cust.Secret, "POST", "/v1/accounts/"+acct+"/keys", map[string]any{"name": "laptop", "scopes": []string{"inference"}}, 201)
	r.json(t, &key)
	r.position(t) // every write returns its position
	s.canaries = append(s.canaries, key.Secret)
	var ver struct {
		Valid     bool   `json:"valid"`
		KeyID     string `json:"key_id"`
		AccountID string `json:"account_id"`
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		call(t, s, gw.Secret, "POST", "/v1/keys/verify", map[string]any{"secret": key.Secret}, 200).json(t, &ver)
		if ver.Valid || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !ver.Valid || ver.KeyID != key.KeyID || ver.AccountID != acct {
		t.Fatalf("verify: %+v", ver)
	}
	call(t, s, gw.Secret, "POST", "/v1/keys/verify", map[string]any{"secret": key.Secret + "x"}, 200).json(t, &ver)
	if ver.Valid {
		t.Fatal("a wrong secret verified")
	}

	// usage, with a repeated request id: totals count it once
	usage := func(req string, in, out, cost int) map[string]any {
		return map[string]any{"key_id": key.KeyID, "request_id": req, "provider": "openai", "model": "gpt-4o",
			"input_tokens": in, "output_tokens": out, "cost_micros": cost, "status": "ok", "latency_ms": 120}
	}
	call(t, s, gw.Secret, "POST", "/v1/usage", usage("req-1", 100, 50, 1000), 200)
	var dup struct {
		Duplicate bool `json:"duplicate"`
	}
	call(t, s, gw.Secret, "POST", "/v1/usage", usage("req-1", 100, 50, 1000), 200).json(t, &dup)
	if !dup.Duplicate {
		t.Error("repeated request id not reported as duplicate")
	}
	var batch struct {
		Recorded   int `json:"recorded"`
		Duplicates int `json:"duplicates"`
		Rejected   int `json:"rejected"`
	}
	r = call(t, s, gw.Secret, "POST", "/v1/usage/batch", map[string]any{"records": []any{
		usage("req-2", 10, 5, 100), usage("req-3", 1, 1, 10), usage("req-1", 100, 50, 1000)}}, 200)
	r.json(t, &batch)
	r.position(t)
	if batch.Recorded != 2 || batch.Duplicates != 1 || batch.Rejected != 0 {
		t.Fatalf("batch: %+v", batch)
	}

	// pay
	pos = call(t, s, gw.Secret, "POST", "/v1/accounts/"+acct+"/payments", map[string]any{"processor": "stripe",
		"processor_ref": "pi_" + suffix, "amount_micros": 10_000_000, "currency": "USD"}, 201).position(t)

	type totals struct {
		Totals struct {
			Requests     int64 `json:"requests"`
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
			CostMicros   int64 `json:"cost_micros"`
		} `json:"totals"`
	}
	var u totals
	call(t, s, cust.Secret, "GET", "/v1/accounts/"+acct+"/usage?group_by=model&after="+pos, nil, 200).json(t, &u)
	if u.Totals.Requests != 3 || u.Totals.InputTokens != 111 || u.Totals.OutputTokens != 56 || u.Totals.CostMicros != 1110 {
		t.Fatalf("usage totals %+v", u.Totals)
	}
	type balance struct {
		PaymentsMicros  int64 `json:"payments_micros"`
		UsageCostMicros int64 `json:"usage_cost_micros"`
		BalanceMicros   int64 `json:"balance_micros"`
	}
	var bal balance
	call(t, s, cust.Secret, "GET", "/v1/accounts/"+acct+"/balance?after="+pos, nil, 200).json(t, &bal)
	if bal.PaymentsMicros != 10_000_000 || bal.UsageCostMicros != 1110 {
		t.Fatalf("balance %+v", bal)
	}

	// access request → export (staff give a reason; the read is recorded)
	var areq struct {
		RequestID string `json:"request_id"`
	}
	r = call(t, s, cust.Secret, "POST", "/v1/privacy/requests", map[string]any{"kind": "access", "channel": "api"}, 201)
	r.json(t, &areq)
	pos = r.position(t)
	call(t, s, comp.Secret, "POST", "/v1/accounts/"+acct+"/export", nil, 422)
	r = call(t, s, comp.Secret, "POST", "/v1/accounts/"+acct+"/export?reason="+"access+request+"+areq.RequestID+"&after="+pos, nil, 200)
	var export struct {
		Format  string `json:"format"`
		Profile struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"profile"`
		Keys   []json.RawMessage `json:"keys"`
		Events []struct {
			Type     string          `json:"type"`
			Personal json.RawMessage `json:"personal"`
		} `json:"events"`
		Transactions []json.RawMessage `json:"transactions"`
	}
	r.json(t, &export)
	if export.Profile.Email != email || export.Profile.Name != name || len(export.Keys) != 1 || len(export.Transactions) < 2 {
		t.Fatalf("export misses facts: %s", r.body)
	}
	types := map[string]bool{}
	for _, e := range export.Events {
		types[e.Type] = true
	}
	for _, want := range []string{"account.registered", "consent.given", "apikey.issued", "usage.recorded", "billing.payment_succeeded", "privacy.request_received"} {
		if !types[want] {
			t.Errorf("export has no %s event", want)
		}
	}
	if bytes.Contains(r.body, []byte(key.Secret)) {
		t.Error("export contains the key secret")
	}
	// the staff read was recorded, visible to auditors in the log
	var page struct {
		Events []struct {
			Type   string `json:"type"`
			Sealed []byte `json:"sealed"`
		} `json:"events"`
	}
	call(t, s, aud.Secret, "GET", "/v1/audit/streams/dataaccess-"+acct, nil, 200).json(t, &page)
	if len(page.Events) != 1 || page.Events[0].Type != "operator.personal_data_read" {
		t.Fatalf("access log: %+v", page.Events)
	}

	// erasure
	var ereq struct {
		RequestID string `json:"request_id"`
	}
	call(t, s, comp.Secret, "POST", "/v1/privacy/requests", map[string]any{"subject_id": acct, "kind": "erasure", "channel": "email"}, 201).json(t, &ereq)
	var erased struct {
		Status string `json:"status"`
	}
	r = call(t, s, comp.Secret, "POST", "/v1/privacy/requests/"+ereq.RequestID+"/erase", nil, 200)
	r.json(t, &erased)
	pos = r.position(t)
	if erased.Status != "completed" {
		t.Fatalf("erasure status %q: %s", erased.Status, r.body)
	}
	prof.Email, prof.Name = "", ""
	call(t, s, admin, "GET", "/v1/accounts/"+acct+"?reason=check+erasure&after="+pos, nil, 200).json(t, &prof)
	if !prof.Erased || prof.Email != "" || prof.Name != "" {
		t.Fatalf("profile after erasure: %+v", prof)
	}
	// totals remain
	call(t, s, admin, "GET", "/v1/accounts/"+acct+"/usage?after="+pos, nil, 200).json(t, &u)
	if u.Totals.Requests != 3 || u.Totals.CostMicros != 1110 {
		t.Fatalf("usage after erasure %+v", u.Totals)
	}
	call(t, s, admin, "GET", "/v1/accounts/"+acct+"/balance?after="+pos, nil, 200).json(t, &bal)
	if bal.PaymentsMicros != 10_000_000 || bal.UsageCostMicros != 1110 {
		t.Fatalf("balance after erasure %+v", bal)
	}
	// the chain still verifies
	var v struct {
		OK     bool   `json:"ok"`
		Events uint64 `json:"events"`
	}
	call(t, s, aud.Secret, "GET", "/v1/audit/verify", nil, 200).json(t, &v)
	if !v.OK || v.Events == 0 {
		t.Fatalf("chain verify: %+v", v)
	}
	// metrics label by route pattern, never by id
	r = call(t, s, "", "GET", "/metrics", nil, 200)
	if !bytes.Contains(r.body, []byte(`route="POST /v1/accounts"`)) || bytes.Contains(r.body, []byte(acct)) {
		t.Error("metrics lack route patterns or carry an account id")
	}
	fmt.Fprintln(io.Discard, v)
}
