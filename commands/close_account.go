package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
)

// CloseAccount closes an account for good. It schedules nothing itself: the
// ScheduleErasureOnAccountClosed policy schedules the erasure after the grace period.
type CloseAccount struct {
	AccountID uuid.UUID `json:"account_id" validate:"required"`
	Reason    string    `json:"reason" validate:"required,close_reason"`
}

func (s *Service) closeAccount(ctx context.Context, c *CloseAccount) (Result, error) {
	now := s.clock()
	reason, err := account.ParseCloseReason(c.Reason)
	if err != nil {
		return Result{}, ruleErr("reason", "close_reason", enumRules["close_reason"].msg)
	}
	return s.accountCommand(ctx, c.AccountID, func(a *account.Account) error { return a.Close(reason, now) })
}
