package projections

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/billing"
)

// FraudView is what is known about one email hash. It holds no personal
// data and survives erasure (the hash cannot be reversed without the
// pepper, which never leaves the keyring).
type FraudView struct {
	EmailHash           string      `json:"email_hash"`
	FirstSeen           time.Time   `json:"first_seen"`
	Accounts            []uuid.UUID `json:"accounts"` // in order of first use
	ClaimedBy           *uuid.UUID  `json:"claimed_by,omitempty"`
	NewUserGrants       int64       `json:"new_user_grants"`
	NewUserCreditMicros int64       `json:"new_user_credit_micros"`
}

// FraudQuery answers fraud questions. Safe for concurrent use.
type FraudQuery interface {
	// EmailHash returns what is known of hash, or ErrNotFound.
	EmailHash(ctx context.Context, hash string) (FraudView, error)
}

// FraudTouches lists the hashes a batch may change.
func FraudTouches(batch []Record) []string {
	var out []string
	for i := range batch {
		if h, _, _, ok := fraudEvent(batch[i].Payload); ok {
			out = append(out, h)
		}
	}
	return out
}

func fraudEvent(p any) (hash string, acc uuid.UUID, at time.Time, ok bool) {
	switch e := p.(type) {
	case account.Registered:
		return e.EmailHash, e.AccountID, e.RegisteredAt, e.EmailHash != ""
	case account.EmailChanged:
		return e.EmailHash, e.AccountID, e.ChangedAt, e.EmailHash != ""
	case account.EmailHashClaimed:
		return e.EmailHash, e.AccountID, e.ClaimedAt, e.EmailHash != ""
	case billing.CreditsGranted:
		return e.EmailHash, e.AccountID, e.GrantedAt, e.EmailHash != ""
	}
	return "", uuid.Nil, time.Time{}, false
}

// FoldFraud applies batch to rows (which must hold every touched existing
// hash) and marks changed hashes dirty.
func FoldFraud(rows map[string]*FraudView, batch []Record, dirty map[string]struct{}) {
	for i := range batch {
		h, acc, at, ok := fraudEvent(batch[i].Payload)
		if !ok {
			continue
		}
		at = TS(at)
		r := rows[h]
		if r == nil {
			r = &FraudView{EmailHash: h, FirstSeen: at, Accounts: []uuid.UUID{}}
			rows[h] = r
		}
		if at.Before(r.FirstSeen) {
			r.FirstSeen = at
		}
		if !slices.Contains(r.Accounts, acc) {
			r.Accounts = append(r.Accounts, acc)
		}
		switch e := batch[i].Payload.(type) {
		case account.EmailHashClaimed:
			if r.ClaimedBy == nil {
				id := e.AccountID
				r.ClaimedBy = &id
			}
		case billing.CreditsGranted:
			r.NewUserGrants++
			r.NewUserCreditMicros += e.AmountMicros
		}
		if dirty != nil {
			dirty[h] = struct{}{}
		}
	}
}

// MemFraud is the in-memory fraud read model.
type MemFraud struct {
	mu   sync.RWMutex
	rows map[string]*FraudView
}

var _ FraudQuery = (*MemFraud)(nil)

// NewMemFraud returns an empty in-memory fraud read model.
func NewMemFraud() *MemFraud { return &MemFraud{rows: map[string]*FraudView{}} }

func (m *MemFraud) apply(batch []Record) {
	m.mu.Lock()
	FoldFraud(m.rows, batch, nil)
	m.mu.Unlock()
}

// EmailHash implements FraudQuery.
func (m *MemFraud) EmailHash(_ context.Context, hash string) (FraudView, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r := m.rows[hash]
	if r == nil {
		return FraudView{}, ErrNotFound
	}
	v := *r
	v.Accounts = slices.Clone(r.Accounts)
	return v, nil
}
