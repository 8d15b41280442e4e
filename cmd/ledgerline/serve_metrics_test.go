package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// syncBuffer is an io.Writer safe to read while runServe writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeMetricsAndCheckpoints starts the real server wiring on port 0 in
// a temporary directory, sends some traffic, scrapes /metrics for the
// command, read-model lag, store, erasure and shred series (no ids, no
// emails in them), waits for a signed chain checkpoint, stops the server and
// checks the log with audit verify.
func TestServeMetricsAndCheckpoints(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envDatabaseURL, "")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--access-log=false",
			"--chain-checkpoint-interval", "50ms"}, out)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	defer stop()
	urlRE := regexp.MustCompile(`listening on (http://\S+)`)
	tokRE := regexp.MustCompile(`LEDGERLINE_TOKEN=(llt_\S+)`)
	var base, token string
	for deadline := time.Now().Add(20 * time.Second); base == "" || token == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		s := out.String()
		if m := urlRE.FindStringSubmatch(s); m != nil {
			base = m[1]
		}
		if m := tokRE.FindStringSubmatch(s); m != nil {
			token = m[1]
		}
	}
	call := func(method, path string, body any, want int, v any) string {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatal(err)
			}
		}
		return string(b)
	}

	const email = "metrics.person@example.org"
	var acct struct {
		AccountID string `json:"account_id"`
		Position  uint64 `json:"position"`
	}
	call("POST", "/v1/accounts", map[string]any{"email": email, "name": "Metrics Person", "age_confirmed": true,
		"region": "DE", "jurisdiction": "EU", "policy_version": "2026-01"}, 201, &acct)
	var paid struct {
		Position uint64 `json:"position"`
	}
	call("POST", "/v1/accounts/"+acct.AccountID+"/payments", map[string]any{"processor": "stripe", "processor_ref": "pi_metrics_1",
		"amount_micros": 5_000_000, "currency": "EUR"}, 201, &paid)
	call("POST", "/v1/privacy/requests/"+uuid.NewString()+"/acknowledge", nil, 404, nil)
	var req struct {
		RequestID string `json:"request_id"`
	}
	call("POST", "/v1/privacy/requests", map[string]any{"subject_id": acct.AccountID, "kind": "erasure", "channel": "email"}, 201, &req)
	call("POST", "/v1/privacy/requests/"+req.RequestID+"/erase", nil, 200, nil)

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	metrics := string(body)
	for _, want := range []string{
		`ledgerline_commands_total{command="RegisterAccount",outcome="ok"} 1`,
		`ledgerline_commands_total{command="AcknowledgeRequest",outcome="not_found"} 1`,
		`ledgerline_commands_total{command="RecordPayment",outcome="ok"} 1`,
		`ledgerline_command_duration_seconds_bucket{command="RecordPayment",le=`,
		`ledgerline_command_duration_seconds_count{command="ExecuteErasure"} 1`,
		`ledgerline_projection_lag_events{read_model="memory"} `,
		`ledgerline_projection_lag_seconds{read_model="memory"} `,
		`ledgerline_projection_last_applied_timestamp_seconds{read_model="memory"} `,
		"ledgerline_store_head_position ",
		"ledgerline_store_up 1",
		"ledgerline_store_commits_total ",
		"ledgerline_store_appended_events_total ",
		"ledgerline_store_events_per_commit ",
		`ledgerline_erasures_total{outcome="completed"} 1`,
		"ledgerline_subject_keys_shredded_total 1",
		`ledgerline_http_requests_total{method="POST",route="POST /v1/accounts",status="201"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	uuidRE := regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	for _, leak := range []string{acct.AccountID, req.RequestID, email, "@", "pi_metrics_1", token} {
		if strings.Contains(metrics, leak) {
			t.Errorf("/metrics holds %q", leak)
		}
	}
	if m := uuidRE.FindString(metrics); m != "" {
		t.Errorf("/metrics holds an id: %s", m)
	}

	// a checkpoint of a head at or past the erasure is signed within a few intervals
	var list struct {
		Checkpoints []struct {
			Position       uint64 `json:"position"`
			SignatureValid *bool  `json:"signature_valid"`
		} `json:"checkpoints"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		call("GET", "/v1/audit/checkpoints", nil, 200, &list)
		if n := len(list.Checkpoints); n > 0 && list.Checkpoints[n-1].Position > paid.Position {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint past position %d: %+v", paid.Position, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range list.Checkpoints {
		if c.SignatureValid == nil || !*c.SignatureValid {
			t.Fatalf("checkpoint of %d: signature_valid %v", c.Position, c.SignatureValid)
		}
	}
	var asOf struct {
		Balance struct {
			PaymentsMicros int64 `json:"payments_micros"`
		} `json:"balance"`
	}
	call("GET", "/v1/audit/accounts/"+acct.AccountID+"?as_of="+strconv.FormatUint(acct.Position, 10), nil, 200, &asOf)
	if asOf.Balance.PaymentsMicros != 0 {
		t.Fatalf("as of registration: %+v", asOf)
	}
	stop()
	verify, err := runCLI(t, "audit", "verify", "--quiet", "--data-dir", dir)
	if err != nil || !strings.Contains(verify, "signed checkpoints in the log verified") {
		t.Fatalf("audit verify: %v\n%s", err, verify)
	}
}
