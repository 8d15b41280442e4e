package commands

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// PrivacyRequestResult is the Data of the privacy request commands.
type PrivacyRequestResult struct {
	RequestID uuid.UUID   `json:"request_id"`
	SubjectID uuid.UUID   `json:"subject_id"`
	Kind      string      `json:"kind"`
	Law       string      `json:"law"`
	DueAt     time.Time   `json:"due_at"`
	Status    string      `json:"status"`             // open, deferred, completed, rejected
	HoldIDs   []uuid.UUID `json:"hold_ids,omitempty"` // for a deferred erasure: the holds it waits for
}

// Statuses of a privacy request as commands report them.
const (
	RequestOpen      = "open"
	RequestDeferred  = "deferred"
	RequestCompleted = "completed"
	RequestRejected  = "rejected"
)

func (s *Service) loadRequest(ctx context.Context, id uuid.UUID) (*privacy.Request, error) {
	h, _, err := s.load(ctx, privacy.RequestStream(id))
	if err != nil {
		return nil, err
	}
	r := privacy.RehydrateRequest(id, h)
	if r.Version() == 0 {
		return nil, privacy.ErrUnknownRequest
	}
	return r, nil
}

func requestResult(r *privacy.Request) PrivacyRequestResult {
	st := RequestOpen
	switch {
	case r.Completed():
		st = RequestCompleted
	case r.Closed():
		st = RequestRejected
	case len(r.DeferredBy()) > 0:
		st = RequestDeferred
	}
	return PrivacyRequestResult{RequestID: r.ID(), SubjectID: r.Subject(), Kind: r.Kind().String(), Law: r.Law().String(),
		DueAt: r.DueAt(), Status: st, HoldIDs: r.DeferredBy()}
}

// requestCommand loads a request, runs decide and stores what it recorded.
func (s *Service) requestCommand(ctx context.Context, id uuid.UUID, decide func(*privacy.Request) error) (Result, error) {
	r, err := s.loadRequest(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if err := decide(r); err != nil {
		return Result{}, err
	}
	a, err := s.save(ctx, privacy.RequestStream(id), eventstore.Exact(r.Version()), r.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{Position: a.LastPosition, Data: requestResult(r)}, nil
}

// subjectIndex is what a subject's holds index stream lists.
type subjectIndex struct {
	holds   []uuid.UUID // every hold ever placed
	waiting []uuid.UUID // erasure requests deferred by holds
}

func (s *Service) loadSubjectIndex(ctx context.Context, subject uuid.UUID) (subjectIndex, error) {
	h, _, err := s.load(ctx, privacy.SubjectHoldsStream(subject))
	if err != nil {
		return subjectIndex{}, err
	}
	var ix subjectIndex
	for _, e := range h {
		switch e := e.(type) {
		case privacy.HoldIndexed:
			if !slices.Contains(ix.holds, e.HoldID) {
				ix.holds = append(ix.holds, e.HoldID)
			}
		case privacy.ErasureWaiting:
			if !slices.Contains(ix.waiting, e.RequestID) {
				ix.waiting = append(ix.waiting, e.RequestID)
			}
		}
	}
	return ix, nil
}

// blockingHolds returns the subject's active holds that keep personal data
// (see privacy.Hold.CoversPersonalData): only these defer an erasure, so a
// hold defers only what it holds.
func (s *Service) blockingHolds(ctx context.Context, subject uuid.UUID) ([]uuid.UUID, error) {
	return s.holdsWhere(ctx, subject, (*privacy.Hold).CoversPersonalData)
}

// holdsWhere returns the subject's holds that keep says to. A hold listed in
// the index whose stream is empty (its placement failed after indexing) is
// not active.
func (s *Service) holdsWhere(ctx context.Context, subject uuid.UUID, keep func(*privacy.Hold) bool) ([]uuid.UUID, error) {
	ix, err := s.loadSubjectIndex(ctx, subject)
	if err != nil {
		return nil, err
	}
	var active []uuid.UUID
	for _, id := range ix.holds {
		h, err := s.loadHold(ctx, id)
		if err != nil {
			return nil, err
		}
		if keep(h) {
			active = append(active, id)
		}
	}
	return active, nil
}

func (s *Service) loadHold(ctx context.Context, id uuid.UUID) (*privacy.Hold, error) {
	h, _, err := s.load(ctx, privacy.HoldStream(id))
	if err != nil {
		return nil, err
	}
	return privacy.RehydrateHold(id, h), nil
}

// indexEntry appends an entry to a subject's index with an id derived from what it lists, so
// repeating it is a no-op.
func (s *Service) indexEntry(ctx context.Context, subject, id uuid.UUID, payload any) (eventstore.AppendResult, error) {
	ev, err := s.encodeWithID(ctx, id, payload)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	return s.append(ctx, privacy.SubjectHoldsStream(subject), eventstore.Any, ev)
}
