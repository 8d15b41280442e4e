package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
)

// TestReliabilityCrash kills `ledgerline serve` with SIGKILL at random
// moments while 64 clients append usage records (single and batched) and
// payments, on both backends. After every restart it checks, from the raw
// log read over the audit API:
//
//   - every acknowledged write is present exactly once;
//   - an unacknowledged batch is all or nothing (one append per stream);
//   - nothing appears that no client sent, nothing twice;
//   - retrying every unacknowledged request (as a gateway or a payment
//     webhook would) stores it exactly once;
//   - the hash chain verifies;
//   - usage totals and balances from the API equal totals computed from the
//     raw log (the read models converge to a fresh rebuild).
//
// The default run does 2 cycles per backend; -tags reliability does 10.
func TestReliabilityCrash(t *testing.T) {
	bin := relBinary(t)
	t.Run("embedded", func(t *testing.T) {
		runCrashCycles(t, bin, "embedded", t.TempDir(), nil)
	})
	t.Run("postgres", func(t *testing.T) {
		url, _ := pgtest.Schema(t)
		runCrashCycles(t, bin, "postgres", t.TempDir(), []string{"--database-url", url}, url)
	})
}

type relOpKind int

const (
	relOpUsage relOpKind = iota
	relOpBatch
	relOpPayment
)

// relOp is one write a client sends: its ids are what the log must hold
// exactly once once it is acknowledged.
type relOp struct {
	kind   relOpKind
	acct   int
	ids    []string // request ids (usage, batch) or the processor reference (payment)
	amount int64    // cost per usage record, or the payment amount
	in     int64    // input tokens per usage record
	out    int64
	path   string
	body   []byte
	acked  bool
	tries  int
}

type relAcct struct{ id, keyID string }

// relLoad generates the writes and remembers their outcomes.
type relLoad struct {
	base  string
	gw    string
	accts []relAcct
	seq   atomic.Int64

	mu       sync.Mutex
	ops      []*relOp
	sent     int // HTTP requests, retries included
	statuses map[int]int
	netErrs  int
	bad      []string // unexpected answers (a 500, a 4xx other than 409)
	// observe, when set, sees every answer (status 0: transport error)
	observe func(r relReply, err error)
}

func (l *relLoad) next(r *rand.Rand, cycle int) *relOp {
	n := l.seq.Add(1)
	op := &relOp{acct: r.IntN(len(l.accts))}
	a := l.accts[op.acct]
	rec := func(id string) map[string]any {
		return map[string]any{"key_id": a.keyID, "request_id": id, "provider": "openai", "model": "gpt-4o",
			"input_tokens": op.in, "output_tokens": op.out, "cost_micros": op.amount, "status": "ok", "latency_ms": 90}
	}
	var body any
	switch p := r.IntN(100); {
	case p < 60:
		op.kind, op.in, op.out, op.amount = relOpUsage, 1+r.Int64N(5000), 1+r.Int64N(2000), 1+r.Int64N(1000)
		op.ids = []string{fmt.Sprintf("c%d-u%d", cycle, n)}
		op.path, body = "/v1/usage", rec(op.ids[0])
	case p < 85:
		op.kind, op.in, op.out, op.amount = relOpBatch, 1+r.Int64N(5000), 1+r.Int64N(2000), 1+r.Int64N(1000)
		var recs []any
		for i := range 2 + r.IntN(19) {
			id := fmt.Sprintf("c%d-b%d-%d", cycle, n, i)
			op.ids = append(op.ids, id)
			recs = append(recs, rec(id))
		}
		op.path, body = "/v1/usage/batch", map[string]any{"records": recs}
	default:
		op.kind, op.amount = relOpPayment, 10*(1+r.Int64N(1_000_000))
		op.ids = []string{fmt.Sprintf("pi_rel_c%d_%d", cycle, n)}
		op.path = "/v1/accounts/" + a.id + "/payments"
		body = map[string]any{"processor": "stripe", "processor_ref": op.ids[0], "amount_micros": op.amount, "currency": "USD"}
	}
	op.body, _ = json.Marshal(body)
	return op
}

// send makes one attempt; it sets op.acked when the server acknowledged.
func (l *relLoad) send(ctx context.Context, op *relOp) (status int) {
	l.mu.Lock()
	base := l.base
	l.mu.Unlock()
	r, err := relRaw(ctx, base, l.gw, "POST", op.path, "application/json", op.body)
	if l.observe != nil {
		l.observe(r, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	op.tries++
	l.sent++
	if err != nil {
		l.netErrs++
		return 0
	}
	l.statuses[r.status]++
	switch {
	case r.status == http.StatusOK || r.status == http.StatusCreated:
		if op.kind == relOpBatch {
			var res struct {
				Recorded, Duplicates, Rejected int
			}
			if json.Unmarshal(r.body, &res) != nil || res.Rejected != 0 || res.Recorded+res.Duplicates != len(op.ids) {
				l.bad = append(l.bad, fmt.Sprintf("batch answer %d: %s", r.status, relTail(string(r.body), 300)))
				return r.status
			}
		}
		op.acked = true
	case r.status == http.StatusConflict, r.status == http.StatusServiceUnavailable:
		// not acknowledged: retried after the restart
	default:
		l.bad = append(l.bad, fmt.Sprintf("%s: %d %s", op.path, r.status, relTail(string(r.body), 300)))
	}
	return r.status
}

// relTally is what the raw log holds.
type relTally struct {
	usage  map[string]int // request id → usage.recorded events
	pay    map[string]int // processor reference → billing.payment_succeeded events
	claims map[string]int
	totals map[string]*relTotals // account id → sums
	events int
}

type relTotals struct {
	requests, in, out, cost, payments, credits int64
}

func relTallyLog(t testing.TB, evs []relEvent) relTally {
	t.Helper()
	tl := relTally{usage: map[string]int{}, pay: map[string]int{}, claims: map[string]int{}, totals: map[string]*relTotals{}, events: len(evs)}
	tot := func(acct string) *relTotals {
		if tl.totals[acct] == nil {
			tl.totals[acct] = &relTotals{}
		}
		return tl.totals[acct]
	}
	for _, e := range evs {
		var d struct {
			RequestID    string `json:"request_id"`
			AccountID    string `json:"account_id"`
			InputTokens  int64  `json:"input_tokens"`
			OutputTokens int64  `json:"output_tokens"`
			CostMicros   int64  `json:"cost_micros"`
			ProcessorRef string `json:"processor_ref"`
			AmountMicros int64  `json:"amount_micros"`
		}
		switch e.Type {
		case "usage.recorded", "billing.payment_succeeded", "billing.payment_ref_claimed", "billing.credits_granted":
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatalf("event %d (%s): %v", e.Position, e.Type, err)
			}
		}
		switch e.Type {
		case "usage.recorded":
			tl.usage[d.RequestID]++
			x := tot(d.AccountID)
			x.requests++
			x.in += d.InputTokens
			x.out += d.OutputTokens
			x.cost += d.CostMicros
		case "billing.payment_succeeded":
			tl.pay[d.ProcessorRef]++
			tot(d.AccountID).payments += d.AmountMicros
		case "billing.payment_ref_claimed":
			tl.claims[d.ProcessorRef]++
		case "billing.credits_granted":
			tot(d.AccountID).credits += d.AmountMicros
		}
	}
	return tl
}

func (tl relTally) count(op *relOp, id string) int {
	if op.kind == relOpPayment {
		return tl.pay[id]
	}
	return tl.usage[id]
}

// relCrashFigures are the figures of one backend.
type relCrashFigures struct {
	cycles, opsSent, records, ackedFirst, unackedAtKill, retried, lost, duplicated, phantom, halfBatches, orphanClaims int
}

func runCrashCycles(t *testing.T, bin, backend, dir string, extra []string, dbURL ...string) {
	srv := relStart(t, bin, dir, extra...)
	admin := srv.admin
	gw := relToken(t, srv, "gateway", "")
	load := &relLoad{base: srv.url, gw: gw, statuses: map[int]int{}}
	for i := range 16 {
		id, key, _ := relAccount(t, srv, gw, fmt.Sprintf("crash-%d-%d@example.org", i, time.Now().UnixNano()), "Crash Person")
		load.accts = append(load.accts, relAcct{id: id, keyID: key})
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	t.Logf("%s: seed-free random kill times; %d workers; %d cycles", backend, relWorkers, relCrashCycles)
	var fig relCrashFigures

	for cycle := 1; cycle <= relCrashCycles; cycle++ {
		// load, then SIGKILL at a random moment with requests in flight
		load.base = srv.url
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var cycleOps []*relOp
		var opsMu sync.Mutex
		for w := range relWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(cycle), uint64(w)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					op := load.next(r, cycle)
					opsMu.Lock()
					cycleOps = append(cycleOps, op)
					opsMu.Unlock()
					load.send(context.Background(), op)
				}
			}()
		}
		time.Sleep(relLoadMin + time.Duration(rng.Int64N(int64(relLoadMax-relLoadMin))))
		srv.kill(t)
		close(stop)
		wg.Wait()
		fig.cycles++
		load.ops = append(load.ops, cycleOps...)
		unacked := 0
		for _, op := range cycleOps {
			if op.acked {
				fig.ackedFirst++
			} else {
				unacked++
			}
		}
		fig.unackedAtKill += unacked

		srv.start(t)
		load.base = srv.url
		// 1. before any retry: acknowledged writes exactly once, batches all or nothing
		tl := relTallyLog(t, relReadLog(t, srv, admin))
		known := map[string]bool{}
		for _, op := range load.ops {
			present := 0
			for _, id := range op.ids {
				known[id] = true
				switch n := tl.count(op, id); {
				case n > 1:
					fig.duplicated++
					t.Errorf("cycle %d: %s stored %d times", cycle, id, n)
				case n == 1:
					present++
				case op.acked:
					fig.lost++
					t.Errorf("cycle %d: acknowledged %s is not in the log", cycle, id)
				}
			}
			if op.kind == relOpBatch && !op.acked && present != 0 && present != len(op.ids) {
				fig.halfBatches++
				t.Errorf("cycle %d: unacknowledged batch half-written: %d of %d records", cycle, present, len(op.ids))
			}
			if op.kind == relOpPayment && !op.acked && tl.claims[op.ids[0]] == 1 && tl.pay[op.ids[0]] == 0 {
				fig.orphanClaims++ // claimed before the kill, ledger not yet written: the retry completes it
			}
		}
		unackedPay := 0
		for _, op := range cycleOps {
			if op.kind == relOpPayment && !op.acked {
				unackedPay++
			}
		}
		t.Logf("cycle %d: %d writes, %d unacknowledged at the kill (%d payments), orphan claims so far %d, log %d events",
			cycle, len(cycleOps), unacked, unackedPay, fig.orphanClaims, tl.events)
		for id := range tl.usage {
			if !known[id] {
				fig.phantom++
				t.Errorf("cycle %d: usage %s in the log but never sent", cycle, id)
			}
		}
		for ref := range tl.pay {
			if strings.HasPrefix(ref, "pi_rel_") && !known[ref] {
				fig.phantom++
				t.Errorf("cycle %d: payment %s in the log but never sent", cycle, ref)
			}
		}

		// 2. retry every unacknowledged write (idempotent by request id / processor reference)
		var retry []*relOp
		for _, op := range load.ops {
			if !op.acked {
				retry = append(retry, op)
			}
		}
		fig.retried += len(retry)
		relRetryAll(t, load, retry)

		// 3. now everything sent is stored exactly once, the chain verifies,
		// read models equal the raw log
		evs := relReadLog(t, srv, admin)
		tl = relTallyLog(t, evs)
		for _, op := range load.ops {
			for _, id := range op.ids {
				if n := tl.count(op, id); n != 1 {
					t.Errorf("cycle %d: after retries %s stored %d times", cycle, id, n)
					if n == 0 {
						fig.lost++
					} else {
						fig.duplicated++
					}
				}
			}
		}
		head := relVerify(t, srv, admin)
		relCompareReadModels(t, srv, admin, load.accts, tl, head)
		if t.Failed() {
			t.Fatalf("cycle %d failed; stopping", cycle)
		}
	}
	srv.stop(t)

	// offline: the CLI verifies the chain of the store the server left behind
	args := []string{"audit", "verify", "--quiet", "--data-dir", dir}
	if len(dbURL) > 0 {
		args = []string{"audit", "verify", "--quiet", "--database-url", dbURL[0]}
	}
	if out, err := relCLI(t, bin, args...); err != nil {
		t.Errorf("ledgerline audit verify: %v\n%s", err, out)
	}

	for _, op := range load.ops {
		fig.records += len(op.ids)
	}
	fig.opsSent = load.sent
	load.mu.Lock()
	bad, statuses, netErrs := load.bad, load.statuses, load.netErrs
	load.mu.Unlock()
	for _, b := range bad {
		t.Errorf("unexpected answer: %s", b)
	}
	relFigure(t, "crash/"+backend, "cycles", fig.cycles, "workers", relWorkers, "requests_sent", fig.opsSent,
		"writes", len(load.ops), "records", fig.records, "acked_first_try", fig.ackedFirst, "unacked_at_kill", fig.unackedAtKill,
		"retried", fig.retried, "lost", fig.lost, "duplicated", fig.duplicated, "phantom", fig.phantom,
		"half_batches", fig.halfBatches, "orphan_claims_completed", fig.orphanClaims, "transport_errors", netErrs,
		"statuses", relStatuses(statuses))
}

func relStatuses(m map[int]int) string {
	var parts []string
	for _, s := range []int{200, 201, 409, 500, 503} {
		if m[s] > 0 {
			parts = append(parts, strconv.Itoa(s)+":"+strconv.Itoa(m[s]))
		}
	}
	for s, n := range m {
		if s != 200 && s != 201 && s != 409 && s != 500 && s != 503 {
			parts = append(parts, strconv.Itoa(s)+":"+strconv.Itoa(n))
		}
	}
	return strings.Join(parts, ",")
}

// relRetryAll resends ops until each is acknowledged (8 at a time).
func relRetryAll(t *testing.T, load *relLoad, ops []*relOp) {
	t.Helper()
	ch := make(chan *relOp)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for op := range ch {
				for attempt := 0; !op.acked; attempt++ {
					if attempt == 30 {
						failed.Add(1)
						break
					}
					if st := load.send(context.Background(), op); st != 0 && st != 409 && st != 503 && st != 200 && st != 201 {
						failed.Add(1)
						break
					}
					if !op.acked {
						time.Sleep(time.Duration(20*(attempt+1)) * time.Millisecond)
					}
				}
			}
		}()
	}
	for _, op := range ops {
		ch <- op
	}
	close(ch)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d writes could not be stored after the restart", n)
	}
}

// relCompareReadModels compares every account's usage totals and balance
// (read with ?after=head) with the sums of the raw log.
func relCompareReadModels(t *testing.T, s *relServer, token string, accts []relAcct, tl relTally, head uint64) {
	t.Helper()
	after := "?after=" + strconv.FormatUint(head, 10)
	for _, a := range accts {
		want := tl.totals[a.id]
		if want == nil {
			want = &relTotals{}
		}
		var u struct {
			Totals struct {
				Requests     int64 `json:"requests"`
				InputTokens  int64 `json:"input_tokens"`
				OutputTokens int64 `json:"output_tokens"`
				CostMicros   int64 `json:"cost_micros"`
			} `json:"totals"`
		}
		relMust(t, s, token, "GET", "/v1/accounts/"+a.id+"/usage"+after, nil, 200, &u)
		if u.Totals.Requests != want.requests || u.Totals.InputTokens != want.in || u.Totals.OutputTokens != want.out || u.Totals.CostMicros != want.cost {
			t.Errorf("account %s usage read model %+v, raw log %+v", a.id, u.Totals, *want)
		}
		var b struct {
			CreditsMicros   int64 `json:"credits_micros"`
			PaymentsMicros  int64 `json:"payments_micros"`
			UsageCostMicros int64 `json:"usage_cost_micros"`
		}
		relMust(t, s, token, "GET", "/v1/accounts/"+a.id+"/balance"+after, nil, 200, &b)
		if b.PaymentsMicros != want.payments || b.UsageCostMicros != want.cost || b.CreditsMicros != want.credits {
			t.Errorf("account %s balance read model %+v, raw log %+v", a.id, b, *want)
		}
	}
}
