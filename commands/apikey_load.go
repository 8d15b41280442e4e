package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/eventstore"
)

// loadKey rebuilds a key; owner, when not uuid.Nil, must own it (else it is "not found", so
// nobody learns that someone else's key id exists).
func (s *Service) loadKey(ctx context.Context, keyID, owner uuid.UUID) (*apikey.Key, error) {
	h, _, err := s.load(ctx, apikey.Stream(keyID))
	if err != nil {
		return nil, err
	}
	k := apikey.Rehydrate(keyID, h)
	if k.Version() == 0 || (owner != uuid.Nil && k.AccountID() != owner) {
		return nil, apikey.ErrNotIssued
	}
	s.keyAccounts.Store(keyID, k.AccountID())
	return k, nil
}

// keyAccount returns the account owning keyID: from the cache (a key never changes owner) or
// the key's stream.
func (s *Service) keyAccount(ctx context.Context, keyID uuid.UUID) (uuid.UUID, error) {
	if v, ok := s.keyAccounts.Load(keyID); ok {
		return v.(uuid.UUID), nil
	}
	k, err := s.loadKey(ctx, keyID, uuid.Nil)
	if err != nil {
		return uuid.Nil, err
	}
	return k.AccountID(), nil
}

// requireActiveAccount refuses keys for unknown, closed, erased or suspended accounts.
func (s *Service) requireActiveAccount(ctx context.Context, id uuid.UUID) error {
	a, err := s.loadAccount(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case a.Version() == 0:
		return account.ErrNotRegistered
	case a.Erased():
		return account.ErrErased
	case a.Closed():
		return account.ErrClosed
	case a.Suspended():
		return account.ErrSuspended
	}
	return nil
}

// APIKeyResult is the Data of key commands. Secret is set only by IssueAPIKey and RotateAPIKey:
// it is the only copy there will ever be, so show it once and never log it.
type APIKeyResult struct {
	KeyID     uuid.UUID  `json:"key_id"`
	AccountID uuid.UUID  `json:"account_id"`
	Prefix    string     `json:"prefix"`
	Secret    string     `json:"secret,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// IssueAPIKeyResult is the Data of IssueAPIKey.
type IssueAPIKeyResult = APIKeyResult

func (s *Service) saveKey(ctx context.Context, k *apikey.Key) (eventstore.AppendResult, error) {
	return s.save(ctx, apikey.Stream(k.ID()), eventstore.Exact(k.Version()), k.Changes())
}
