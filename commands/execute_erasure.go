package commands

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
	"github.com/ledgerline/ledgerline/eventstore"
)

// ExecuteErasure carries out an erasure request. While the subject has an active legal hold on
// personal data (profile or usage; a hold on payment or tax records alone keeps those records,
// which carry no personal data, and does not block the erasure) it records privacy.request_deferred and reports status "deferred" (releasing the last hold runs it
// again, by policy). Otherwise it destroys the subject's data key (vault and caches), records
// account.erased and privacy.subject_key_shredded, and completes the request. It is idempotent:
// running it on a completed request changes nothing.
//
// With an ErasureProof (Service.SetErasureProof) it first captures the subject's plaintext
// values in memory, and after the shred verifies the erasure (events undecryptable, read models
// clean, no captured value in any store). Only when every check passes does it record
// privacy.certificate_issued with the signed certificate and complete the request; otherwise it
// records privacy.erasure_verification_failed and returns an *ErasureNotVerifiedError (the
// request stays open; running it again re-verifies).
type ExecuteErasure struct {
	RequestID uuid.UUID `json:"request_id" validate:"required"`
}

// ExecuteErasureResult is the Data of ExecuteErasure.
type ExecuteErasureResult struct {
	PrivacyRequestResult
	KeyID string `json:"key_id,omitempty"` // the destroyed vault key
	// CertificateID names the signed proof of deletion (GET /v1/certificates/{id}).
	CertificateID uuid.UUID `json:"certificate_id,omitzero"`
	// Verification lists the checks run after the shred, all passed.
	Verification []certificate.Check `json:"verification,omitempty"`
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
		return Result{Data: ExecuteErasureResult{PrivacyRequestResult: requestResult(r), KeyID: r.KeyID(), CertificateID: r.CertificateID()}}, nil
	}
	if r.Closed() {
		return Result{}, privacy.ErrRequestClosed
	}
	subject := r.Subject()
	var pos positions

	holds, err := s.blockingHolds(ctx, subject)
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
		if holds, err = s.blockingHolds(ctx, subject); err != nil {
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

	// No hold. With a proof configured, read the subject's plaintext values
	// (kept in memory only) before they become unreadable.
	proof := s.proof.Load()
	var capt *captured
	if proof != nil {
		if v, ok := s.pending.m.Load(c.RequestID); ok {
			capt = v.(*captured)
		} else if !r.Shredded() {
			if capt, err = s.capture(ctx, proof, subject); err != nil {
				return Result{}, err
			}
			s.pending.m.Store(c.RequestID, capt)
		}
	}

	// Destroy the key (idempotent in the vault), then record the facts. The
	// account is marked before the request, so a failure in between is
	// finished by a re-run.
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
	if proof == nil {
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

	// Record the shred, then verify and certify against the stored facts.
	if len(r.Changes()) > 0 {
		res, err := s.save(ctx, privacy.RequestStream(c.RequestID), eventstore.Exact(r.Version()), r.Changes())
		if err != nil {
			return Result{}, err
		}
		pos.add(res)
		if r, err = s.loadRequest(ctx, c.RequestID); err != nil {
			return Result{}, err
		}
	}
	shredPos, err := s.shredPosition(ctx, c.RequestID)
	if err != nil {
		return Result{}, err
	}
	v := s.verify(ctx, proof, subject, shredPos, capt, r.VerificationFailures())
	now = s.clock()
	if len(v.failed) > 0 {
		if err := r.RecordVerificationFailed(v.failed, now); err != nil {
			return Result{}, err
		}
		res, err := s.save(ctx, privacy.RequestStream(c.RequestID), eventstore.Exact(r.Version()), r.Changes())
		if err != nil {
			return Result{}, err
		}
		pos.add(res)
		s.log.Warn("erasure verification failed", "request_id", c.RequestID.String(), "failed_checks", len(v.failed))
		return Result{Position: uint64(pos)}, &ErasureNotVerifiedError{RequestID: c.RequestID, Failed: v.failed}
	}
	cert, err := s.buildCertificate(ctx, proof, r, capt, v, now)
	if err != nil {
		return Result{}, err
	}
	signed, err := certificate.Sign(cert, proof.Keyring.SigningKey())
	if err != nil {
		return Result{}, fmt.Errorf("commands: sign certificate: %w", err)
	}
	if err := r.IssueSignedCertificate(signed.Certificate.ID, signed.Certificate.SubjectPseudonym, signed.Bytes(), signed.Digest(), now); err != nil {
		return Result{}, err
	}
	if err := r.Complete(now); err != nil {
		return Result{}, err
	}
	res, err := s.save(ctx, privacy.RequestStream(c.RequestID), eventstore.Exact(r.Version()), r.Changes())
	if err != nil {
		return Result{}, err
	}
	pos.add(res)
	s.pending.m.Delete(c.RequestID)
	return Result{Position: uint64(pos), Data: ExecuteErasureResult{PrivacyRequestResult: requestResult(r), KeyID: r.KeyID(),
		CertificateID: signed.Certificate.ID, Verification: v.checks}}, nil
}

// shredPosition is the log position of the request's privacy.subject_key_shredded.
func (s *Service) shredPosition(ctx context.Context, requestID uuid.UUID) (uint64, error) {
	evs, err := s.store.ReadStream(ctx, privacy.RequestStream(requestID), 1, 0)
	if err != nil {
		return 0, fmt.Errorf("commands: read request: %w", err)
	}
	for _, ev := range evs {
		if ev.Type == privacy.TypeSubjectKeyShredded {
			return ev.Position, nil
		}
	}
	return 0, privacy.ErrKeyNotShredded
}
