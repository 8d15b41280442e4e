package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy"
)

// ExtendRequest extends a request's deadline once (GDPR by two months, CCPA by 45 days),
// before it passes, with a reason and the time the requester was notified.
type ExtendRequest struct {
	RequestID    uuid.UUID `json:"request_id" validate:"required"`
	Reason       string    `json:"reason" validate:"required,extension_reason"`
	NoticeSentAt time.Time `json:"notice_sent_at" validate:"required"`
}

func (s *Service) extendRequest(ctx context.Context, c *ExtendRequest) (Result, error) {
	now := s.clock()
	reason, err := privacy.ParseExtensionReason(c.Reason)
	if err != nil {
		return Result{}, ruleErr("reason", "extension_reason", enumRules["extension_reason"].msg)
	}
	return s.requestCommand(ctx, c.RequestID, func(r *privacy.Request) error {
		return r.Extend(privacy.ExtendParams{Reason: reason, NoticeSentAt: c.NoticeSentAt.UTC()}, now)
	})
}
