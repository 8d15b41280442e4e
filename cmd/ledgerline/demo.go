package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/projections"
)

// runDemo seeds a realistic history through the command service, exactly as
// the API would: accounts in several jurisdictions with consents and keys,
// usage across providers and models over the last days, payments, refunds, a
// dispute with its legal hold, an access request and erasures. Every run adds
// new accounts (emails carry a run tag), so it can be run again on the same
// data.
func runDemo(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("demo", "demo [--accounts N] [--usage N] [--days N] [storage flags]\n\n"+
		"Seeds a realistic history through the commands (like the API would). Run it with the server stopped\n"+
		"for an embedded data directory (the server holds its lock); against PostgreSQL it may run beside servers.")
	sf := addStorageFlags(fs)
	accounts := fs.Int("accounts", 1000, "accounts to register (at least 10)")
	usageN := fs.Int("usage", 100000, "usage records to record, in batches of 1,000")
	days := fs.Int("days", 90, "usage is spread over this many past days (occurred_at)")
	workers := fs.Int("workers", 8, "concurrent command callers")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("demo takes no arguments (got %q)", fs.Arg(0))
	case *accounts < 10:
		return errors.New("--accounts must be at least 10")
	case *usageN < 0 || *days < 1 || *workers < 1:
		return errors.New("--usage must be >= 0, --days and --workers >= 1")
	}
	b, err := openBackendExclusive(ctx, sf, "demo")
	if err != nil {
		return err
	}
	defer b.Close()
	// failures come back as errors; the per-command log would only repeat them
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := cmdsvc.New(cmdsvc.Deps{Store: b.store, Codec: b.codec, Shredder: b.sealer, Pepper: b.keyring.Pepper(), Logger: log})
	if err != nil {
		return err
	}
	d := &demo{svc: svc, b: b, accounts: *accounts, usage: *usageN, days: *days, workers: *workers, quiet: *quiet, now: time.Now().UTC()}
	var tag [4]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return err
	}
	d.run = hex.EncodeToString(tag[:])
	d.rng = mrand.New(mrand.NewPCG(uint64(tag[0])<<24|uint64(tag[1])<<16|uint64(tag[2])<<8|uint64(tag[3]), uint64(time.Now().UnixNano())))
	start := time.Now()
	before, err := b.store.Head(ctx)
	if err != nil {
		return err
	}
	if err := d.seed(ctx); err != nil {
		return err
	}
	head, err := b.store.Head(ctx)
	if err != nil {
		return err
	}
	el := time.Since(start)
	events := head.Position - before.Position
	fmt.Fprintf(out, "Demo data seeded (run %s, %s store %s) in %s: %d events (%.0f events/s), log head %d.\n",
		d.run, b.kind, b.where, el.Round(time.Millisecond), events, perSecond(events, el), head.Position)
	fmt.Fprintf(out, "  accounts         %d (%s)\n", d.st.accounts.Load(), joinCounts(d.jurisdictions()))
	fmt.Fprintf(out, "  new-user credits %d\n", d.st.credits.Load())
	fmt.Fprintf(out, "  consent changes  %d\n", d.st.consents.Load())
	fmt.Fprintf(out, "  API keys         %d\n", d.st.keys.Load())
	fmt.Fprintf(out, "  usage records    %d recorded, %d duplicates, %d rejected, in %d batches over %d days (%s)\n",
		d.st.usage.Load(), d.st.usageDup.Load(), d.st.usageRejected.Load(), d.st.batches.Load(), d.days, joinCounts(d.providerCounts()))
	fmt.Fprintf(out, "  payments         %d (stripe %d, paypal %d)\n", d.st.payments.Load(), d.st.stripe.Load(), d.st.paypal.Load())
	fmt.Fprintf(out, "  refunds          %d\n", d.st.refunds.Load())
	fmt.Fprintf(out, "  disputes         %d (each placed a legal hold on payment records)\n", d.st.disputes.Load())
	fmt.Fprintf(out, "  privacy requests %d access, %d erasure (%d completed: key shredded; %d deferred by a legal hold)\n",
		d.st.access.Load(), d.st.erasures.Load(), d.st.erased.Load(), d.st.deferred.Load())
	fmt.Fprintf(out, "Example account: %s  (ledgerline replay --as-of %d --account %s)\n", d.example, head.Position, d.example)
	return nil
}

type demoAccount struct {
	id           uuid.UUID
	jurisdiction string
	currency     string
	keys         []uuid.UUID
	payments     []demoPayment
}

type demoPayment struct {
	processor, ref string
	amount         int64
}

type demo struct {
	svc      *cmdsvc.Service
	b        *backend
	accounts int
	usage    int
	days     int
	workers  int
	quiet    bool
	now      time.Time
	run      string
	example  uuid.UUID

	rngMu sync.Mutex
	rng   *mrand.Rand

	mu    sync.Mutex
	accts []*demoAccount
	prov  map[string]int

	st struct {
		accounts, credits, consents, keys, usage, usageDup, usageRejected, batches      atomic.Int64
		payments, stripe, paypal, refunds, disputes, access, erasures, erased, deferred atomic.Int64
	}
}

// region, jurisdiction and currency of new accounts, weighted.
var demoRegions = []struct {
	region, jurisdiction, currency string
	weight                         int
}{
	{"DE", "EU", "EUR", 9}, {"FR", "EU", "EUR", 7}, {"NL", "EU", "EUR", 4}, {"ES", "EU", "EUR", 4}, {"IT", "EU", "EUR", 3},
	{"IE", "EU", "EUR", 2}, {"PL", "EU", "EUR", 2}, {"SE", "EU", "EUR", 2},
	{"GB", "UK", "GBP", 12},
	{"US", "US-CA", "USD", 14},
	{"US", "other", "USD", 20}, {"CA", "other", "USD", 5}, {"BR", "other", "USD", 3}, {"IN", "other", "USD", 6},
	{"JP", "other", "USD", 3}, {"AU", "other", "USD", 2}, {"SG", "other", "USD", 2},
}

// models with their share of traffic and price per million tokens (micros).
var demoModels = []struct {
	provider, model string
	weight          int
	inPerM, outPerM int64
}{
	{"openai", "gpt-4o", 14, 2_500_000, 10_000_000},
	{"openai", "gpt-4o-mini", 20, 150_000, 600_000},
	{"openai", "o3-mini", 5, 1_100_000, 4_400_000},
	{"anthropic", "claude-sonnet-4", 14, 3_000_000, 15_000_000},
	{"anthropic", "claude-3-5-haiku", 9, 800_000, 4_000_000},
	{"google", "gemini-2.5-pro", 7, 1_250_000, 10_000_000},
	{"google", "gemini-2.0-flash", 12, 100_000, 400_000},
	{"mistral", "mistral-large", 4, 2_000_000, 6_000_000},
	{"mistral", "mistral-small", 5, 100_000, 300_000},
}

var demoFirstNames = []string{"Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
	"Hedy", "Tim", "Radia", "Guido", "Sophie", "Niklaus", "Katherine", "Donald", "Leslie", "Anita"}
var demoLastNames = []string{"Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
	"Dijkstra", "Lamarr", "Berners-Lee", "Perlman", "van Rossum", "Wilson", "Wirth", "Johnson", "Knuth", "Lamport", "Borg"}

const demoPolicy = "2025-10-01"

func (d *demo) intn(n int) int {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	return d.rng.IntN(n)
}

func (d *demo) float() float64 {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	return d.rng.Float64()
}

func (d *demo) ctxAs(ctx context.Context, id, role string) context.Context {
	return cmdsvc.WithActor(ctx, cmdsvc.Actor{ID: id, Role: role, RequestID: "demo-" + d.run})
}

func (d *demo) seed(ctx context.Context) error {
	// accounts: registration, consents, keys, payments
	prog := newRateProgress("accounts", "accounts", uint64(d.accounts), d.quiet)
	var done atomic.Uint64
	err := parallel(ctx, d.workers, d.accounts, func(ctx context.Context, i int) error {
		if err := d.account(ctx, i); err != nil {
			return fmt.Errorf("account %d: %w", i, err)
		}
		prog.set(done.Add(1))
		return nil
	})
	prog.done(done.Load())
	if err != nil {
		return err
	}
	slices.SortFunc(d.accts, func(a, b *demoAccount) int { return slices.Compare(a.id[:], b.id[:]) })
	if err := d.recordUsage(ctx); err != nil {
		return err
	}
	return d.extras(ctx)
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func (d *demo) account(ctx context.Context, i int) error {
	total := 0
	for _, r := range demoRegions {
		total += r.weight
	}
	pick := d.intn(total)
	reg := demoRegions[0]
	for _, r := range demoRegions {
		if pick < r.weight {
			reg = r
			break
		}
		pick -= r.weight
	}
	first, last := demoFirstNames[d.intn(len(demoFirstNames))], demoLastNames[d.intn(len(demoLastNames))]
	email := strings.ToLower(strings.ReplaceAll(fmt.Sprintf("%s.%s.%s-%d@example.com", first, last, d.run, i), " ", ""))
	res, err := d.svc.Dispatch(d.ctxAs(ctx, "demo", "admin"), &cmdsvc.RegisterAccount{
		Email: email, Name: first + " " + last, AgeConfirmed: true, Region: reg.region, Jurisdiction: reg.jurisdiction,
		PolicyVersion: demoPolicy,
	})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	r := res.Data.(cmdsvc.RegisterAccountResult)
	d.st.accounts.Add(1)
	if r.CreditsGranted {
		d.st.credits.Add(1)
	}
	a := &demoAccount{id: r.AccountID, jurisdiction: reg.jurisdiction, currency: reg.currency}
	cctx := d.ctxAs(ctx, a.id.String(), "customer")

	// consents beyond the jurisdiction's defaults
	optIn := reg.jurisdiction == "EU" || reg.jurisdiction == "UK"
	type change struct {
		give    bool
		purpose string
		method  string
		p       float64
	}
	changes := []change{
		{true, "marketing_email", "signup_form", 0.3},
		{true, "advertising", "cookie_banner", 0.15},
		{true, "functional", "cookie_banner", 0.5},
	}
	if optIn {
		changes = append(changes, change{true, "analytics", "cookie_banner", 0.45})
	} else {
		changes = append(changes, change{false, "analytics", "settings_page", 0.1})
	}
	for _, c := range changes {
		if d.float() >= c.p {
			continue
		}
		var cmd any = &cmdsvc.GiveConsent{AccountID: a.id, Purpose: c.purpose, Method: c.method, PolicyVersion: demoPolicy}
		if !c.give {
			cmd = &cmdsvc.WithdrawConsent{AccountID: a.id, Purpose: c.purpose, Method: c.method, PolicyVersion: demoPolicy}
		}
		res, err := d.svc.Dispatch(cctx, cmd)
		if err != nil {
			return fmt.Errorf("consent %s: %w", c.purpose, err)
		}
		if res.Position > 0 {
			d.st.consents.Add(1)
		}
	}
	// a marketing opt-in later withdrawn, now and then
	if d.float() < 0.05 {
		for _, cmd := range []any{
			&cmdsvc.GiveConsent{AccountID: a.id, Purpose: "marketing_email", Method: "settings_page", PolicyVersion: demoPolicy},
			&cmdsvc.WithdrawConsent{AccountID: a.id, Purpose: "marketing_email", Method: "settings_page", PolicyVersion: demoPolicy},
		} {
			res, err := d.svc.Dispatch(cctx, cmd)
			if err != nil {
				return fmt.Errorf("consent change: %w", err)
			}
			if res.Position > 0 {
				d.st.consents.Add(1)
			}
		}
	}

	nkeys := 1 + d.intn(3)
	for k := range nkeys {
		names := []string{"production", "staging", "laptop", "ci"}
		scopes := []string{"inference"}
		if d.float() < 0.3 {
			scopes = append(scopes, "usage:read")
		}
		res, err := d.svc.Dispatch(cctx, &cmdsvc.IssueAPIKey{AccountID: a.id, Name: names[k%len(names)], Scopes: scopes})
		if err != nil {
			return fmt.Errorf("issue key: %w", err)
		}
		a.keys = append(a.keys, res.Data.(cmdsvc.IssueAPIKeyResult).KeyID)
		d.st.keys.Add(1)
	}

	// ~60% pay, by card (Stripe) mostly
	if d.float() < 0.6 {
		n := 1 + d.intn(3)
		for p := range n {
			proc := "stripe"
			if d.float() < 0.25 {
				proc = "paypal"
			}
			amount := int64([]int{5, 10, 20, 50, 100, 200}[d.intn(6)]) * 1_000_000
			ref := fmt.Sprintf("%s_%s_%d_%d", map[string]string{"stripe": "pi", "paypal": "PAY"}[proc], d.run, i, p)
			if _, err := d.svc.Dispatch(d.ctxAs(ctx, "webhook:"+proc, "system"), &cmdsvc.RecordPayment{
				AccountID: a.id, Processor: proc, ProcessorRef: ref, AmountMicros: amount, Currency: a.currency,
			}); err != nil {
				return fmt.Errorf("payment: %w", err)
			}
			a.payments = append(a.payments, demoPayment{proc, ref, amount})
			d.st.payments.Add(1)
			if proc == "stripe" {
				d.st.stripe.Add(1)
			} else {
				d.st.paypal.Add(1)
			}
		}
	}
	d.mu.Lock()
	d.accts = append(d.accts, a)
	d.mu.Unlock()
	return nil
}

// recordUsage spreads the usage over accounts (a few heavy users, a long
// tail), their keys, models and the past days, and records it in batches of
// up to 1,000 ordered by account and day (one append per account-day
// stream), several batches at a time.
func (d *demo) recordUsage(ctx context.Context) error {
	if d.usage == 0 {
		return nil
	}
	// Pareto-ish weights: account i gets weight 1/(rank+1)^0.8
	weights := make([]float64, len(d.accts))
	sum := 0.0
	for i := range weights {
		weights[i] = 1 / math.Pow(float64(i+1), 0.8)
		sum += weights[i]
	}
	perAccount := make([]int, len(d.accts))
	left := d.usage
	for i := range perAccount {
		perAccount[i] = int(float64(d.usage) * weights[i] / sum)
		left -= perAccount[i]
	}
	for i := 0; left > 0; i = (i + 1) % len(perAccount) {
		perAccount[i]++
		left--
	}
	totalW := 0
	for _, m := range demoModels {
		totalW += m.weight
	}
	d.prov = map[string]int{}
	var records []cmdsvc.RecordUsage
	seq := 0
	for ai, a := range d.accts {
		n := perAccount[ai]
		if n == 0 {
			continue
		}
		// active on a subset of days; heavy users on most
		active := min(d.days, max(1, n/8))
		dayOffsets := make([]int, active)
		for j := range dayOffsets {
			dayOffsets[j] = d.intn(d.days)
		}
		slices.Sort(dayOffsets)
		favourite := d.intn(len(demoModels))
		for j := range n {
			day := dayOffsets[j*active/n]
			at := d.now.Add(-time.Duration(day)*24*time.Hour - time.Duration(d.intn(86400))*time.Second - time.Minute)
			mi := favourite
			if d.float() >= 0.5 {
				pick := d.intn(totalW)
				for k, m := range demoModels {
					if pick < m.weight {
						mi = k
						break
					}
					pick -= m.weight
				}
			}
			m := demoModels[mi]
			in := int64(50 + d.intn(4000))
			outTok := int64(20 + d.intn(1500))
			status := "ok"
			switch x := d.float(); {
			case x < 0.015:
				status = "error"
			case x < 0.025:
				status = "rate_limited"
			case x < 0.03:
				status = "timeout"
			}
			if status != "ok" {
				outTok = 0
			}
			cost := (in*m.inPerM + outTok*m.outPerM) / 1_000_000
			rec := cmdsvc.RecordUsage{
				KeyID: a.keys[d.intn(len(a.keys))], RequestID: fmt.Sprintf("req_%s_%d", d.run, seq),
				Provider: m.provider, Model: m.model, InputTokens: in, OutputTokens: outTok, CostMicros: cost,
				Status: status, LatencyMs: int64(200 + d.float()*d.float()*8000), OccurredAt: &at,
			}
			if d.float() < 0.2 {
				rec.ClientIP = fmt.Sprintf("203.0.113.%d", 1+d.intn(254))
				rec.UserAgent = "ledgerline-demo/1.0"
			}
			records = append(records, rec)
			d.prov[m.provider]++
			seq++
		}
	}
	// order by account, then day, so a batch touches few streams
	slices.SortStableFunc(records, func(x, y cmdsvc.RecordUsage) int {
		if c := slices.Compare(x.KeyID[:], y.KeyID[:]); c != 0 {
			return c
		}
		return x.OccurredAt.Truncate(24 * time.Hour).Compare(y.OccurredAt.Truncate(24 * time.Hour))
	})
	const batch = cmdsvc.MaxUsageBatch
	nb := (len(records) + batch - 1) / batch
	prog := newRateProgress("usage", "records", uint64(len(records)), d.quiet)
	var done atomic.Uint64
	err := parallel(ctx, d.workers, nb, func(ctx context.Context, i int) error {
		part := records[i*batch : min((i+1)*batch, len(records))]
		res, err := d.svc.Dispatch(d.ctxAs(ctx, "gateway", "gateway"), &cmdsvc.RecordUsageBatch{Records: part})
		if err != nil {
			return fmt.Errorf("usage batch %d: %w", i, err)
		}
		r := res.Data.(cmdsvc.RecordUsageBatchResult)
		d.st.usage.Add(int64(r.Recorded))
		d.st.usageDup.Add(int64(r.Duplicates))
		d.st.usageRejected.Add(int64(r.Rejected))
		d.st.batches.Add(1)
		prog.set(done.Add(uint64(len(part))))
		return nil
	})
	prog.done(done.Load())
	return err
}

// extras adds the rarer history: refunds, a dispute (and its legal hold), an
// access request and erasures — one completed, one deferred by the hold.
func (d *demo) extras(ctx context.Context) error {
	actx := d.ctxAs(ctx, "demo", "admin")
	var paid []*demoAccount
	for _, a := range d.accts {
		if len(a.payments) > 0 {
			paid = append(paid, a)
		}
	}
	d.example = d.accts[0].id
	if len(paid) > 0 {
		d.example = paid[0].id
	}
	refunds := max(1, len(d.accts)/100)
	for i := 0; i < refunds && i < len(paid); i++ {
		a := paid[len(paid)-1-i]
		p := a.payments[0]
		if _, err := d.svc.Dispatch(d.ctxAs(ctx, "webhook:"+p.processor, "system"), &cmdsvc.RefundPayment{
			AccountID: a.id, Processor: p.processor, PaymentRef: p.ref, RefundRef: "re_" + p.ref, AmountMicros: p.amount / 2,
		}); err != nil {
			return fmt.Errorf("refund: %w", err)
		}
		d.st.refunds.Add(1)
	}
	var disputed *demoAccount
	if len(paid) > 1 {
		disputed = paid[len(paid)/2]
		p := disputed.payments[0]
		dctx := d.ctxAs(ctx, "webhook:"+p.processor, "system")
		disputeID := "dp_" + p.ref
		if _, err := d.svc.Dispatch(dctx, &cmdsvc.OpenDispute{AccountID: disputed.id, Processor: p.processor, PaymentRef: p.ref,
			DisputeID: disputeID, AmountMicros: p.amount}); err != nil {
			return fmt.Errorf("dispute: %w", err)
		}
		// The server's bus runs this policy on dispute.opened; the demo has
		// no bus, so it runs the policy on the stored event itself.
		if err := d.placeDisputeHold(ctx, disputed.id); err != nil {
			return fmt.Errorf("dispute hold: %w", err)
		}
		d.st.disputes.Add(1)
	}
	// an access request from a customer
	subject := d.accts[len(d.accts)/3]
	if _, err := d.svc.Dispatch(d.ctxAs(ctx, subject.id.String(), "customer"), &cmdsvc.ReceivePrivacyRequest{
		SubjectID: subject.id, Kind: "access", Channel: "web_form",
	}); err != nil {
		return fmt.Errorf("access request: %w", err)
	}
	d.st.access.Add(1)
	// erasures: one that completes, one held by the dispute
	targets := []*demoAccount{d.accts[len(d.accts)-1]}
	if disputed != nil {
		targets = append(targets, disputed)
	}
	for _, a := range targets {
		res, err := d.svc.Dispatch(d.ctxAs(ctx, a.id.String(), "customer"), &cmdsvc.ReceivePrivacyRequest{
			SubjectID: a.id, Kind: "erasure", Channel: "email",
		})
		if err != nil {
			return fmt.Errorf("erasure request: %w", err)
		}
		d.st.erasures.Add(1)
		req := res.Data.(cmdsvc.PrivacyRequestResult).RequestID
		if _, err := d.svc.Dispatch(actx, &cmdsvc.AcknowledgeRequest{RequestID: req}); err != nil {
			return fmt.Errorf("acknowledge erasure: %w", err)
		}
		res, err = d.svc.Dispatch(cmdsvc.WithActor(ctx, cmdsvc.Actor{ID: "demo", Role: "compliance", RequestID: "demo-" + d.run}),
			&cmdsvc.ExecuteErasure{RequestID: req})
		if err != nil {
			return fmt.Errorf("execute erasure: %w", err)
		}
		switch res.Data.(cmdsvc.ExecuteErasureResult).Status {
		case cmdsvc.RequestDeferred:
			d.st.deferred.Add(1)
		default:
			d.st.erased.Add(1)
		}
	}
	return nil
}

// placeDisputeHold runs PlaceHoldOnDisputeOpened on the account's latest
// dispute.opened event.
func (d *demo) placeDisputeHold(ctx context.Context, account uuid.UUID) error {
	pol, err := cmdsvc.NewPlaceHoldOnDisputeOpened(d.svc, 0)
	if err != nil {
		return err
	}
	evs, err := d.b.store.ReadStream(ctx, billing.Stream(account), 1, 0)
	if err != nil {
		return err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		dec, err := d.b.codec.Decode(ctx, evs[i])
		if err != nil {
			return err
		}
		if _, ok := dec.Payload.(billing.DisputeOpened); ok {
			return pol.Handle(ctx, dec)
		}
	}
	return errors.New("no dispute.opened event in the ledger")
}

func (d *demo) jurisdictions() map[string]int {
	out := map[string]int{}
	for _, a := range d.accts {
		out[a.jurisdiction]++
	}
	return out
}

func (d *demo) providerCounts() map[string]int { return d.prov }

// demoCounts builds in-memory read models from the whole log and counts
// them (used by the demo's test).
func demoCounts(ctx context.Context, b *backend) (*modelCounts, error) {
	set, err := projections.AsOf(ctx, b.store, b.codec, projections.Until{})
	if err != nil {
		return nil, err
	}
	return countReadModels(ctx, set, time.Now())
}
