package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ledgerline/ledgerline/adapters/httpapi"
	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// superviseTask runs a background task until ctx ends or it returns nil,
// restarting it with
// backoff when it fails: a database restart or a broker outage must not take
// the server down (requests meanwhile get 503 with Retry-After), and every
// task resumes from its own checkpoint.
func superviseTask(ctx context.Context, name string, run func(context.Context) error, log *slog.Logger) {
	const maxBackoff = 10 * time.Second
	backoff := 100 * time.Millisecond
	for {
		started := time.Now()
		err := run(ctx)
		if ctx.Err() != nil || err == nil {
			return // stopped, or nothing to do (a disabled task returns nil at once)
		}
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond // it ran fine for a while
		}
		log.Error("background task failed; restarting", "task", name, "err", err.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// runServe wires keyring → vault → sealer → codec → commands → read models
// → HTTP API, serves until ctx ends (SIGINT/SIGTERM), then stops accepting,
// lets in-flight requests finish and closes the store cleanly.
func runServe(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("serve", "serve [flags]")
	addr := fs.String("addr", envDefault("LEDGERLINE_ADDR", "127.0.0.1:8080"),
		"listen address; port 0 picks a free port (env LEDGERLINE_ADDR)")
	sf := addStorageFlags(fs)
	cf := addClusterFlags(fs)
	accessLog := fs.Bool("access-log", envDefault("LEDGERLINE_ACCESS_LOG", "true") == "true",
		"log one line per request: route pattern, status, duration, request id (env LEDGERLINE_ACCESS_LOG)")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "how long in-flight requests may run after SIGTERM")
	kekInterval := fs.Duration("kek-rotation-interval", cmdsvc.DefaultKEKRotationInterval,
		"rotate the key-encryption key this often, destroying the old epoch (deletion certificates state the next retirement)")
	cpDefault, err := envDuration("LEDGERLINE_CHAIN_CHECKPOINT_INTERVAL", DefaultChainCheckpointInterval)
	if err != nil {
		return err
	}
	cpInterval := fs.Duration("chain-checkpoint-interval", cpDefault,
		"sign the log's head with the keyring's key this often, recorded as audit.chain_checkpoint_signed; 0 disables (env LEDGERLINE_CHAIN_CHECKPOINT_INTERVAL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments (got %q)", fs.Arg(0))
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	b, err := openBackend(ctx, sf)
	if err != nil {
		return err
	}
	defer func() {
		if err := b.Close(); err != nil {
			log.Error("close store", "err", err.Error())
		}
	}()

	metrics := newServeMetrics()
	svc, err := cmdsvc.New(cmdsvc.Deps{Store: b.store, Codec: b.codec, Shredder: b.sealer,
		Pepper: b.keyring.Pepper(), Logger: log, Metrics: metrics.observeCommand, Middleware: []cmdsvc.Middleware{metrics.erasureMiddleware()}})
	if err != nil {
		return err
	}
	metrics.knownCommands(svc.Dispatcher())
	b.sealer.OnShred(metrics.shredded)
	hub, err := projections.NewHub(b.store, b.codec, projections.HubConfig{})
	if err != nil {
		return err
	}
	if err := hub.CatchUpAll(ctx); err != nil {
		return fmt.Errorf("build read models: %w", err)
	}
	metrics.reg.MustRegister(newStoreCollector(b.store, hub, log))
	checkpoints, err := newChainCheckpointer(b.store, b.codec, b.keyring.SigningKey(), *cpInterval, log)
	if err != nil {
		return err
	}
	tokens, err := httpapi.NewTokenIndex(b.store, b.codec, nil)
	if err != nil {
		return err
	}
	adminSecret, err := bootstrapAdmin(ctx, b)
	if err != nil {
		return fmt.Errorf("bootstrap admin token: %w", err)
	}
	if err := tokens.Refresh(ctx); err != nil {
		return err
	}
	cl, err := startCluster(ctx, cf, svc, b, hub, log)
	if err != nil {
		return err
	}
	defer cl.Close()
	kek, err := wireErasureProof(svc, b, *sf.dataDir, cl.Models(), hub.WaitFor, *kekInterval, log)
	if err != nil {
		return err
	}
	api, err := httpapi.New(httpapi.Config{
		Store: b.store, Codec: b.codec, Commands: svc, Tokens: tokens, Logger: log, AccessLog: *accessLog, Version: version, CertificateKey: certificateKey(b),
		Reads: httpapi.Reads{Models: cl.Models(), WaitFor: hub.WaitFor}, Registry: metrics.reg,
		Ready: func(ctx context.Context) error { _, err := b.store.Head(ctx); return err },
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	url := "http://" + ln.Addr().String()
	printBanner(out, url, b, adminSecret)

	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 120 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for name, run := range map[string]func(context.Context) error{
		"read models":    hub.Run,
		"tokens":         func(ctx context.Context) error { return tokens.Run(ctx, time.Second) },
		"bus":            cl.RunBus,
		"pg read models": cl.RunPGReadModels,
		"shred follower": cl.RunShredFollower,
		"kek rotation":   kek.Run,
		"erasure sweep": func(ctx context.Context) error {
			return sweepErasures(ctx, svc, log)
		},
		"chain checkpoints": checkpoints.Run,
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			superviseTask(bg, name, run, log)
		}()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", "signal")
	case err := <-serveErr:
		runErr = err
	}
	// stop accepting, let in-flight requests finish, then stop the
	// background work and close the store (deferred above)
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err.Error())
	}
	stopBG()
	wg.Wait()
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	fmt.Fprintln(out, "Ledgerline stopped.")
	return runErr
}

// bootstrapAdmin issues an admin token when the log has no active one (the
// first start) and returns its secret ("" when one exists). Several nodes
// starting at once issue only one: the append checks the stream version.
func bootstrapAdmin(ctx context.Context, b *backend) (string, error) {
	w := httpapi.TokenWriter{Store: b.store, Codec: b.codec, Rand: rand.Reader}
	res, issued, err := w.Issue(ctx, operator.IssueParams{Role: operator.Admin, IssuedBy: operator.IssuerBootstrap},
		eventstore.Metadata{Actor: operator.IssuerBootstrap, ActorRole: "system"}, true)
	if err != nil || !issued {
		return "", err
	}
	return res.Secret, nil
}

// newBus wires the outbox relay and the policies; cfg picks the transport
// and the relay checkpoints (default: in-process gochannel, in memory). The
// relay publishes only the events the policies consume.
func newBus(svc *cmdsvc.Service, b *backend, hub *projections.Hub, log *slog.Logger, cfg cmdsvc.BusConfig) (*cmdsvc.Bus, error) {
	var policies []cmdsvc.Policy
	hold, err := cmdsvc.NewPlaceHoldOnDisputeOpened(svc, 0)
	if err != nil {
		return nil, err
	}
	release, err := cmdsvc.NewReleaseHoldOnDisputeResolved(svc)
	if err != nil {
		return nil, err
	}
	erase, err := cmdsvc.NewEraseOnHoldReleased(svc)
	if err != nil {
		return nil, err
	}
	schedule, err := cmdsvc.NewScheduleErasureOnAccountClosed(svc, 0)
	if err != nil {
		return nil, err
	}
	forget, err := cmdsvc.NewForgetSubjectKeyOnKeyShredded(b.sealer.Forget)
	if err != nil {
		return nil, err
	}
	policies = append(policies, hold, release, erase, schedule, forget)
	if cfg.Publisher == nil {
		ch := cmdsvc.NewGoChannel(log)
		cfg.Publisher, cfg.Subscriber = ch, ch
	}
	if cfg.Checkpoints == nil {
		cfg.Checkpoints = cmdsvc.NewMemCheckpoints()
	}
	for _, p := range policies {
		for _, ex := range p.Events() {
			cfg.RelayTypes = append(cfg.RelayTypes, cmdsvc.EventName(ex))
		}
	}
	cfg.Service, cfg.Policies, cfg.Logger = svc, policies, log
	return cmdsvc.NewBus(cfg)
}

// sweepErasures runs the erasures scheduled after account closure when they
// fall due.
func sweepErasures(ctx context.Context, svc *cmdsvc.Service, log *slog.Logger) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		done, err := svc.RunDueErasures(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("erasure sweep", "err", err.Error())
		}
		for _, d := range done {
			if d.Err != nil {
				log.Warn("scheduled erasure failed", "request_id", d.RequestID.String(), "err", d.Err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func printBanner(out io.Writer, url string, b *backend, adminSecret string) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Ledgerline %s listening on %s\n", version, url)
	fmt.Fprintf(&sb, "  store: %s (%s)\n", b.kind, b.where)
	if adminSecret != "" {
		fmt.Fprintf(&sb, "Admin token (shown once; store it safely): %s\n", adminSecret)
		fmt.Fprintf(&sb, "  export LEDGERLINE_TOKEN=%s\n", adminSecret)
	} else {
		fmt.Fprintf(&sb, "Use your admin token: export LEDGERLINE_TOKEN=llt_...  (new ones: POST /v1/tokens or `ledgerline token issue`)\n")
	}
	fmt.Fprintf(&sb, "Try:\n")
	fmt.Fprintf(&sb, "  curl -s %s/healthz\n", url)
	fmt.Fprintf(&sb, "  ACCOUNT=$(curl -s -X POST %s/v1/accounts -H \"Authorization: Bearer $LEDGERLINE_TOKEN\" -H 'Content-Type: application/json' "+
		"-d '{\"email\":\"ada@example.com\",\"name\":\"Ada\",\"age_confirmed\":true,\"region\":\"GB\",\"jurisdiction\":\"UK\",\"policy_version\":\"2025-10-01\"}' "+
		"| sed -E 's/.*\"account_id\":\"([^\"]+)\".*/\\1/'); echo $ACCOUNT\n", url)
	fmt.Fprintf(&sb, "  curl -s -X POST %s/v1/accounts/$ACCOUNT/keys -H \"Authorization: Bearer $LEDGERLINE_TOKEN\" -H 'Content-Type: application/json' "+
		"-d '{\"name\":\"laptop\",\"scopes\":[\"inference\"]}'\n", url)
	fmt.Fprintf(&sb, "API reference: %s/openapi.json\n", url)
	_, _ = io.WriteString(out, sb.String())
}
