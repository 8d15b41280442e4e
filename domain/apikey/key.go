package apikey

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// Sentinels.
var (
	ErrRevoked     = domain.StateError("api key revoked")
	ErrExpired     = domain.StateError("api key expired")
	ErrNotExpiring = domain.StateError("api key has not reached its expiry")
	ErrNotIssued   = fmt.Errorf("api key: %w", domain.ErrNotFound)
)

// Limits on inputs.
const (
	MaxNameLen = 64
)

// Stream is the name of a key's event stream.
func Stream(keyID uuid.UUID) string { return "apikey-" + keyID.String() }

// Key is the API key aggregate.
type Key struct {
	id         uuid.UUID
	version    uint64
	changes    []any
	issued     bool
	accountID  uuid.UUID
	prefix     string
	secretHash string
	scopes     []Scope
	expiresAt  *time.Time
	revoked    bool
	expired    bool
}

// IssueParams are the inputs of Issue. KeyID is optional: when nil, one is drawn from the
// caller's random source.
type IssueParams struct {
	KeyID     uuid.UUID
	AccountID uuid.UUID
	Name      string
	Scopes    []string
	ExpiresAt *time.Time
}

// Issue validates p and creates a key. The returned secret is the only copy there will ever be;
// the Issued event holds its hash and prefix only.
func Issue(p IssueParams, rand io.Reader, now time.Time) (*Key, string, error) {
	if p.AccountID == uuid.Nil {
		return nil, "", domain.NewRuleError("account_id", "required", "is required")
	}
	if err := domain.CheckText("name", p.Name, 1, MaxNameLen); err != nil {
		return nil, "", err
	}
	scopes, err := parseScopes(p.Scopes)
	if err != nil {
		return nil, "", err
	}
	var expires *time.Time
	if p.ExpiresAt != nil {
		if !p.ExpiresAt.After(now) {
			return nil, "", domain.NewRuleError("expires_at", "in_future", "must be in the future")
		}
		t := *p.ExpiresAt
		expires = &t
	}
	keyID := p.KeyID
	if keyID == uuid.Nil {
		if rand == nil {
			return nil, "", ErrRandomness
		}
		if keyID, err = uuid.NewRandomFromReader(rand); err != nil {
			return nil, "", fmt.Errorf("%w: %w", ErrRandomness, err)
		}
	}
	secret, err := newSecret(rand)
	if err != nil {
		return nil, "", err
	}
	k := &Key{}
	k.record(Issued{
		KeyID: keyID, AccountID: p.AccountID, Prefix: PrefixOf(secret), SecretHash: HashSecret(secret),
		Scopes: scopes, ExpiresAt: expires, IssuedAt: now,
		Personal: IssuedPersonal{Name: strings.TrimSpace(p.Name)},
	})
	return k, secret, nil
}

func parseScopes(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, domain.NewRuleError("scopes", "required", "at least one scope is required")
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		sc, err := ParseScope(s)
		if err != nil {
			return nil, &domain.RuleError{Field: "scopes", Rule: "known_scope", Message: "contains an unknown scope", Err: err}
		}
		if slices.Contains(out, sc.String()) {
			return nil, domain.NewRuleError("scopes", "unique", "contains a scope twice")
		}
		out = append(out, sc.String())
	}
	return out, nil
}

// Rehydrate rebuilds a key from its stream.
func Rehydrate(id uuid.UUID, history []any) *Key {
	k := &Key{id: id}
	for _, e := range history {
		k.Apply(e)
		k.version++
	}
	return k
}

// Apply changes state for one event; unknown events are ignored.
func (k *Key) Apply(e any) {
	switch e := domain.Deref(e).(type) {
	case Issued:
		k.id, k.accountID, k.issued = e.KeyID, e.AccountID, true
		k.prefix, k.secretHash = e.Prefix, e.SecretHash
		k.scopes = k.scopes[:0]
		for _, s := range e.Scopes {
			if sc, err := ParseScope(s); err == nil {
				k.scopes = append(k.scopes, sc)
			}
		}
		k.expiresAt = e.ExpiresAt
	case Rotated:
		k.prefix, k.secretHash = e.Prefix, e.SecretHash
	case Revoked:
		k.revoked = true
	case Expired:
		k.expired = true
	}
}

func (k *Key) record(e any) {
	k.Apply(e)
	k.changes = append(k.changes, e)
}

// ID returns the key id.
func (k *Key) ID() uuid.UUID { return k.id }

// Version is the number of events applied from history.
func (k *Key) Version() uint64 { return k.version }

// Changes returns the events recorded since load, in order.
func (k *Key) Changes() []any { return k.changes }

// ClearChanges forgets recorded events once they are stored.
func (k *Key) ClearChanges() { k.changes = nil }

// AccountID is the owner of the key.
func (k *Key) AccountID() uuid.UUID { return k.accountID }

// Prefix is the display prefix of the current secret.
func (k *Key) Prefix() string { return k.prefix }

// SecretHash is the SHA-256 of the current secret.
func (k *Key) SecretHash() string { return k.secretHash }

// ExpiresAt is the expiry time, or nil for a key that does not expire.
func (k *Key) ExpiresAt() *time.Time { return k.expiresAt }

// HasScope reports whether the key carries s.
func (k *Key) HasScope(s Scope) bool { return slices.Contains(k.scopes, s) }

// Usable is the gateway's rule: nil when the key may be used at now.
func (k *Key) Usable(now time.Time) error {
	switch {
	case !k.issued:
		return ErrNotIssued
	case k.revoked:
		return ErrRevoked
	case k.expired || (k.expiresAt != nil && !now.Before(*k.expiresAt)):
		return ErrExpired
	}
	return nil
}

// Rotate replaces the secret and returns the new one; the old hash stops verifying at once.
// A revoked or expired key cannot be rotated.
func (k *Key) Rotate(rand io.Reader, now time.Time) (string, error) {
	if err := k.Usable(now); err != nil {
		return "", err
	}
	secret, err := newSecret(rand)
	if err != nil {
		return "", err
	}
	k.record(Rotated{KeyID: k.id, AccountID: k.accountID, Prefix: PrefixOf(secret),
		SecretHash: HashSecret(secret), RetiredSecretHash: k.secretHash, RotatedAt: now})
	return secret, nil
}

// Revoke disables the key for good. Revoking an expired key is allowed (it tidies up);
// revoking twice is refused.
func (k *Key) Revoke(reason RevokeReason, now time.Time) error {
	if !k.issued {
		return ErrNotIssued
	}
	if reason == (RevokeReason{}) {
		return domain.NewRuleError("reason", "required", "is required")
	}
	if k.revoked {
		return ErrRevoked
	}
	k.record(Revoked{KeyID: k.id, AccountID: k.accountID, Reason: reason.String(), RevokedAt: now})
	return nil
}

// Expire records that the key passed its expiry time.
func (k *Key) Expire(now time.Time) error {
	switch {
	case !k.issued:
		return ErrNotIssued
	case k.revoked:
		return ErrRevoked
	case k.expired:
		return ErrExpired
	case k.expiresAt == nil || now.Before(*k.expiresAt):
		return ErrNotExpiring
	}
	k.record(Expired{KeyID: k.id, AccountID: k.accountID, ExpiredAt: now})
	return nil
}
