package operator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
)

// Sentinels.
var (
	ErrTokenNotFound = fmt.Errorf("operator token: %w", domain.ErrNotFound)
	ErrTokenRevoked  = domain.StateError("operator token already revoked")
	ErrTokenExists   = domain.StateError("operator token id already issued")
	ErrRandomness    = errors.New("operator: random source failed")
)

const (
	secretPrefix = "llt_"
	secretBytes  = 32
	// SecretLen is the length of a token secret: "llt_" + unpadded base64url of 32 bytes.
	SecretLen = len(secretPrefix) + 43
	// PrefixLen is the length of the display prefix kept in events.
	PrefixLen = len(secretPrefix) + 8
	// IssuerBootstrap and IssuerCLI name issuers that are not tokens.
	IssuerBootstrap = "bootstrap"
	IssuerCLI       = "cli"
)

// HashSecret is the lower-case hex SHA-256 of a token secret: the only form that is stored.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// PrefixOf returns the display prefix of a secret.
func PrefixOf(secret string) string {
	if len(secret) < PrefixLen {
		return secret
	}
	return secret[:PrefixLen]
}

// WellFormed reports whether s has the shape of a token secret, so junk is rejected before
// hashing and lookup.
func WellFormed(s string) bool {
	if len(s) != SecretLen || !strings.HasPrefix(s, secretPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(secretPrefix):])
	return err == nil
}

func newSecret(rand io.Reader) (string, error) {
	if rand == nil {
		return "", ErrRandomness
	}
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("%w: %w", ErrRandomness, err)
	}
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Token is the state of one token, as read models and the authenticator need it.
type Token struct {
	ID         uuid.UUID
	Role       Role
	AccountID  uuid.UUID
	SecretHash string
	Prefix     string
	IssuedBy   string
	IssuedAt   time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
}

// Active reports whether the token authenticates at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// Tokens is the aggregate of every operator token (stream TokensStream).
type Tokens struct {
	version uint64
	changes []any
	byID    map[uuid.UUID]*Token
}

// RehydrateTokens rebuilds the set from its stream.
func RehydrateTokens(history []any) *Tokens {
	t := &Tokens{byID: map[uuid.UUID]*Token{}}
	for _, e := range history {
		t.Apply(e)
		t.version++
	}
	return t
}

// Apply changes state for one event; unknown events are ignored. Read models use it too.
func (t *Tokens) Apply(e any) {
	switch e := domain.Deref(e).(type) {
	case TokenIssued:
		role, _ := ParseRole(e.Role)
		t.byID[e.TokenID] = &Token{ID: e.TokenID, Role: role, AccountID: e.AccountID, SecretHash: e.SecretHash,
			Prefix: e.Prefix, IssuedBy: e.IssuedBy, IssuedAt: e.IssuedAt, ExpiresAt: e.ExpiresAt}
	case TokenRevoked:
		if tok, ok := t.byID[e.TokenID]; ok && tok.RevokedAt == nil {
			at := e.RevokedAt
			tok.RevokedAt = &at
		}
	}
}

func (t *Tokens) record(e any) {
	t.Apply(e)
	t.changes = append(t.changes, e)
}

// Version is the number of events applied from history: the expected version for the next append.
func (t *Tokens) Version() uint64 { return t.version }

// Changes returns the events recorded since load.
func (t *Tokens) Changes() []any { return t.changes }

// ClearChanges forgets recorded events once they are stored.
func (t *Tokens) ClearChanges() { t.changes = nil }

// Get returns a token by id.
func (t *Tokens) Get(id uuid.UUID) (Token, bool) {
	tok, ok := t.byID[id]
	if !ok {
		return Token{}, false
	}
	return *tok, true
}

// List returns every token, oldest first.
func (t *Tokens) List() []Token {
	out := make([]Token, 0, len(t.byID))
	for _, tok := range t.byID {
		out = append(out, *tok)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].IssuedAt.Equal(out[j].IssuedAt) {
			return out[i].IssuedAt.Before(out[j].IssuedAt)
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out
}

// HasActiveAdmin reports whether some admin token authenticates at now.
func (t *Tokens) HasActiveAdmin(now time.Time) bool {
	for _, tok := range t.byID {
		if tok.Role == Admin && tok.Active(now) {
			return true
		}
	}
	return false
}

// IssueParams are the inputs of Issue. TokenID is optional (drawn from rand when nil).
type IssueParams struct {
	TokenID   uuid.UUID
	Role      Role
	AccountID uuid.UUID // required for customer tokens, refused for every other role
	IssuedBy  string
	ExpiresAt *time.Time
}

// Issue creates a token and returns its secret: the only copy there will ever be.
func (t *Tokens) Issue(p IssueParams, rand io.Reader, now time.Time) (string, Token, error) {
	if p.Role.IsZero() {
		return "", Token{}, domain.NewRuleError("role", "required", "is required")
	}
	if p.Role == Customer && p.AccountID == uuid.Nil {
		return "", Token{}, domain.NewRuleError("account_id", "required", "is required for a customer token")
	}
	if p.Role != Customer && p.AccountID != uuid.Nil {
		return "", Token{}, domain.NewRuleError("account_id", "customer_only", "is allowed only for a customer token")
	}
	if err := domain.CheckText("issued_by", p.IssuedBy, 1, 64); err != nil {
		return "", Token{}, err
	}
	if p.ExpiresAt != nil && !p.ExpiresAt.After(now) {
		return "", Token{}, domain.NewRuleError("expires_at", "in_future", "must be in the future")
	}
	id := p.TokenID
	if id == uuid.Nil {
		if rand == nil {
			return "", Token{}, ErrRandomness
		}
		var err error
		if id, err = uuid.NewRandomFromReader(rand); err != nil {
			return "", Token{}, fmt.Errorf("%w: %w", ErrRandomness, err)
		}
	}
	if _, dup := t.byID[id]; dup {
		return "", Token{}, ErrTokenExists
	}
	secret, err := newSecret(rand)
	if err != nil {
		return "", Token{}, err
	}
	var expires *time.Time
	if p.ExpiresAt != nil {
		e := p.ExpiresAt.UTC()
		expires = &e
	}
	t.record(TokenIssued{TokenID: id, Role: p.Role.String(), AccountID: p.AccountID, SecretHash: HashSecret(secret),
		Prefix: PrefixOf(secret), IssuedBy: strings.TrimSpace(p.IssuedBy), ExpiresAt: expires, IssuedAt: now})
	return secret, *t.byID[id], nil
}

// Revoke stops a token from authenticating.
func (t *Tokens) Revoke(id uuid.UUID, by string, now time.Time) error {
	tok, ok := t.byID[id]
	if !ok {
		return ErrTokenNotFound
	}
	if tok.RevokedAt != nil {
		return ErrTokenRevoked
	}
	if err := domain.CheckText("revoked_by", by, 1, 64); err != nil {
		return err
	}
	t.record(TokenRevoked{TokenID: id, RevokedBy: strings.TrimSpace(by), RevokedAt: now})
	return nil
}
