package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
)

// SuspendAccount stops an account from using the service until it is reinstated.
type SuspendAccount struct {
	AccountID uuid.UUID `json:"account_id" validate:"required"`
	Reason    string    `json:"reason" validate:"required,suspend_reason"`
}

func (s *Service) suspendAccount(ctx context.Context, c *SuspendAccount) (Result, error) {
	now := s.clock()
	reason, err := account.ParseSuspendReason(c.Reason)
	if err != nil {
		return Result{}, ruleErr("reason", "suspend_reason", enumRules["suspend_reason"].msg)
	}
	return s.accountCommand(ctx, c.AccountID, func(a *account.Account) error { return a.Suspend(reason, now) })
}
