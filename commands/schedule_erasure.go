package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// ScheduleErasure records that a subject's personal data is to be erased at DueAt, by an
// erasure request with id RequestID that RunDueErasures receives and executes then. Repeating it
// with the same RequestID is a no-op. The ScheduleErasureOnAccountClosed policy sends it.
type ScheduleErasure struct {
	RequestID uuid.UUID `json:"request_id" validate:"required"`
	SubjectID uuid.UUID `json:"subject_id" validate:"required"`
	DueAt     time.Time `json:"due_at" validate:"required"`
	Reason    string    `json:"reason" validate:"required,max=64"` // e.g. "account_closed"
}

// ScheduleErasureResult is the Data of ScheduleErasure.
type ScheduleErasureResult struct {
	RequestID uuid.UUID `json:"request_id"`
	DueAt     time.Time `json:"due_at"`
	Duplicate bool      `json:"duplicate,omitempty"`
}

func (s *Service) scheduleErasure(ctx context.Context, c *ScheduleErasure) (Result, error) {
	now := s.clock()
	a, err := s.loadAccount(ctx, c.SubjectID)
	if err != nil {
		return Result{}, err
	}
	if a.Version() == 0 {
		return Result{}, account.ErrNotRegistered
	}
	due := c.DueAt.UTC().Truncate(time.Microsecond)
	ev, err := s.encodeWithID(ctx, derivedID("erasure-scheduled", c.RequestID.String()), privacy.ErasureScheduled{
		RequestID: c.RequestID, Subject: c.SubjectID, Reason: c.Reason, DueAt: due, ScheduledAt: now})
	if err != nil {
		return Result{}, err
	}
	r, err := s.append(ctx, privacy.ErasureScheduleStream, eventstore.Any, ev)
	if err != nil {
		return Result{}, err
	}
	return Result{Position: r.LastPosition, Data: ScheduleErasureResult{RequestID: c.RequestID, DueAt: due, Duplicate: r.Duplicate}}, nil
}

// DueErasure is one erasure RunDueErasures ran (or tried to).
type DueErasure struct {
	RequestID uuid.UUID
	SubjectID uuid.UUID
	Status    string // completed, deferred
	// CertificateID is the proof of deletion of a completed erasure (uuid.Nil without one).
	CertificateID uuid.UUID
	Err           error // set when this erasure failed (also: not verified); the sweep goes on with the others
}

// RunDueErasures executes the scheduled erasures whose due time has come at now: for each it
// receives the erasure request (channel account_closure) and executes it, through the
// dispatcher. Completed ones are skipped, so running it again (or on several nodes) is harmless.
// It returns what it did; err is set only when the schedule could not be read.
func (s *Service) RunDueErasures(ctx context.Context, now time.Time) ([]DueErasure, error) {
	h, _, err := s.load(ctx, privacy.ErasureScheduleStream)
	if err != nil {
		return nil, err
	}
	ctx = withSystemActor(ctx, "sweep:due-erasures", "")
	var out []DueErasure
	for _, e := range h {
		sch, ok := e.(privacy.ErasureScheduled)
		if !ok || sch.DueAt.After(now) {
			continue
		}
		r, err := s.loadRequest(ctx, sch.RequestID)
		if err == nil && r.Closed() {
			continue
		}
		d := DueErasure{RequestID: sch.RequestID, SubjectID: sch.Subject}
		if err != nil { // not received yet
			_, d.Err = s.Dispatch(ctx, &ReceivePrivacyRequest{RequestID: sch.RequestID, SubjectID: sch.Subject,
				Kind: privacy.Erasure.String(), Channel: privacy.AccountClosure.String()})
		}
		if d.Err == nil {
			var res Result
			res, d.Err = s.Dispatch(ctx, &ExecuteErasure{RequestID: sch.RequestID})
			if d.Err == nil {
				out := res.Data.(ExecuteErasureResult)
				d.Status, d.CertificateID = out.Status, out.CertificateID
			}
		}
		if d.Err != nil {
			d.Err = fmt.Errorf("commands: due erasure %s: %w", sch.RequestID, d.Err)
		}
		out = append(out, d)
	}
	return out, nil
}

// withSystemActor marks what the system does on its own, keeping the correlation id of ctx.
func withSystemActor(ctx context.Context, id, causation string) context.Context {
	a, _ := ActorFrom(ctx)
	a.ID, a.Role = id, "system"
	if causation != "" {
		a.CausationID = causation
	}
	return WithActor(ctx, a)
}
