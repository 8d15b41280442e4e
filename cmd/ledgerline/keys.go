package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ledgerline/ledgerline/eventstore"
)

// runKeys dispatches `ledgerline keys rotate-kek|epochs`.
func runKeys(ctx context.Context, args []string, out io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer) error{
		"rotate-kek": runKeysRotateKEK,
		"epochs":     runKeysEpochs,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, `Usage: ledgerline keys <command> [flags]  (every command takes --help)

Commands:
  rotate-kek   rotate the key-encryption key now: re-wrap every live data key under a new
               epoch and destroy the older epochs (residual copies of shredded keys in
               backups, dead rows and WAL become unreadable)
  epochs       list the KEK epochs with their creation and retirement times
`)
		if len(args) == 0 {
			return errors.New("keys needs a command: rotate-kek | epochs")
		}
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("unknown keys command %q (want rotate-kek or epochs)", args[0])
	}
	return run(ctx, args[1:], out)
}

func runKeysRotateKEK(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("keys rotate-kek", "keys rotate-kek [--data-dir D | --database-url URL] [--keyring F]\n\n"+
		"Rotates the KEK now (`serve` also does it every --kek-rotation-interval). Stop the server first\n"+
		"when it uses the embedded store: the vault file is locked while it runs.")
	sf := addStorageFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	b, err := openBackend(ctx, sf)
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	res, err := eventstore.RotateKEK(ctx, b.keyring, b.vault)
	if err != nil {
		return fmt.Errorf("rotate KEK: %w (nothing was retired; run it again to finish)", err)
	}
	_, err = fmt.Fprintf(out, "OK: KEK rotated from epoch %d to %d in %s: %d live data keys re-wrapped, retired epochs %v at %s\n",
		res.OldEpoch, res.NewEpoch, time.Since(start).Round(time.Millisecond), res.Rewrapped, res.Retired,
		res.RetiredAt.UTC().Format(time.RFC3339))
	return err
}

func runKeysEpochs(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("keys epochs", "keys epochs [--data-dir D] [--keyring F]\n\nLists the keyring's KEK epochs (never key material).")
	kf := addKeyringFlag(fs)
	dataDir := fs.String("data-dir", "", fmt.Sprintf("data directory holding the keyring (env %s; default %s)", envDataDir, storeDefaultDataDir))
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	kr, err := kf.openExisting(envOr(*dataDir, envDataDir, storeDefaultDataDir))
	if err != nil {
		return err
	}
	cur, _, err := kr.Current()
	if err != nil {
		return err
	}
	epochs, err := kr.Epochs()
	if err != nil {
		return err
	}
	for _, e := range epochs {
		state := "live"
		switch {
		case e.Epoch == cur:
			state = "current"
		case e.Retired():
			state = "retired " + e.RetiredAt.UTC().Format(time.RFC3339)
		}
		if _, err := fmt.Fprintf(out, "epoch %d  created %s  %s\n", e.Epoch, e.CreatedAt.UTC().Format(time.RFC3339), state); err != nil {
			return err
		}
	}
	return nil
}
