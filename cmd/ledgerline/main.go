// Command ledgerline is the one binary: the server and every operator tool.
// It is the only place where adapters are wired to the core packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":       {"run the HTTP API (embedded store by default, PostgreSQL with --database-url)", runServe},
		"bench":       {"run benchmarks: bench store|vault|projections|http|cluster [--quick]", runBench},
		"audit":       {"auditor tools: audit verify|export|checkpoint (never decrypts personal data)", runAudit},
		"certificate": {"proof-of-deletion certificates: certificate verify|public-key|render", runCertificate},
		"token":       {"issue or revoke operator tokens: token issue --role R [--account ID] | token revoke ID", runToken},
		"keys":        {"key management: keys rotate-kek (re-wrap live keys, destroy old KEK epochs) | keys epochs", runKeys},
		"migrate":     {"apply the PostgreSQL migrations (store, vault, read models) and list them", runMigrate},
		"rebuild":     {"rebuild the read models from the log: rebuild [--read-models postgres|memory]", runRebuild},
		"replay":      {"read models as of a past time or position, as JSON (public data only): replay --as-of T [--account ID]", runReplay},
		"demo":        {"seed a realistic history (accounts, keys, usage, payments, privacy requests): demo [--accounts N] [--usage N]", runDemo},
		"version": {"print the version", func(_ context.Context, _ []string, out io.Writer) error {
			_, err := fmt.Fprintln(out, version)
			return err
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ledgerline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(out, cmds)
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(os.Stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return c.run(ctx, args[1:], out)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: ledgerline <command> [flags]  (every command takes --help)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
}

// envDefault returns the environment variable's value or def; flags that
// read the environment say so in their help text.
func envDefault(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// newFlags makes a flag set that prints usage on --help and returns errors
// instead of exiting.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ledgerline %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func runBench(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("bench needs a target: store | vault | projections | http | cluster")
	}
	if path := os.Getenv("LEDGERLINE_BENCH_CPUPROFILE"); path != "" {
		// a profile of the whole run, whatever the target (go tool pprof)
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	switch strings.ToLower(args[0]) {
	case "store":
		return runBenchStore(ctx, args[1:], out)
	case "vault":
		return runBenchVault(ctx, args[1:], out)
	case "projections":
		return runBenchProjections(ctx, args[1:], out)
	case "cluster":
		return runBenchCluster(ctx, args[1:], out)
	case "http":
		return runBenchHTTP(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown bench target %q (want store, vault, projections, http or cluster)", args[0])
}

// startCPUProfile writes a CPU profile to path (go tool pprof) until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
