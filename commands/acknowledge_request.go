package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy"
)

// AcknowledgeRequest records that the requester was told their request is being handled.
type AcknowledgeRequest struct {
	RequestID uuid.UUID `json:"request_id" validate:"required"`
}

func (s *Service) acknowledgeRequest(ctx context.Context, c *AcknowledgeRequest) (Result, error) {
	now := s.clock()
	return s.requestCommand(ctx, c.RequestID, func(r *privacy.Request) error { return r.Acknowledge(now) })
}
