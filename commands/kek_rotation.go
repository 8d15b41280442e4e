package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ledgerline/ledgerline/eventstore"
)

// DefaultKEKRotationInterval is how often the KEK is rotated (and the old
// epoch destroyed) when no interval is configured.
const DefaultKEKRotationInterval = 24 * time.Hour

// KEKRotation rotates the keyring's key-encryption key on a fixed schedule
// with eventstore.RotateKEK: live data keys are re-wrapped under a new epoch
// and older epochs are destroyed, so residual copies of shredded keys (dead
// tuples, WAL, backups) become unreadable. Next is the time certificates
// state for that. Safe for concurrent use.
type KEKRotation struct {
	keyring  eventstore.Keyring
	vault    eventstore.Vault
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// NewKEKRotation returns the schedule; interval 0 means DefaultKEKRotationInterval.
func NewKEKRotation(kr eventstore.Keyring, v eventstore.Vault, interval time.Duration, log *slog.Logger) (*KEKRotation, error) {
	switch {
	case kr == nil || v == nil:
		return nil, errors.New("commands: KEKRotation needs a keyring and a vault")
	case interval < 0:
		return nil, errors.New("commands: KEK rotation interval must not be negative")
	case interval == 0:
		interval = DefaultKEKRotationInterval
	}
	if log == nil {
		log = slog.Default()
	}
	return &KEKRotation{keyring: kr, vault: v, interval: interval, now: time.Now, log: log}, nil
}

// Interval is the time between rotations.
func (k *KEKRotation) Interval() time.Duration { return k.interval }

// Next returns when the current epoch is due to be retired: its creation
// plus the interval, or now when that has passed (Run rotates at once).
func (k *KEKRotation) Next(now time.Time) time.Time {
	next := now.Add(k.interval)
	if cur, _, err := k.keyring.Current(); err == nil {
		if epochs, err := k.keyring.Epochs(); err == nil {
			for _, e := range epochs {
				if e.Epoch == cur && !e.CreatedAt.IsZero() {
					next = e.CreatedAt.Add(k.interval)
				}
			}
		}
	}
	if next.Before(now) {
		return now
	}
	return next
}

// KEKRetirementSlack is how long after its scheduled start a rotation is
// promised to have retired the old epoch (re-wrapping every live key takes time).
const KEKRetirementSlack = time.Minute

// RetiredBy is the time certificates promise for the retirement of the
// current epoch: Next rounded up to the second, plus KEKRetirementSlack.
// Use it as ErasureProof.NextKEKRotation.
func (k *KEKRotation) RetiredBy(now time.Time) time.Time {
	next := k.Next(now)
	if r := next.Truncate(time.Second); r.Before(next) {
		next = r.Add(time.Second)
	}
	return next.Add(KEKRetirementSlack)
}

// RotateNow rotates at once.
func (k *KEKRotation) RotateNow(ctx context.Context) (eventstore.RotationResult, error) {
	return eventstore.RotateKEK(ctx, k.keyring, k.vault)
}

// Run rotates whenever Next falls due until ctx ends. A failed rotation is
// logged and retried after a minute (RotateKEK loses no key when it fails).
func (k *KEKRotation) Run(ctx context.Context) error {
	for {
		wait := time.Until(k.Next(k.now()))
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		res, err := k.RotateNow(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			k.log.Warn("KEK rotation failed; retrying in a minute", "err", err.Error())
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Minute):
			}
			continue
		}
		k.log.Info("KEK rotated", "old_epoch", res.OldEpoch, "new_epoch", res.NewEpoch, "rewrapped", res.Rewrapped,
			"retired", fmt.Sprint(res.Retired))
	}
}
