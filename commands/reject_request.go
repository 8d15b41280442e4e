package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy"
)

// RejectRequest closes a request as refused, for a reason from a fixed set.
type RejectRequest struct {
	RequestID uuid.UUID `json:"request_id" validate:"required"`
	Reason    string    `json:"reason" validate:"required,reject_reason"`
}

func (s *Service) rejectRequest(ctx context.Context, c *RejectRequest) (Result, error) {
	now := s.clock()
	reason, err := privacy.ParseRejectReason(c.Reason)
	if err != nil {
		return Result{}, ruleErr("reason", "reject_reason", enumRules["reject_reason"].msg)
	}
	return s.requestCommand(ctx, c.RequestID, func(r *privacy.Request) error { return r.Reject(reason, now) })
}
