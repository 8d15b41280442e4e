package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// serveMetrics are the server's Prometheus series beside the HTTP ones
// (adapters/httpapi registers those on the same registry). Every label is a
// bounded enum — a command's type name, an outcome class, a read model's
// name — never an id, an email or anything a caller sent.
type serveMetrics struct {
	reg       *prometheus.Registry
	commands  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	erasures  *prometheus.CounterVec
	shreds    prometheus.Counter
}

func newServeMetrics() *serveMetrics {
	m := &serveMetrics{
		reg: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerline_commands_total",
			Help: "Dispatched commands by command type and outcome (ok, validation, not_found, conflict, unavailable, internal).",
		}, []string{"command", "outcome"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ledgerline_command_duration_seconds",
			Help:    "Command latency by command type, retries after concurrency conflicts included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"command"}),
		erasures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerline_erasures_total",
			Help: "Erasure requests carried out by this process, by outcome (completed, deferred by a legal hold, failed).",
		}, []string{"outcome"}),
		shreds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledgerline_subject_keys_shredded_total",
			Help: "Data subjects' keys destroyed (crypto-shredded) by this process.",
		}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.commands, m.durations, m.erasures, m.shreds)
	for _, o := range []string{cmdsvc.RequestCompleted, cmdsvc.RequestDeferred, "failed"} {
		m.erasures.WithLabelValues(o)
	}
	return m
}

// outcome names a command's failure class for the outcome label.
func outcome(c cmdsvc.Class) string {
	switch c {
	case cmdsvc.ClassOK:
		return "ok"
	case cmdsvc.ClassValidation:
		return "validation"
	case cmdsvc.ClassNotFound:
		return "not_found"
	case cmdsvc.ClassConflict:
		return "conflict"
	case cmdsvc.ClassUnavailable:
		return "unavailable"
	}
	return "internal"
}

// observeCommand is the Dispatcher's Metrics hook (commands.Deps.Metrics).
func (m *serveMetrics) observeCommand(c cmdsvc.CommandMetric) {
	m.commands.WithLabelValues(c.Command, outcome(c.Class)).Inc()
	m.durations.WithLabelValues(c.Command).Observe(c.Duration.Seconds())
}

// knownCommands creates the ok series of every command at zero, so
// dashboards and alerts see them before the first call.
func (m *serveMetrics) knownCommands(d *cmdsvc.Dispatcher) {
	for _, c := range d.Commands() {
		name := cmdsvc.CommandName(c)
		m.commands.WithLabelValues(name, "ok")
		m.durations.WithLabelValues(name)
	}
}

// erasureMiddleware counts ExecuteErasure outcomes, whoever dispatched it
// (the API, a policy after a hold is released, the scheduled sweep).
func (m *serveMetrics) erasureMiddleware() cmdsvc.Middleware {
	return func(next cmdsvc.HandlerFunc) cmdsvc.HandlerFunc {
		return func(ctx context.Context, cmd any) (cmdsvc.Result, error) {
			res, err := next(ctx, cmd)
			if _, ok := cmd.(*cmdsvc.ExecuteErasure); !ok {
				return res, err
			}
			status := "failed"
			if err == nil && res.Position == 0 {
				return res, err // a repeat of a finished erasure: nothing carried out
			}
			if err == nil {
				switch r := res.Data.(type) {
				case cmdsvc.ExecuteErasureResult:
					status = r.Status
				case *cmdsvc.ExecuteErasureResult:
					status = r.Status
				}
			}
			switch status {
			case cmdsvc.RequestCompleted, cmdsvc.RequestDeferred, "failed":
				m.erasures.WithLabelValues(status).Inc()
			}
			return res, err
		}
	}
}

// shredded is a VaultSealer.OnShred hook; the subject never reaches a label.
func (m *serveMetrics) shredded(string) { m.shreds.Inc() }

// commitStats are a store's group-commit counters.
type commitStats struct{ Commits, Events uint64 }

// commitStatsOf returns the counters of stores that keep them (the
// embedded and PostgreSQL stores: their Stats getters), nil otherwise.
func commitStatsOf(s eventstore.Store) func() commitStats {
	switch st := s.(type) {
	case interface{ Stats() postgres.Stats }:
		return func() commitStats { x := st.Stats(); return commitStats{Commits: x.Batches, Events: x.Events} }
	case interface{ Stats() embedded.Stats }:
		return func() commitStats { x := st.Stats(); return commitStats{Commits: x.Commits, Events: x.Events} }
	}
	return nil
}

// storeCollector reports the log's head, the live read models' lag behind
// it and the store's commit counters, measured at scrape time (one Head and
// at most one one-event read per scrape).
type storeCollector struct {
	store   eventstore.Store
	applied func() (uint64, time.Time) // the memory read models' last position and its store time
	stats   func() commitStats         // nil: the store keeps none
	now     func() time.Time
	log     *slog.Logger

	up, head, lagEvents, lagSeconds, lastApplied, appliedPos *prometheus.Desc
	commits, events, perCommit                               *prometheus.Desc
}

func newStoreCollector(store eventstore.Store, hub *projections.Hub, log *slog.Logger) *storeCollector {
	model := prometheus.Labels{"read_model": "memory"}
	return &storeCollector{
		store: store, stats: commitStatsOf(store), now: time.Now, log: log,
		applied: func() (uint64, time.Time) { s := hub.Current(); return s.Position(), s.LastRecordedAt() },
		up:      prometheus.NewDesc("ledgerline_store_up", "1 when the event store answered the scrape's head read, else 0.", nil, nil),
		head:    prometheus.NewDesc("ledgerline_store_head_position", "The last global position in the log.", nil, nil),
		lagEvents: prometheus.NewDesc("ledgerline_projection_lag_events",
			"Log positions the read models have not applied yet (head − applied).", nil, model),
		lagSeconds: prometheus.NewDesc("ledgerline_projection_lag_seconds",
			"How long the oldest event the read models have not applied has been in the log (0 when caught up).", nil, model),
		lastApplied: prometheus.NewDesc("ledgerline_projection_last_applied_timestamp_seconds",
			"Store time (Unix seconds) of the last event the read models applied; time() minus it is that event's age.", nil, model),
		appliedPos: prometheus.NewDesc("ledgerline_projection_applied_position", "The last log position the read models applied.", nil, model),
		commits: prometheus.NewDesc("ledgerline_store_commits_total",
			"Group commits (one transaction and fsync each) this process made to the store.", nil, nil),
		events: prometheus.NewDesc("ledgerline_store_appended_events_total",
			"Events this process appended to the store.", nil, nil),
		perCommit: prometheus.NewDesc("ledgerline_store_events_per_commit",
			"Mean events per group commit since start (rate(appended_events)/rate(commits) for a recent figure).", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.head, c.lagEvents, c.lagSeconds, c.lastApplied, c.appliedPos} {
		ch <- d
	}
	if c.stats != nil {
		ch <- c.commits
		ch <- c.events
		ch <- c.perCommit
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	applied, at := c.applied()
	ch <- prometheus.MustNewConstMetric(c.appliedPos, prometheus.GaugeValue, float64(applied))
	if !at.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastApplied, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
	}
	if c.stats != nil {
		st := c.stats()
		ch <- prometheus.MustNewConstMetric(c.commits, prometheus.CounterValue, float64(st.Commits))
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(st.Events))
		per := 0.0
		if st.Commits > 0 {
			per = float64(st.Events) / float64(st.Commits)
		}
		ch <- prometheus.MustNewConstMetric(c.perCommit, prometheus.GaugeValue, per)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	lag, err := projections.LagOf(ctx, c.store, applied, c.now())
	if err != nil {
		c.log.Warn("metrics: read the log head", "err", err.Error())
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.head, prometheus.GaugeValue, float64(lag.Head))
	ch <- prometheus.MustNewConstMetric(c.lagEvents, prometheus.GaugeValue, float64(lag.Positions))
	ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, lag.Behind.Seconds())
}
