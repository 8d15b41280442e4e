package projections

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Key statuses.
const (
	KeyActive  = "active"
	KeyRevoked = "revoked"
	KeyExpired = "expired"
)

// KeyAuth is what the gateway needs to accept a request: no personal data,
// nothing to decrypt.
type KeyAuth struct {
	KeyID     uuid.UUID
	AccountID uuid.UUID
	Prefix    string
	Scopes    []string // shared; callers must not modify it
	ExpiresAt *time.Time
}

// KeyView describes a key to its owner. Name is opened at query time and
// only by KeysByAccount.
type KeyView struct {
	KeyID        uuid.UUID  `json:"key_id"`
	AccountID    uuid.UUID  `json:"account_id"`
	Prefix       string     `json:"prefix"`
	Scopes       []string   `json:"scopes"`
	Status       string     `json:"status"`
	IssuedAt     time.Time  `json:"issued_at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	RotatedAt    *time.Time `json:"rotated_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
	ExpiredAt    *time.Time `json:"expired_at,omitempty"`
	Name         string     `json:"name,omitempty"`
	NameErased   bool       `json:"name_erased,omitempty"`
}

// KeysQuery answers questions about API keys. Implementations are safe for
// concurrent use.
type KeysQuery interface {
	// VerifyBySecretHash returns the key whose current secret hashes to
	// secretHash when it may be used now: not revoked, expired or rotated
	// away, and its account active. ok is false otherwise.
	VerifyBySecretHash(ctx context.Context, secretHash string) (auth KeyAuth, ok bool, err error)
	// Key returns a key without its name, or ErrNotFound.
	Key(ctx context.Context, keyID uuid.UUID) (KeyView, error)
	// KeysByAccount lists an account's keys, issue order, names opened.
	KeysByAccount(ctx context.Context, accountID uuid.UUID) ([]KeyView, error)
	// OnInvalidate registers fn, called with a key id after a batch that
	// revoked, rotated or expired the key or made its account unusable
	// (suspension, closure, erasure, shred): drop cached verifications.
	OnInvalidate(fn func(keyID uuid.UUID))
}

// KeyRow is the stored state of one key.
type KeyRow struct {
	KeyID        uuid.UUID
	AccountID    uuid.UUID
	Prefix       string
	SecretHash   string // current secret's hash; "" once revoked or expired
	Scopes       []string
	Status       string
	IssuedAt     time.Time
	ExpiresAt    *time.Time
	RotatedAt    *time.Time
	RevokedAt    *time.Time
	RevokeReason string
	ExpiredAt    *time.Time
	Name         *SealedRef
	IssuedPos    uint64
}

// KeyAccountRow is the account status the keys read model keeps so the
// gateway's check needs one lookup.
type KeyAccountRow struct {
	AccountID uuid.UUID
	Status    string
}

// KeyTouches lists the keys and the accounts a batch may change.
func KeyTouches(batch []Record) (keys, accounts []uuid.UUID) {
	for i := range batch {
		switch e := batch[i].Payload.(type) {
		case apikey.Issued:
			keys = append(keys, e.KeyID)
			accounts = append(accounts, e.AccountID)
		case apikey.Rotated:
			keys = append(keys, e.KeyID)
		case apikey.Revoked:
			keys = append(keys, e.KeyID)
		case apikey.Expired:
			keys = append(keys, e.KeyID)
		default:
			if id, ok := keyAccountEvent(batch[i].Payload); ok {
				accounts = append(accounts, id)
			}
		}
	}
	return keys, accounts
}

func keyAccountEvent(p any) (uuid.UUID, bool) {
	switch e := p.(type) {
	case account.Registered:
		return e.AccountID, true
	case account.Suspended:
		return e.AccountID, true
	case account.Reinstated:
		return e.AccountID, true
	case account.Closed:
		return e.AccountID, true
	case account.Erased:
		return e.AccountID, true
	case privacy.SubjectKeyShredded:
		return e.Subject, true
	}
	return uuid.Nil, false
}

// KeysState is what FoldKeys works on: the rows of every touched key and
// account (and, for account-wide events, every key of those accounts).
type KeysState struct {
	Keys      map[uuid.UUID]*KeyRow
	Accounts  map[uuid.UUID]*KeyAccountRow
	ByAccount func(accountID uuid.UUID) []*KeyRow // keys of an account present in Keys
	// hooks for the memory index; nil in PostgreSQL
	OnHash func(old, new string, r *KeyRow)
}

// FoldKeys applies batch to st. It reports changed keys and accounts into
// the dirty sets and the keys whose cached verification must be dropped.
func FoldKeys(st *KeysState, batch []Record, dirtyKeys, dirtyAccounts map[uuid.UUID]struct{}, invalid *[]uuid.UUID) {
	setHash := func(r *KeyRow, h string) {
		if st.OnHash != nil && r.SecretHash != h {
			st.OnHash(r.SecretHash, h, r)
		}
		r.SecretHash = h
	}
	mark := func(r *KeyRow) {
		if dirtyKeys != nil {
			dirtyKeys[r.KeyID] = struct{}{}
		}
	}
	for i := range batch {
		rec := &batch[i]
		switch e := rec.Payload.(type) {
		case apikey.Issued:
			if _, ok := st.Keys[e.KeyID]; ok {
				continue
			}
			r := &KeyRow{KeyID: e.KeyID, AccountID: e.AccountID, Prefix: e.Prefix, Scopes: slices.Clone(e.Scopes),
				Status: KeyActive, IssuedAt: TS(e.IssuedAt), ExpiresAt: TSP(e.ExpiresAt), Name: RefOf(*rec), IssuedPos: rec.Position}
			if a := st.Accounts[e.AccountID]; a != nil && a.Status == StatusErased {
				r.Name = nil
			}
			st.Keys[e.KeyID] = r
			setHash(r, e.SecretHash)
			mark(r)
		case apikey.Rotated:
			if r := st.Keys[e.KeyID]; r != nil && r.Status == KeyActive {
				r.Prefix = e.Prefix
				setHash(r, e.SecretHash)
				r.RotatedAt = TSP(&e.RotatedAt)
				mark(r)
				*invalid = append(*invalid, r.KeyID)
			}
		case apikey.Revoked:
			if r := st.Keys[e.KeyID]; r != nil && r.Status != KeyRevoked {
				r.Status, r.RevokedAt, r.RevokeReason = KeyRevoked, TSP(&e.RevokedAt), e.Reason
				setHash(r, "")
				mark(r)
				*invalid = append(*invalid, r.KeyID)
			}
		case apikey.Expired:
			if r := st.Keys[e.KeyID]; r != nil && r.Status == KeyActive {
				r.Status, r.ExpiredAt = KeyExpired, TSP(&e.ExpiredAt)
				setHash(r, "")
				mark(r)
				*invalid = append(*invalid, r.KeyID)
			}
		default:
			id, ok := keyAccountEvent(rec.Payload)
			if !ok {
				continue
			}
			a := st.Accounts[id]
			if a == nil {
				a = &KeyAccountRow{AccountID: id, Status: StatusActive}
				st.Accounts[id] = a
			}
			status := a.Status
			switch rec.Payload.(type) {
			case account.Registered:
				continue // creation only
			case account.Suspended:
				if status == StatusActive {
					status = StatusSuspended
				}
			case account.Reinstated:
				if status == StatusSuspended {
					status = StatusActive
				}
			case account.Closed:
				if status != StatusErased {
					status = StatusClosed
				}
			case account.Erased, privacy.SubjectKeyShredded:
				status = StatusErased
				for _, r := range st.ByAccount(id) {
					if r.Name != nil {
						r.Name = nil
						mark(r)
					}
				}
			}
			if dirtyAccounts != nil {
				dirtyAccounts[id] = struct{}{}
			}
			if status != a.Status {
				a.Status = status
				for _, r := range st.ByAccount(id) {
					*invalid = append(*invalid, r.KeyID)
				}
			}
		}
	}
}

// ViewKey turns a row into its view; the name is opened when withName is set.
func ViewKey(ctx context.Context, codec *eventstore.Codec, r *KeyRow, withName bool) (KeyView, error) {
	v := KeyView{KeyID: r.KeyID, AccountID: r.AccountID, Prefix: r.Prefix, Scopes: slices.Clone(r.Scopes), Status: r.Status,
		IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt, RotatedAt: r.RotatedAt, RevokedAt: r.RevokedAt,
		RevokeReason: r.RevokeReason, ExpiredAt: r.ExpiredAt}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if !withName {
		return v, nil
	}
	if r.Name == nil {
		v.NameErased = true
		return v, nil
	}
	p, erased, err := r.Name.Open(ctx, codec)
	if err != nil {
		return KeyView{}, fmt.Errorf("projections: open name of key %s: %w", r.KeyID, err)
	}
	if erased {
		v.NameErased = true
		return v, nil
	}
	if e, ok := p.(apikey.Issued); ok {
		v.Name = e.Personal.Name
	}
	return v, nil
}

// Invalidation fans key invalidations out to registered hooks.
type Invalidation struct {
	mu  sync.RWMutex
	fns []func(uuid.UUID)
}

// Add registers fn.
func (h *Invalidation) Add(fn func(uuid.UUID)) {
	h.mu.Lock()
	h.fns = append(h.fns, fn)
	h.mu.Unlock()
}

// Fire calls every hook for every id.
func (h *Invalidation) Fire(ids []uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	h.mu.RLock()
	fns := h.fns
	h.mu.RUnlock()
	for _, fn := range fns {
		for _, id := range ids {
			fn(id)
		}
	}
}

type memKeyEntry struct {
	auth    KeyAuth
	expires int64 // unix nanoseconds; 0 for never
	account *KeyAccountRow
}

// MemKeys is the in-memory API keys read model. VerifyBySecretHash is one
// map lookup under a read lock and allocates nothing.
type MemKeys struct {
	codec *eventstore.Codec
	now   func() time.Time
	inval *Invalidation

	mu        sync.RWMutex
	keys      map[uuid.UUID]*KeyRow
	accounts  map[uuid.UUID]*KeyAccountRow
	byAccount map[uuid.UUID][]*KeyRow
	byHash    map[string]*memKeyEntry
}

var _ KeysQuery = (*MemKeys)(nil)

// NewMemKeys returns an empty in-memory keys read model. now may be nil
// (time.Now); inval may be nil (a private one).
func NewMemKeys(codec *eventstore.Codec, now func() time.Time, inval *Invalidation) *MemKeys {
	if now == nil {
		now = time.Now
	}
	if inval == nil {
		inval = &Invalidation{}
	}
	return &MemKeys{codec: codec, now: now, inval: inval, keys: map[uuid.UUID]*KeyRow{},
		accounts: map[uuid.UUID]*KeyAccountRow{}, byAccount: map[uuid.UUID][]*KeyRow{}, byHash: map[string]*memKeyEntry{}}
}

func (m *MemKeys) apply(batch []Record) {
	var invalid []uuid.UUID
	pending := map[string]*KeyRow{}
	m.mu.Lock()
	st := KeysState{Keys: m.keys, Accounts: m.accounts,
		ByAccount: func(id uuid.UUID) []*KeyRow { return m.byAccount[id] },
		OnHash: func(old, new string, r *KeyRow) {
			if old != "" {
				delete(m.byHash, old)
				delete(pending, old)
			}
			if new != "" {
				pending[new] = r
			}
		}}
	before := len(m.keys)
	FoldKeys(&st, batch, nil, nil, &invalid)
	if len(m.keys) != before {
		for i := range batch {
			if e, ok := batch[i].Payload.(apikey.Issued); ok {
				if r := m.keys[e.KeyID]; r != nil && r.IssuedPos == batch[i].Position {
					m.byAccount[r.AccountID] = append(m.byAccount[r.AccountID], r)
				}
			}
		}
	}
	for h, r := range pending {
		if r.SecretHash != h {
			continue
		}
		a := m.accounts[r.AccountID]
		if a == nil {
			a = &KeyAccountRow{AccountID: r.AccountID, Status: StatusActive}
			m.accounts[r.AccountID] = a
		}
		ent := &memKeyEntry{auth: KeyAuth{KeyID: r.KeyID, AccountID: r.AccountID, Prefix: r.Prefix, Scopes: r.Scopes, ExpiresAt: r.ExpiresAt}, account: a}
		if r.ExpiresAt != nil {
			ent.expires = r.ExpiresAt.UnixNano()
		}
		m.byHash[h] = ent
	}
	m.mu.Unlock()
	m.inval.Fire(invalid)
}

// Verify is VerifyBySecretHash without a context or an error: the gateway's
// hot path on the in-memory read model.
func (m *MemKeys) Verify(secretHash string) (KeyAuth, bool) {
	m.mu.RLock()
	e := m.byHash[secretHash]
	if e == nil || e.account.Status != StatusActive {
		m.mu.RUnlock()
		return KeyAuth{}, false
	}
	auth, exp := e.auth, e.expires
	m.mu.RUnlock()
	if exp != 0 && m.now().UnixNano() >= exp {
		return KeyAuth{}, false
	}
	return auth, true
}

// VerifyBySecretHash implements KeysQuery.
func (m *MemKeys) VerifyBySecretHash(_ context.Context, secretHash string) (KeyAuth, bool, error) {
	a, ok := m.Verify(secretHash)
	return a, ok, nil
}

// Key implements KeysQuery.
func (m *MemKeys) Key(ctx context.Context, keyID uuid.UUID) (KeyView, error) {
	m.mu.RLock()
	r := m.keys[keyID]
	var c KeyRow
	if r != nil {
		c = *r
	}
	m.mu.RUnlock()
	if r == nil {
		return KeyView{}, ErrNotFound
	}
	return ViewKey(ctx, m.codec, &c, false)
}

// KeysByAccount implements KeysQuery.
func (m *MemKeys) KeysByAccount(ctx context.Context, accountID uuid.UUID) ([]KeyView, error) {
	m.mu.RLock()
	rows := make([]KeyRow, 0, len(m.byAccount[accountID]))
	for _, r := range m.byAccount[accountID] {
		rows = append(rows, *r)
	}
	m.mu.RUnlock()
	out := make([]KeyView, 0, len(rows))
	for i := range rows {
		v, err := ViewKey(ctx, m.codec, &rows[i], true)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// OnInvalidate implements KeysQuery.
func (m *MemKeys) OnInvalidate(fn func(keyID uuid.UUID)) { m.inval.Add(fn) }
