package commands

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// ExecuteErasure carries out an erasure request. While the subject has an active legal hold it
// records privacy.request_deferred and reports status "deferred" (releasing the last hold runs it
// again, by policy). Otherwise it destroys the subject's data key (vault and caches), records
// account.erased and privacy.subject_key_shredded, and completes the request. It is idempotent:
// running it on a completed request changes nothing.
type ExecuteErasure struct {
	RequestID uuid.UUID `json:"request_id" validate:"required"`
}

// ExecuteErasureResult is the Data of ExecuteErasure.
type ExecuteErasureResult struct {
	PrivacyRequestResult
	KeyID string `json:"key_id,omitempty"` // the destroyed vault key
}

func (s *Service) executeErasure(ctx context.Context, c *ExecuteErasure) (Result, error) {
	now := s.clock()
	r, err := s.loadRequest(ctx, c.RequestID)
	if err != nil {
		return Result{}, err
	}
	if r.Kind() != privacy.Erasure {
		return Result{}, ruleErr("request_id", "kind_erasure", "is not an erasure request")
	}
	if r.Completed() {
		return Result{Data: ExecuteErasureResult{PrivacyRequestResult: requestResult(r)}}, nil
	}
	if r.Closed() {
		return Result{}, privacy.ErrRequestClosed
	}
	subject := r.Subject()
	var pos positions

	holds, err := s.activeHolds(ctx, subject)
	if err != nil {
		return Result{}, err
	}
	if len(holds) > 0 {
		// List the request as waiting before looking again, so a release racing with this
		// command either is seen now or finds the request and runs it again.
		res, err := s.indexEntry(ctx, subject, derivedID("erasure-waiting", c.RequestID.String()),
			privacy.ErasureWaiting{RequestID: c.RequestID, Subject: subject, HoldIDs: holds, At: now})
		if err != nil {
			return Result{}, err
		}
		pos.add(res)
		if holds, err = s.activeHolds(ctx, subject); err != nil {
			return Result{}, err
		}
	}
	if len(holds) > 0 {
		if missing := slices.DeleteFunc(slices.Clone(holds), func(h uuid.UUID) bool { return slices.Contains(r.DeferredBy(), h) }); len(missing) > 0 {
			if err := r.Defer(holds, now); err != nil {
				return Result{}, err
			}
			res, err := s.save(ctx, privacy.RequestStream(c.RequestID), eventstore.Exact(r.Version()), r.Changes())
			if err != nil {
				return Result{}, err
			}
			pos.add(res)
		}
		out := requestResult(r)
		out.Status, out.HoldIDs = RequestDeferred, holds
		return Result{Position: uint64(pos), Data: ExecuteErasureResult{PrivacyRequestResult: out}}, nil
	}

	// No hold: destroy the key (idempotent in the vault), then record the facts. The account is
	// marked before the request completes, so a failure in between is finished by a re-run.
	shred, err := s.shredder.Shred(ctx, subject.String())
	if err != nil {
		return Result{}, fmt.Errorf("commands: shred subject key: %w", err)
	}
	a, err := s.loadAccount(ctx, subject)
	if err != nil {
		return Result{}, err
	}
	if a.Version() > 0 && !a.Erased() {
		if err := a.Erase(c.RequestID, now); err != nil {
			return Result{}, err
		}
		res, err := s.save(ctx, account.Stream(subject), eventstore.Exact(a.Version()), a.Changes())
		if err != nil {
			return Result{}, err
		}
		pos.add(res)
	}
	keyID := shred.KeyID.String()
	if !r.Shredded() {
		if err := r.RecordKeyShredded(keyID, now); err != nil {
			return Result{}, err
		}
	}
	if err := r.Complete(now); err != nil {
		return Result{}, err
	}
	res, err := s.save(ctx, privacy.RequestStream(c.RequestID), eventstore.Exact(r.Version()), r.Changes())
	if err != nil {
		return Result{}, err
	}
	pos.add(res)
	return Result{Position: uint64(pos), Data: ExecuteErasureResult{PrivacyRequestResult: requestResult(r), KeyID: keyID}}, nil
}
