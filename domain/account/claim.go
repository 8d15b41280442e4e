package account

import (
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// ErrEmailHashClaimed: the normalised email was claimed before, so no new-user credits.
var ErrEmailHashClaimed = domain.StateError("email hash already claimed")

// EmailHashStream is the stream holding the single claim of an email hash. Commands append to it
// with expected version "no stream", so a second claim fails at the store even under concurrency.
func EmailHashStream(hash string) string { return "emailhash-" + hash }

// EmailHashClaim is the tiny aggregate behind EmailHashStream.
type EmailHashClaim struct {
	hash      string
	version   uint64
	changes   []any
	accountID uuid.UUID
	claimed   bool
}

// RehydrateEmailHashClaim rebuilds a claim from its stream (empty history: unclaimed).
func RehydrateEmailHashClaim(hash string, history []any) *EmailHashClaim {
	c := &EmailHashClaim{hash: hash}
	for _, e := range history {
		c.Apply(e)
		c.version++
	}
	return c
}

// ClaimEmailHash returns a new claim of hash by accountID.
func ClaimEmailHash(hash string, accountID uuid.UUID, now time.Time) (*EmailHashClaim, error) {
	c := RehydrateEmailHashClaim(hash, nil)
	if err := c.Claim(accountID, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Claim records the first claim of the hash; a repeat is refused with ErrEmailHashClaimed.
func (c *EmailHashClaim) Claim(accountID uuid.UUID, now time.Time) error {
	if !domain.IsSHA256Hex(c.hash) {
		return domain.NewRuleError("email_hash", "sha256_hex", "must be a lower-case hex HMAC-SHA-256")
	}
	if accountID == uuid.Nil {
		return domain.NewRuleError("account_id", "required", "is required")
	}
	if c.claimed {
		return ErrEmailHashClaimed
	}
	e := EmailHashClaimed{EmailHash: c.hash, AccountID: accountID, ClaimedAt: now}
	c.Apply(e)
	c.changes = append(c.changes, e)
	return nil
}

// Apply changes state for one event; unknown events are ignored.
func (c *EmailHashClaim) Apply(e any) {
	if e, ok := domain.Deref(e).(EmailHashClaimed); ok && !c.claimed {
		c.claimed, c.accountID = true, e.AccountID
		if c.hash == "" {
			c.hash = e.EmailHash
		}
	}
}

// Hash returns the claimed email hash (the aggregate's id).
func (c *EmailHashClaim) Hash() string { return c.hash }

// Claimed reports whether some account already claimed the hash.
func (c *EmailHashClaim) Claimed() bool { return c.claimed }

// AccountID is the first claimant, or uuid.Nil.
func (c *EmailHashClaim) AccountID() uuid.UUID { return c.accountID }

// Version is the number of events applied from history.
func (c *EmailHashClaim) Version() uint64 { return c.version }

// Changes returns the events recorded since load.
func (c *EmailHashClaim) Changes() []any { return c.changes }

// ClearChanges forgets recorded events once they are stored.
func (c *EmailHashClaim) ClearChanges() { c.changes = nil }
