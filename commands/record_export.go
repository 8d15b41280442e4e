package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy"
)

// RecordExport records that the machine-readable export answering an access request was
// produced (privacy.export_produced: its id and the SHA-256 of the exact bytes handed out) and
// completes the request. SubjectID, when given, must be the request's subject. Repeating it
// for a completed request is a no-op.
type RecordExport struct {
	RequestID uuid.UUID `json:"request_id" validate:"required"`
	SubjectID uuid.UUID `json:"subject_id,omitzero"`
	ExportID  uuid.UUID `json:"export_id" validate:"required"`
	SHA256    string    `json:"sha256" validate:"required,len=64,hexadecimal,lowercase"`
}

func (s *Service) recordExport(ctx context.Context, c *RecordExport) (Result, error) {
	now := s.clock()
	r, err := s.loadRequest(ctx, c.RequestID)
	if err != nil {
		return Result{}, err
	}
	switch {
	case r.Kind() != privacy.Access:
		return Result{}, ruleErr("request_id", "kind_access", "is not an access request")
	case c.SubjectID != uuid.Nil && r.Subject() != c.SubjectID:
		return Result{}, ruleErr("request_id", "same_subject", "is a request about another account")
	}
	if r.Completed() {
		return Result{Data: requestResult(r)}, nil
	}
	return s.requestCommand(ctx, c.RequestID, func(r *privacy.Request) error {
		if err := r.RecordExport(c.ExportID, c.SHA256, now); err != nil {
			return err
		}
		return r.Complete(now)
	})
}
