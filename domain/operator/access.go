package operator

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// Limits on the stated reason of a read.
const (
	MinReasonLen = 3
	MaxReasonLen = 200
)

// ReadParams describe a staff read of decrypted personal data.
type ReadParams struct {
	ReaderTokenID uuid.UUID
	ReaderRole    Role
	Subject       uuid.UUID
	What          ReadKind
	Reason        string
	RequestID     string
}

// RecordRead validates a staff read and returns its event. Only staff reads are recorded;
// a reason is mandatory so the log can answer "why" (GDPR accountability).
func RecordRead(p ReadParams, now time.Time) (PersonalDataRead, error) {
	if p.ReaderTokenID == uuid.Nil {
		return PersonalDataRead{}, domain.NewRuleError("reader", "required", "is required")
	}
	if !p.ReaderRole.Staff() {
		return PersonalDataRead{}, domain.NewRuleError("reader_role", "staff", "only staff reads are recorded")
	}
	if p.Subject == uuid.Nil {
		return PersonalDataRead{}, domain.NewRuleError("subject_id", "required", "is required")
	}
	if p.What == (ReadKind{}) {
		return PersonalDataRead{}, domain.NewRuleError("what", "required", "is required")
	}
	if strings.TrimSpace(p.Reason) == "" {
		return PersonalDataRead{}, domain.NewRuleError("reason", "required", "is required: say why the personal data is read")
	}
	if err := domain.CheckText("reason", p.Reason, MinReasonLen, MaxReasonLen); err != nil {
		return PersonalDataRead{}, err
	}
	if err := domain.CheckText("request_id", p.RequestID, 0, 128); err != nil {
		return PersonalDataRead{}, err
	}
	return PersonalDataRead{ReaderTokenID: p.ReaderTokenID, ReaderRole: p.ReaderRole.String(), Subject: p.Subject,
		What: p.What.String(), Reason: strings.TrimSpace(p.Reason), RequestID: p.RequestID, ReadAt: now}, nil
}
