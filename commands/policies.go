package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Policy reacts to stored events by running commands or callbacks. Implementations must be
// idempotent: an event delivered twice (buses deliver at least once) changes nothing the second
// time. They hold ids derived from the triggering event or its business key (UUIDv5), so the
// repeat is a no-op at the store.
type Policy interface {
	// Name is stable: it names the bus handler (and, on brokers, its consumer group).
	Name() string
	// Events lists zero values of the domain events the policy handles.
	Events() []any
	// Handle reacts to one event; Payload is the public part (policies never see personal data).
	Handle(ctx context.Context, ev eventstore.Decoded) error
}

// DefaultDisputeHoldReview is how long after placement a dispute hold is due for review.
const DefaultDisputeHoldReview = 180 * 24 * time.Hour

// DefaultErasureGrace is the time between account closure and erasure of personal data.
const DefaultErasureGrace = 30 * 24 * time.Hour

// policyCtx runs a policy's commands as the system, caused by ev and correlated with it.
func policyCtx(ctx context.Context, name string, ev eventstore.Event) context.Context {
	a, _ := ActorFrom(ctx)
	a.ID, a.Role, a.CausationID = "policy:"+name, "system", ev.ID.String()
	if ev.Meta.CorrelationID != "" {
		a.CorrelationID = ev.Meta.CorrelationID
	}
	if a.CorrelationID == "" {
		a.CorrelationID = ev.ID.String()
	}
	return WithActor(ctx, a)
}

// DisputeHoldID is the id of the legal hold a dispute places: derived from the dispute's
// identity, so opening and resolving it agree without a lookup.
func DisputeHoldID(accountID uuid.UUID, processor, disputeID string) uuid.UUID {
	return derivedID("dispute-hold", accountID.String(), processor, disputeID)
}

// PlaceHoldOnDisputeOpened places a legal hold on the account's payment records when a dispute
// opens, which defers any erasure of the account until the dispute is resolved.
type PlaceHoldOnDisputeOpened struct {
	svc    *Service
	review time.Duration
}

// NewPlaceHoldOnDisputeOpened returns the policy; review is the hold's review period
// (DefaultDisputeHoldReview when 0).
func NewPlaceHoldOnDisputeOpened(svc *Service, review time.Duration) (*PlaceHoldOnDisputeOpened, error) {
	if svc == nil {
		return nil, errors.New("commands: PlaceHoldOnDisputeOpened needs a Service")
	}
	if review <= 0 {
		review = DefaultDisputeHoldReview
	}
	return &PlaceHoldOnDisputeOpened{svc: svc, review: review}, nil
}

func (p *PlaceHoldOnDisputeOpened) Name() string  { return "PlaceHoldOnDisputeOpened" }
func (p *PlaceHoldOnDisputeOpened) Events() []any { return []any{billing.DisputeOpened{}} }

func (p *PlaceHoldOnDisputeOpened) Handle(ctx context.Context, ev eventstore.Decoded) error {
	e, ok := domain.Deref(ev.Payload).(billing.DisputeOpened)
	if !ok {
		return nil
	}
	_, err := p.svc.Dispatch(policyCtx(ctx, p.Name(), ev.Event), &PlaceLegalHold{
		HoldID: DisputeHoldID(e.AccountID, e.Processor, e.DisputeID), SubjectID: e.AccountID,
		// A dispute needs the payment records and who the customer is
		// (the evidence names them), so it holds the profile too.
		Categories: []string{privacy.Payments.String(), privacy.Profile.String()}, Basis: privacy.Dispute.String(), Reference: e.DisputeID,
		ReviewAt: p.svc.clock().Add(p.review),
	})
	return err
}

// ReleaseHoldOnDisputeResolved releases the dispute's legal hold when the dispute is resolved.
type ReleaseHoldOnDisputeResolved struct{ svc *Service }

// NewReleaseHoldOnDisputeResolved returns the policy.
func NewReleaseHoldOnDisputeResolved(svc *Service) (*ReleaseHoldOnDisputeResolved, error) {
	if svc == nil {
		return nil, errors.New("commands: ReleaseHoldOnDisputeResolved needs a Service")
	}
	return &ReleaseHoldOnDisputeResolved{svc: svc}, nil
}

func (p *ReleaseHoldOnDisputeResolved) Name() string  { return "ReleaseHoldOnDisputeResolved" }
func (p *ReleaseHoldOnDisputeResolved) Events() []any { return []any{billing.DisputeResolved{}} }

func (p *ReleaseHoldOnDisputeResolved) Handle(ctx context.Context, ev eventstore.Decoded) error {
	e, ok := domain.Deref(ev.Payload).(billing.DisputeResolved)
	if !ok {
		return nil
	}
	_, err := p.svc.Dispatch(policyCtx(ctx, p.Name(), ev.Event), &ReleaseLegalHold{HoldID: DisputeHoldID(e.AccountID, e.Processor, e.DisputeID)})
	switch {
	case errors.Is(err, privacy.ErrHoldReleased), errors.Is(err, privacy.ErrUnknownHold):
		return nil // released before (a repeat), or never placed
	}
	return err
}

// EraseOnHoldReleased runs the erasures a subject's holds deferred once a hold is released;
// ExecuteErasure defers again if other holds remain active.
type EraseOnHoldReleased struct{ svc *Service }

// NewEraseOnHoldReleased returns the policy.
func NewEraseOnHoldReleased(svc *Service) (*EraseOnHoldReleased, error) {
	if svc == nil {
		return nil, errors.New("commands: EraseOnHoldReleased needs a Service")
	}
	return &EraseOnHoldReleased{svc: svc}, nil
}

func (p *EraseOnHoldReleased) Name() string  { return "EraseOnHoldReleased" }
func (p *EraseOnHoldReleased) Events() []any { return []any{privacy.HoldReleased{}} }

func (p *EraseOnHoldReleased) Handle(ctx context.Context, ev eventstore.Decoded) error {
	e, ok := domain.Deref(ev.Payload).(privacy.HoldReleased)
	if !ok {
		return nil
	}
	ix, err := p.svc.loadSubjectIndex(ctx, e.Subject)
	if err != nil {
		return err
	}
	ctx = policyCtx(ctx, p.Name(), ev.Event)
	var errs []error
	for _, id := range ix.waiting {
		r, err := p.svc.loadRequest(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Closed() {
			continue
		}
		if _, err := p.svc.Dispatch(ctx, &ExecuteErasure{RequestID: id}); err != nil {
			errs = append(errs, fmt.Errorf("erasure %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// ScheduleErasureOnAccountClosed schedules the erasure of a closed account's personal data
// after a grace period; Service.RunDueErasures executes it when due.
type ScheduleErasureOnAccountClosed struct {
	svc   *Service
	grace time.Duration
}

// NewScheduleErasureOnAccountClosed returns the policy; grace defaults to DefaultErasureGrace
// when 0 (a negative grace is refused).
func NewScheduleErasureOnAccountClosed(svc *Service, grace time.Duration) (*ScheduleErasureOnAccountClosed, error) {
	if svc == nil {
		return nil, errors.New("commands: ScheduleErasureOnAccountClosed needs a Service")
	}
	if grace < 0 {
		return nil, errors.New("commands: erasure grace period must not be negative")
	}
	if grace == 0 {
		grace = DefaultErasureGrace
	}
	return &ScheduleErasureOnAccountClosed{svc: svc, grace: grace}, nil
}

func (p *ScheduleErasureOnAccountClosed) Name() string  { return "ScheduleErasureOnAccountClosed" }
func (p *ScheduleErasureOnAccountClosed) Events() []any { return []any{account.Closed{}} }

// ClosureErasureRequestID is the id of the erasure request scheduled for a closure event.
func ClosureErasureRequestID(closedEventID uuid.UUID) uuid.UUID {
	return derivedID("closure-erasure", closedEventID.String())
}

func (p *ScheduleErasureOnAccountClosed) Handle(ctx context.Context, ev eventstore.Decoded) error {
	e, ok := domain.Deref(ev.Payload).(account.Closed)
	if !ok {
		return nil
	}
	_, err := p.svc.Dispatch(policyCtx(ctx, p.Name(), ev.Event), &ScheduleErasure{
		RequestID: ClosureErasureRequestID(ev.Event.ID), SubjectID: e.AccountID,
		DueAt: e.ClosedAt.Add(p.grace), Reason: "account_closed",
	})
	return err
}

// InvalidateKeyCacheOnKeyRevoked tells key caches (the gateway's verification cache, on every
// node) to drop a key whose secret stopped verifying: revoked, rotated or expired.
type InvalidateKeyCacheOnKeyRevoked struct {
	invalidate func(ctx context.Context, keyID uuid.UUID) error
}

// NewInvalidateKeyCacheOnKeyRevoked returns the policy calling invalidate, which must be
// idempotent.
func NewInvalidateKeyCacheOnKeyRevoked(invalidate func(ctx context.Context, keyID uuid.UUID) error) (*InvalidateKeyCacheOnKeyRevoked, error) {
	if invalidate == nil {
		return nil, errors.New("commands: InvalidateKeyCacheOnKeyRevoked needs a callback")
	}
	return &InvalidateKeyCacheOnKeyRevoked{invalidate: invalidate}, nil
}

func (p *InvalidateKeyCacheOnKeyRevoked) Name() string { return "InvalidateKeyCacheOnKeyRevoked" }
func (p *InvalidateKeyCacheOnKeyRevoked) Events() []any {
	return []any{apikey.Revoked{}, apikey.Rotated{}, apikey.Expired{}}
}

func (p *InvalidateKeyCacheOnKeyRevoked) Handle(ctx context.Context, ev eventstore.Decoded) error {
	switch e := domain.Deref(ev.Payload).(type) {
	case apikey.Revoked:
		return p.invalidate(ctx, e.KeyID)
	case apikey.Rotated:
		return p.invalidate(ctx, e.KeyID)
	case apikey.Expired:
		return p.invalidate(ctx, e.KeyID)
	}
	return nil
}

// ForgetSubjectKeyOnKeyShredded purges a shredded subject's key from this process's caches
// (VaultSealer.Forget), so erasure reaches every node.
type ForgetSubjectKeyOnKeyShredded struct {
	forget func(subject string)
}

// NewForgetSubjectKeyOnKeyShredded returns the policy calling forget (e.g. sealer.Forget).
func NewForgetSubjectKeyOnKeyShredded(forget func(subject string)) (*ForgetSubjectKeyOnKeyShredded, error) {
	if forget == nil {
		return nil, errors.New("commands: ForgetSubjectKeyOnKeyShredded needs a callback")
	}
	return &ForgetSubjectKeyOnKeyShredded{forget: forget}, nil
}

func (p *ForgetSubjectKeyOnKeyShredded) Name() string  { return "ForgetSubjectKeyOnKeyShredded" }
func (p *ForgetSubjectKeyOnKeyShredded) Events() []any { return []any{privacy.SubjectKeyShredded{}} }

func (p *ForgetSubjectKeyOnKeyShredded) Handle(ctx context.Context, ev eventstore.Decoded) error {
	if e, ok := domain.Deref(ev.Payload).(privacy.SubjectKeyShredded); ok {
		p.forget(e.Subject.String())
	}
	return nil
}
