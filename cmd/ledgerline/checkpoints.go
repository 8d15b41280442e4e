package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ledgerline/ledgerline/domain/audit"
	"github.com/ledgerline/ledgerline/eventstore"
)

// DefaultChainCheckpointInterval is how often serve signs the log's head.
const DefaultChainCheckpointInterval = time.Hour

// loggedCheckpoint is a signed chain checkpoint as recorded in the log.
type loggedCheckpoint struct {
	EventPosition uint64 // where the checkpoint event itself is
	Version       uint64 // its version in audit.CheckpointsStream
	audit.ChainCheckpointSigned
}

// readCheckpoints returns the checkpoints of audit.CheckpointsStream from
// version from on. Any other event type on that stream is an error: only
// the checkpointer writes there.
func readCheckpoints(ctx context.Context, s eventstore.Store, from uint64) ([]loggedCheckpoint, error) {
	var out []loggedCheckpoint
	for {
		page, err := s.ReadStream(ctx, audit.CheckpointsStream, from, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if e.Type != audit.TypeChainCheckpointSigned {
				return nil, fmt.Errorf("%s holds an event of type %q at position %d", audit.CheckpointsStream, e.Type, e.Position)
			}
			var c audit.ChainCheckpointSigned
			if err := json.Unmarshal(e.Data, &c); err != nil {
				return nil, fmt.Errorf("checkpoint event at position %d is malformed: %w", e.Position, err)
			}
			out = append(out, loggedCheckpoint{EventPosition: e.Position, Version: e.Version, ChainCheckpointSigned: c})
			from = e.Version + 1
		}
		if len(page) < 1000 {
			return out, nil
		}
	}
}

// chainCheckpointer signs the log's head at intervals (serve
// --chain-checkpoint-interval) and records it as audit.chain_checkpoint_signed.
// It signs only a chain it has verified: the whole log the first time, then
// the segment since the previous checkpoint. Several nodes may run it: the
// append expects the stream version it read, so a race records one checkpoint.
type chainCheckpointer struct {
	store    eventstore.Store
	codec    *eventstore.Codec
	key      ed25519.PrivateKey
	interval time.Duration
	log      *slog.Logger

	loaded   bool
	version  uint64          // audit.CheckpointsStream's version as last read
	last     uint64          // position of the last checkpoint event (0: none)
	verified eventstore.Head // the chain is verified up to here
}

func newChainCheckpointer(store eventstore.Store, codec *eventstore.Codec, key ed25519.PrivateKey, interval time.Duration, log *slog.Logger) (*chainCheckpointer, error) {
	if interval < 0 {
		return nil, errors.New("--chain-checkpoint-interval must not be negative")
	}
	if interval > 0 && len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("chain checkpoints need the keyring's Ed25519 signing key")
	}
	return &chainCheckpointer{store: store, codec: codec, key: key, interval: interval, log: log}, nil
}

// Run signs a checkpoint now and then every interval until ctx ends; an
// interval of 0 disables it. A broken chain is logged and not signed; a
// store error ends Run (the supervisor restarts it).
func (c *chainCheckpointer) Run(ctx context.Context) error {
	if c.interval <= 0 {
		return nil
	}
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		_, err := c.Checkpoint(ctx)
		var ce *eventstore.ChainError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &ce):
			c.log.Error("chain checkpoint: refusing to sign a broken chain", "position", ce.Position, "reason", ce.Reason)
		case err != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Checkpoint signs the current head unless nothing but checkpoints was
// recorded since the last one. It returns the recorded event's position
// (0 when it signed nothing).
func (c *chainCheckpointer) Checkpoint(ctx context.Context) (uint64, error) {
	cps, err := readCheckpoints(ctx, c.store, c.version+1)
	if err != nil {
		return 0, err
	}
	if len(cps) > 0 {
		l := cps[len(cps)-1]
		c.version, c.last = l.Version, l.EventPosition
	}
	if !c.loaded {
		c.loaded = true
		// resume verification at our own latest checkpoint, if its
		// signature holds; otherwise verify from the start
		pub := c.key.Public().(ed25519.PublicKey)
		for i := len(cps) - 1; i >= 0; i-- {
			if h, err := cps[i].Verify(pub); err == nil {
				if evs, err := c.store.ReadAll(ctx, cps[i].Position, 1); err == nil && len(evs) == 1 && evs[0].Hash == h {
					c.verified = eventstore.Head{Position: cps[i].Position, Hash: h}
				}
				break
			}
		}
	}
	head, err := c.store.Head(ctx)
	if err != nil {
		return 0, err
	}
	if head.Position == 0 || head.Position == c.last {
		return 0, nil // empty log, or nothing new since the last checkpoint
	}
	if err := c.verifySegment(ctx, head); err != nil {
		return 0, err
	}
	ev, err := audit.SignCheckpoint(head.Position, head.Hash, eventstore.Now(), c.key)
	if err != nil {
		return 0, err
	}
	e, err := c.codec.Encode(ctx, ev, eventstore.Metadata{Actor: "system:chain-checkpoints", ActorRole: "system"})
	if err != nil {
		return 0, err
	}
	res, err := c.store.Append(ctx, audit.CheckpointsStream, eventstore.Exact(c.version), e)
	if errors.Is(err, eventstore.ErrConcurrency) {
		return 0, nil // another node signed meanwhile; read it next time
	}
	if err != nil {
		return 0, err
	}
	c.version, c.last = res.NextVersion, res.LastPosition
	c.log.Info("chain checkpoint signed", "position", head.Position, "hash", head.Hash.String(), "event_position", res.LastPosition)
	return res.LastPosition, nil
}

// verifySegment checks the chain from c.verified up to head and moves
// c.verified there. A break is a *eventstore.ChainError.
func (c *chainCheckpointer) verifySegment(ctx context.Context, head eventstore.Head) error {
	prev, next := c.verified.Hash, c.verified.Position+1
	var scratch []byte
	for next <= head.Position {
		page, err := c.store.ReadAll(ctx, next, 4096)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return &eventstore.ChainError{Position: next, Reason: "position missing"}
		}
		for i := range page {
			e := &page[i]
			if e.Position > head.Position {
				break
			}
			if e.Position != next {
				return &eventstore.ChainError{Position: next, Reason: fmt.Sprintf("position %d missing (next stored is %d)", next, e.Position)}
			}
			if e.PrevHash != prev {
				return &eventstore.ChainError{Position: e.Position, Reason: "previous-hash link does not match"}
			}
			var h eventstore.Hash
			h, scratch = eventstore.ComputeHash(prev, e, scratch)
			if h != e.Hash {
				return &eventstore.ChainError{Position: e.Position, Reason: "stored content does not match its hash"}
			}
			prev, next = e.Hash, next+1
		}
	}
	if prev != head.Hash {
		return &eventstore.ChainError{Position: head.Position, Reason: "head hash does not match the chain"}
	}
	c.verified = head
	return nil
}

// envDuration reads a duration flag's default from the environment.
func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := envDefault(name, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a duration such as 1h or 15m (0 disables)", name, v)
	}
	return d, nil
}
