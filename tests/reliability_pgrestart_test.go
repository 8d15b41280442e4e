//go:build reliability

package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
)

// relPGRestarts is how many times the database goes away under load.
const relPGRestarts = 3

// TestReliabilityPostgresRestart stops and starts the PostgreSQL server
// while 32 clients write through the API. While the database is away every
// request must fail fast (503 with Retry-After, within a few seconds, no
// hang, no 500); the service must reconnect by itself; no acknowledged event
// may be lost. Only under -tags reliability: other packages' tests share the
// server, so the default run never restarts it.
func TestReliabilityPostgresRestart(t *testing.T) {
	url, _ := pgtest.Schema(t)
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		t.Skip("pg_ctlcluster not found: cannot restart the local PostgreSQL")
	}
	bin := relBinary(t)
	s := relStart(t, bin, t.TempDir(), "--database-url", url)
	gw := relToken(t, s, "gateway", "")
	load := &relLoad{base: s.url, gw: gw, statuses: map[int]int{}}
	for i := range 8 {
		id, key, _ := relAccount(t, s, gw, fmt.Sprintf("pgr-%d-%d@example.org", i, time.Now().UnixNano()), "PG Restart")
		load.accts = append(load.accts, relAcct{id: id, keyID: key})
	}

	var (
		mu        sync.Mutex
		outage    atomic.Bool
		during    = map[int]int{} // status → count while the database was away
		noRetry   int             // 503 without Retry-After
		slowFail  time.Duration   // slowest failed request during the outage
		okDuring  int
		lastOK    atomic.Int64 // unix nanos of the last 2xx
		downSince atomic.Int64
	)
	load.observe = func(r relReply, err error) {
		if err == nil && (r.status == 200 || r.status == 201) {
			lastOK.Store(time.Now().UnixNano())
		}
		if !outage.Load() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		during[r.status]++
		switch {
		case err == nil && r.status < 300:
			okDuring++
		default:
			if r.took > slowFail {
				slowFail = r.took
			}
			if r.status == 503 && r.header.Get("Retry-After") == "" {
				noRetry++
			}
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(99, uint64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				op := load.next(r, 900)
				load.mu.Lock()
				load.ops = append(load.ops, op)
				load.mu.Unlock()
				if load.send(context.Background(), op) != 200 {
					time.Sleep(50 * time.Millisecond) // a client backs off a little
				}
			}
		}()
	}

	var recoveries []time.Duration
	survived, exited := 0, 0
	pg := func(action string) {
		out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", action).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_ctlcluster %s: %v\n%s", action, err, out)
		}
	}
	for i := range relPGRestarts {
		time.Sleep(1500 * time.Millisecond)
		outage.Store(true)
		downSince.Store(time.Now().UnixNano())
		if i == 0 {
			pg("restart")
		} else {
			pg("stop")
			time.Sleep(3 * time.Second)
			pg("start")
		}
		up := time.Now()
		// the service must reconnect by itself: a write succeeds again
		for time.Since(up) < 30*time.Second && lastOK.Load() < up.UnixNano() && s.alive() {
			time.Sleep(50 * time.Millisecond)
		}
		outage.Store(false)
		if !s.alive() {
			// Report it, then do what a supervisor would (start it again) so
			// the no-loss checks below still run.
			exited++
			t.Errorf("restart %d: the server process exited when PostgreSQL went away:\n%s", i+1, relErrors(s.err.String()))
			s.cmd = nil
			s.start(t)
			load.mu.Lock()
			load.base = s.url
			load.mu.Unlock()
			continue
		}
		if lastOK.Load() < up.UnixNano() {
			t.Fatalf("restart %d: no successful write within 30 s after PostgreSQL came back\n%s", i+1, relErrors(s.err.String()))
		}
		survived++
		recoveries = append(recoveries, time.Duration(lastOK.Load()-up.UnixNano()))
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// retry what was not acknowledged, then every write is in the log exactly once
	var retry []*relOp
	for _, op := range load.ops {
		if !op.acked {
			retry = append(retry, op)
		}
	}
	unacked := len(retry)
	relRetryAll(t, load, retry)
	tl := relTallyLog(t, relReadLog(t, s, s.admin))
	lost, dup := 0, 0
	for _, op := range load.ops {
		for _, id := range op.ids {
			switch n := tl.count(op, id); {
			case n == 0:
				lost++
			case n > 1:
				dup++
			}
		}
	}
	if lost+dup > 0 {
		t.Errorf("%d writes lost, %d duplicated", lost, dup)
	}
	head := relVerify(t, s, s.admin)
	relCompareReadModels(t, s, s.admin, load.accts, tl, head)
	s.stop(t)

	mu.Lock()
	defer mu.Unlock()
	bad := 0
	for st, n := range during {
		if st != 503 && st != 200 && st != 201 && st != 409 {
			bad += n
			t.Errorf("while the database was away: %d answers with status %d (0: transport error)", n, st)
		}
	}
	if noRetry > 0 {
		t.Errorf("%d answers 503 without Retry-After", noRetry)
	}
	if slowFail > 10*time.Second {
		t.Errorf("a failing request took %v: not failing fast", slowFail)
	}
	load.mu.Lock()
	for _, b := range load.bad {
		t.Logf("unexpected answer: %s", b)
	}
	load.mu.Unlock()
	relFigure(t, "pgrestart", "restarts", relPGRestarts, "survived", survived, "server_exited", exited, "writes", len(load.ops), "requests_sent", load.sent,
		"unacked", unacked, "lost", lost, "duplicated", dup, "during_outage", relStatuses(during),
		"slowest_failure_ms", slowFail.Milliseconds(), "recovery_ms", fmt.Sprint(msList(recoveries)), "bad", bad)
}

func msList(ds []time.Duration) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.Milliseconds()
	}
	return out
}

// relErrors keeps the ERROR and WARN lines of a JSON log, and its last lines.
func relErrors(log string) string {
	var out []string
	lines := strings.Split(log, "\n")
	for _, l := range lines {
		if strings.Contains(l, `"level":"ERROR"`) || (strings.Contains(l, `"level":"WARN"`) && !strings.Contains(l, `"msg":"command"`)) {
			out = append(out, l)
		}
	}
	if len(out) > 30 {
		out = out[:30]
	}
	return strings.Join(out, "\n") + "\n...\n" + relTail(log, 600)
}

// alive reports whether the process is still running.
func (s *relServer) alive() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case err := <-s.done:
		s.done <- err
		return false
	default:
		return true
	}
}
