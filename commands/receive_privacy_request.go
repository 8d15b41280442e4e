package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// ReceivePrivacyRequest records a data-subject request (access, rectification, erasure) about
// an account. Its deadlines follow the law: GDPR one month, CCPA 45 days (acknowledgement within
// 10 business days). Law defaults to the one of the account's jurisdiction. RequestID is
// optional; giving one makes a retried submission a no-op.
type ReceivePrivacyRequest struct {
	RequestID uuid.UUID `json:"request_id,omitzero"`
	SubjectID uuid.UUID `json:"subject_id" validate:"required"`
	Kind      string    `json:"kind" validate:"required,request_kind"`
	Channel   string    `json:"channel" validate:"required,request_channel"`
	Law       string    `json:"law,omitempty" validate:"omitempty,law"`
	Details   string    `json:"details,omitempty" validate:"max=5000"` // sealed: may say anything about the person
}

func (s *Service) receivePrivacyRequest(ctx context.Context, c *ReceivePrivacyRequest) (Result, error) {
	now := s.clock()
	kind, err := privacy.ParseKind(c.Kind)
	if err != nil {
		return Result{}, ruleErr("kind", "request_kind", enumRules["request_kind"].msg)
	}
	ch, err := privacy.ParseChannel(c.Channel)
	if err != nil {
		return Result{}, ruleErr("channel", "request_channel", enumRules["request_channel"].msg)
	}
	a, err := s.loadAccount(ctx, c.SubjectID)
	if err != nil {
		return Result{}, err
	}
	if a.Version() == 0 {
		return Result{}, account.ErrNotRegistered
	}
	law := privacy.LawFor(a.Jurisdiction())
	if c.Law != "" {
		if law, err = privacy.ParseLaw(c.Law); err != nil {
			return Result{}, ruleErr("law", "law", enumRules["law"].msg)
		}
	}
	id := c.RequestID
	if id == uuid.Nil {
		if id, err = s.newID(); err != nil {
			return Result{}, err
		}
	} else if existing, err := s.loadRequest(ctx, id); err == nil {
		if existing.Subject() != c.SubjectID || existing.Kind() != kind {
			return Result{}, ruleErr("request_id", "unique", "is already used by another request")
		}
		return Result{Data: requestResult(existing)}, nil
	}
	r, err := privacy.Receive(privacy.ReceiveParams{RequestID: id, Subject: c.SubjectID, Kind: kind, Channel: ch,
		Law: law, Details: c.Details}, now)
	if err != nil {
		return Result{}, err
	}
	res, err := s.save(ctx, privacy.RequestStream(id), eventstore.NoStream, r.Changes())
	if err != nil {
		return Result{}, err
	}
	return Result{Position: res.LastPosition, Data: requestResult(r)}, nil
}
