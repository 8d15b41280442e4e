package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/projections"
)

// runRebuild rebuilds the read models from the whole log. PostgreSQL read
// models are built in a schema beside the live tables and swapped in at the
// end; memory read models are replayed into a fresh set and counted (a dry
// run that proves every event of the log still decodes).
func runRebuild(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("rebuild", "rebuild [--read-models postgres|memory] [storage flags]\n\n"+
		"Rebuilds the read models from the log. The embedded store is locked by a running server:\n"+
		"stop `ledgerline serve` on the data directory first (it rebuilds its memory read models on start).")
	sf := addStorageFlags(fs)
	kind := fs.String("read-models", "", "which read models: postgres (needs --database-url; built beside the live tables, then swapped in) "+
		"or memory (a dry run: replay into fresh in-memory models and print counts); default postgres with --database-url, else memory")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("rebuild takes no arguments (got %q)", fs.Arg(0))
	}
	if *kind == "" {
		*kind = "memory"
		if *sf.databaseURL != "" {
			*kind = "postgres"
		}
	}
	if *kind != "postgres" && *kind != "memory" {
		return fmt.Errorf("--read-models must be postgres or memory (got %q)", *kind)
	}
	if *kind == "postgres" && *sf.databaseURL == "" {
		return errors.New("PostgreSQL read models live beside a PostgreSQL store: pass --database-url (or set LEDGERLINE_DATABASE_URL), or use --read-models memory")
	}
	b, err := openBackendExclusive(ctx, sf, "rebuild")
	if err != nil {
		return err
	}
	defer b.Close()
	head, err := b.store.Head(ctx)
	if err != nil {
		return err
	}
	prog := newRateProgress("rebuild "+*kind, "events", head.Position, *quiet)
	cfg := projections.ReplayConfig{Progress: prog.set}
	start := time.Now()

	if *kind == "postgres" {
		pg := b.store.(*postgres.Store)
		last, err := postgres.RebuildReadModels(ctx, pg.Pool(), b.store, b.codec, cfg)
		prog.done(last)
		if err != nil {
			return fmt.Errorf("rebuild PostgreSQL read models: %w", err)
		}
		el := time.Since(start)
		fmt.Fprintf(out, "Rebuilt the PostgreSQL read models in schema %q up to position %d: %d events in %s (%.0f events/s).\n",
			pg.Schema(), last, last, el.Round(time.Millisecond), perSecond(last, el))
		rm, err := postgres.OpenReadModels(ctx, postgres.ReadModelsConfig{Pool: pg.Pool(), Codec: b.codec})
		if err != nil {
			return err
		}
		cps, err := rm.Checkpoints(ctx)
		if err != nil {
			return err
		}
		for _, n := range postgres.AllReadModels {
			fmt.Fprintf(out, "  %-10s checkpoint %d\n", n, cps[n])
		}
		return nil
	}

	set := projections.NewMemSet(b.codec, projections.MemSetOptions{})
	counted := newCountingProjector(set)
	last, err := projections.Replay(ctx, b.store, b.codec, counted, projections.Until{}, cfg)
	prog.done(last)
	if err != nil {
		return fmt.Errorf("replay into memory read models: %w", err)
	}
	el := time.Since(start)
	fmt.Fprintf(out, "Replayed %d events into fresh in-memory read models in %s (%.0f events/s); every event decoded.\n",
		last, el.Round(time.Millisecond), perSecond(last, el))
	c, err := countReadModels(ctx, set, time.Now())
	if err != nil {
		return err
	}
	c.EventsByType = counted.types()
	return c.print(out)
}

// openBackendExclusive opens the backend for an offline tool. The embedded
// store and vault are single-process files: when a server holds them the
// error says what to do instead of just "locked".
func openBackendExclusive(ctx context.Context, sf storageFlags, what string) (*backend, error) {
	b, err := openBackend(ctx, sf)
	if err != nil && *sf.databaseURL == "" && strings.Contains(err.Error(), "locked") {
		return nil, fmt.Errorf("%w\n`ledgerline %s` needs the embedded data directory %s to itself, and a running server holds its lock: "+
			"stop `ledgerline serve` first (or run against PostgreSQL with --database-url)", err, what, *sf.dataDir)
	}
	return b, err
}

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// rateProgress shows a replay on standard error: a bar with events/s and the
// ETA on a terminal, a plain line every few seconds otherwise.
type rateProgress struct {
	desc  string
	unit  string // what is counted: events, accounts...
	total uint64
	bar   *progressbar.ProgressBar
	plain bool
	start time.Time
	mu    sync.Mutex
	last  time.Time
}

func newRateProgress(desc, unit string, total uint64, quiet bool) *rateProgress {
	p := &rateProgress{desc: desc, unit: unit, total: total, start: time.Now(), last: time.Now()}
	if quiet {
		return p
	}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		p.bar = progressbar.NewOptions64(int64(total),
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return p
	}
	p.plain = true
	return p
}

// set reports how many events are done.
func (p *rateProgress) set(n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.bar != nil:
		_ = p.bar.Set64(int64(min(n, p.total)))
	case p.plain && time.Since(p.last) >= 2*time.Second:
		p.last = time.Now()
		el := time.Since(p.start)
		rate := perSecond(n, el)
		eta := "?"
		if rate > 0 && p.total >= n {
			eta = (time.Duration(float64(p.total-n)/rate) * time.Second).Round(time.Second).String()
		}
		fmt.Fprintf(stderr, "%s: %d of %d %s (%.0f/s, ETA %s)\n", p.desc, n, p.total, p.unit, rate, eta)
	}
}

func (p *rateProgress) done(n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	if p.plain {
		fmt.Fprintf(stderr, "%s: %d %s done in %s\n", p.desc, n, p.unit, time.Since(p.start).Round(time.Millisecond))
	}
}

// countingProjector counts the events of each type on their way into a
// projector.
type countingProjector struct {
	projections.Projector
	mu sync.Mutex
	n  map[string]int64
}

func newCountingProjector(p projections.Projector) *countingProjector {
	return &countingProjector{Projector: p, n: map[string]int64{}}
}

func (c *countingProjector) ApplyBatch(ctx context.Context, batch []projections.Record) error {
	c.mu.Lock()
	for i := range batch {
		c.n[batch[i].Type]++
	}
	c.mu.Unlock()
	return c.Projector.ApplyBatch(ctx, batch)
}

func (c *countingProjector) types() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// modelCounts summarises a set of read models from public data only.
type modelCounts struct {
	Position         uint64                  `json:"position"`
	Accounts         int                     `json:"accounts"`
	AccountsByStatus map[string]int          `json:"accounts_by_status"`
	ByJurisdiction   map[string]int          `json:"accounts_by_jurisdiction"`
	ConsentGranted   map[string]int          `json:"consent_granted"` // purpose -> accounts granting it now
	Usage            projections.UsageCounts `json:"usage"`
	Transactions     int                     `json:"transactions"`
	TxByKind         map[string]int          `json:"transactions_by_kind"`
	Disputes         int                     `json:"disputes"`
	LegalHolds       int                     `json:"legal_holds"`
	ActiveHolds      int                     `json:"active_legal_holds"`
	PrivacyRequests  map[string]int          `json:"privacy_requests"` // "kind/status" -> requests
	EventsByType     map[string]int64        `json:"events_by_type,omitempty"`
}

// countReadModels walks every account of set (public fields only: nothing
// is decrypted) and sums what the read models answer for them.
func countReadModels(ctx context.Context, set *projections.MemSet, now time.Time) (*modelCounts, error) {
	c := &modelCounts{Position: set.Position(), AccountsByStatus: map[string]int{}, TxByKind: map[string]int{},
		PrivacyRequests: map[string]int{}, ConsentGranted: map[string]int{}, ByJurisdiction: map[string]int{}}
	var after uint64
	for {
		page, err := set.Accounts().ListAccounts(ctx, projections.AccountFilter{After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, a := range page.Items {
			c.Accounts++
			c.AccountsByStatus[a.Status]++
			c.ByJurisdiction[a.Jurisdiction]++
			u, err := set.Usage().UsageTotals(ctx, projections.UsageFilter{AccountID: a.ID})
			if err != nil {
				return nil, err
			}
			c.Usage.Add(u)
			for txAfter := uint64(0); ; {
				tp, err := set.Balances().Transactions(ctx, projections.TxFilter{AccountID: a.ID, After: txAfter, Limit: 1000})
				if err != nil {
					return nil, err
				}
				for _, t := range tp.Items {
					c.Transactions++
					c.TxByKind[t.Kind]++
				}
				if tp.Next == 0 {
					break
				}
				txAfter = tp.Next
			}
			ds, err := set.Balances().Disputes(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			c.Disputes += len(ds)
			hs, err := set.Privacy().Holds(ctx, a.ID, false)
			if err != nil {
				return nil, err
			}
			for _, h := range hs {
				c.LegalHolds++
				if h.Active {
					c.ActiveHolds++
				}
			}
			cs, err := set.Consent().Consent(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			for _, p := range cs.Purposes {
				if p.Granted {
					c.ConsentGranted[p.Purpose]++
				}
			}
		}
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	reqs, err := set.Privacy().Requests(ctx, projections.RequestFilter{}, now)
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		c.PrivacyRequests[r.Kind+"/"+r.Status]++
	}
	return c, nil
}

func (c *modelCounts) print(out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "position\t%d\n", c.Position)
	fmt.Fprintf(tw, "accounts\t%d\t%s\n", c.Accounts, joinCounts(c.AccountsByStatus))
	fmt.Fprintf(tw, "  by jurisdiction\t\t%s\n", joinCounts(c.ByJurisdiction))
	fmt.Fprintf(tw, "consent granted\t\t%s\n", joinCounts(c.ConsentGranted))
	fmt.Fprintf(tw, "usage requests\t%d\tinput %d, output %d tokens; cost %d micros; %d errors\n",
		c.Usage.Requests, c.Usage.InputTokens, c.Usage.OutputTokens, c.Usage.CostMicros, c.Usage.Errors)
	fmt.Fprintf(tw, "transactions\t%d\t%s\n", c.Transactions, joinCounts(c.TxByKind))
	fmt.Fprintf(tw, "disputes\t%d\n", c.Disputes)
	fmt.Fprintf(tw, "legal holds\t%d\t%d active\n", c.LegalHolds, c.ActiveHolds)
	fmt.Fprintf(tw, "privacy requests\t%d\t%s\n", sumCounts(c.PrivacyRequests), joinCounts(c.PrivacyRequests))
	if len(c.EventsByType) > 0 {
		fmt.Fprintf(tw, "events by type\t\t\n")
		types := make([]string, 0, len(c.EventsByType))
		for t := range c.EventsByType {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			fmt.Fprintf(tw, "  %s\t%d\n", t, c.EventsByType[t])
		}
	}
	return tw.Flush()
}

func joinCounts[V int | int64](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
