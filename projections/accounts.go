package projections

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Account statuses as the accounts read model reports them.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusClosed    = "closed"
	StatusErased    = "erased"
)

// AccountView is one account's profile. Email and Name are opened at query
// time; when the subject's key is shredded Erased is set and they are empty.
type AccountView struct {
	ID           uuid.UUID `json:"id"`
	Status       string    `json:"status"`
	Region       string    `json:"region"`
	Jurisdiction string    `json:"jurisdiction"`
	EmailHash    string    `json:"email_hash"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Erased       bool      `json:"erased"`
	Email        string    `json:"email,omitempty"`
	Name         string    `json:"name,omitempty"`
}

// AccountFilter selects a page of accounts in registration order.
type AccountFilter struct {
	Status string // "" for every status
	// After is the Next cursor of the previous page (0 for the first page).
	After uint64
	// Limit bounds the page; default 100, at most 1000.
	Limit int
	// IncludePersonal opens email and name for every listed account (staff
	// reads; the caller records them).
	IncludePersonal bool
}

// AccountPage is one page of accounts; Next is 0 on the last page.
type AccountPage struct {
	Items []AccountView `json:"items"`
	Next  uint64        `json:"next,omitempty"`
}

// AccountsQuery answers questions about accounts. Implementations are safe
// for concurrent use; their answers reflect every event up to the position
// the read model has applied.
type AccountsQuery interface {
	// Account returns the profile of id, or ErrNotFound.
	Account(ctx context.Context, id uuid.UUID) (AccountView, error)
	// ListAccounts pages through accounts in registration order.
	ListAccounts(ctx context.Context, f AccountFilter) (AccountPage, error)
}

// AccountRow is the stored state of one account: public fields and the
// sealed sources of its personal fields (never their plaintext).
type AccountRow struct {
	ID            uuid.UUID
	Status        string
	Region        string
	Jurisdiction  string
	EmailHash     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Erased        bool
	Email         *SealedRef // latest event carrying the email
	Name          *SealedRef // latest event carrying the name
	RegisteredPos uint64     // listing cursor
}

// AccountTouches lists the accounts a batch may change (for loading them).
func AccountTouches(batch []Record) []uuid.UUID {
	var out []uuid.UUID
	for i := range batch {
		if id, ok := accountTouch(batch[i].Payload); ok {
			out = append(out, id)
		}
	}
	return out
}

func accountTouch(p any) (uuid.UUID, bool) {
	switch e := p.(type) {
	case account.Registered:
		return e.AccountID, true
	case account.EmailChanged:
		return e.AccountID, true
	case account.ProfileRectified:
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

// FoldAccounts applies batch to rows, which must hold every touched account
// that exists, and adds the ids of changed rows to dirty (when not nil).
// Both implementations use it, so they cannot disagree on the rules.
func FoldAccounts(rows map[uuid.UUID]*AccountRow, batch []Record, dirty map[uuid.UUID]struct{}, onNew func(*AccountRow)) {
	for i := range batch {
		rec := &batch[i]
		id, ok := accountTouch(rec.Payload)
		if !ok {
			continue
		}
		if reg, ok := rec.Payload.(account.Registered); ok {
			if _, exists := rows[id]; exists {
				continue
			}
			r := &AccountRow{ID: id, Status: StatusActive, Region: reg.Region, Jurisdiction: reg.Jurisdiction,
				EmailHash: reg.EmailHash, CreatedAt: TS(reg.RegisteredAt), UpdatedAt: TS(rec.RecordedAt),
				Email: RefOf(*rec), RegisteredPos: rec.Position}
			r.Name = r.Email
			rows[id] = r
			if onNew != nil {
				onNew(r)
			}
			if dirty != nil {
				dirty[id] = struct{}{}
			}
			continue
		}
		r := rows[id]
		if r == nil {
			continue // events of an account this model never saw registered
		}
		switch e := rec.Payload.(type) {
		case account.EmailChanged:
			r.EmailHash = e.EmailHash
			if !r.Erased {
				r.Email = RefOf(*rec)
			}
		case account.ProfileRectified:
			if !r.Erased {
				r.Name = RefOf(*rec)
			}
		case account.Suspended:
			if r.Status == StatusActive {
				r.Status = StatusSuspended
			}
		case account.Reinstated:
			if r.Status == StatusSuspended {
				r.Status = StatusActive
			}
		case account.Closed:
			if r.Status != StatusErased {
				r.Status = StatusClosed
			}
		case account.Erased, privacy.SubjectKeyShredded:
			r.Status, r.Erased, r.Email, r.Name = StatusErased, true, nil, nil
		}
		r.UpdatedAt = TS(rec.RecordedAt)
		if dirty != nil {
			dirty[id] = struct{}{}
		}
	}
}

// OpenAccount turns a stored row into its view, opening personal fields
// when withPersonal is set.
func OpenAccount(ctx context.Context, codec *eventstore.Codec, r *AccountRow, withPersonal bool) (AccountView, error) {
	v := AccountView{ID: r.ID, Status: r.Status, Region: r.Region, Jurisdiction: r.Jurisdiction, EmailHash: r.EmailHash,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Erased: r.Erased}
	if !withPersonal || r.Erased {
		return v, nil
	}
	for _, ref := range []*SealedRef{r.Email, r.Name} {
		if ref == nil || v.Erased {
			continue
		}
		if ref == r.Name && r.Name == r.Email && v.Email != "" {
			continue // one event gave both; opened once
		}
		p, erased, err := ref.Open(ctx, codec)
		if err != nil {
			return AccountView{}, fmt.Errorf("projections: open profile of account %s: %w", r.ID, err)
		}
		if erased {
			v.Erased, v.Email, v.Name = true, "", ""
			continue
		}
		switch e := p.(type) {
		case account.Registered:
			if ref == r.Email {
				v.Email = e.Personal.Email
			}
			if ref == r.Name {
				v.Name = e.Personal.Name
			}
		case account.EmailChanged:
			v.Email = e.Personal.Email
		case account.ProfileRectified:
			v.Name = e.Personal.Name
		}
	}
	return v, nil
}

// PageLimit applies the default and maximum page size.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// MemAccounts is the in-memory accounts read model.
type MemAccounts struct {
	codec *eventstore.Codec
	mu    sync.RWMutex
	rows  map[uuid.UUID]*AccountRow
	order []*AccountRow // by RegisteredPos
}

var _ AccountsQuery = (*MemAccounts)(nil)

// NewMemAccounts returns an empty in-memory accounts read model.
func NewMemAccounts(codec *eventstore.Codec) *MemAccounts {
	return &MemAccounts{codec: codec, rows: map[uuid.UUID]*AccountRow{}}
}

func (m *MemAccounts) apply(batch []Record) {
	m.mu.Lock()
	FoldAccounts(m.rows, batch, nil, func(r *AccountRow) { m.order = append(m.order, r) })
	m.mu.Unlock()
}

// Account implements AccountsQuery.
func (m *MemAccounts) Account(ctx context.Context, id uuid.UUID) (AccountView, error) {
	m.mu.RLock()
	r, ok := m.rows[id]
	var c AccountRow
	if ok {
		c = *r
	}
	m.mu.RUnlock()
	if !ok {
		return AccountView{}, ErrNotFound
	}
	return OpenAccount(ctx, m.codec, &c, true)
}

// PublicAccount is Account without personal fields: nothing is decrypted
// (auditors' as-of views).
func (m *MemAccounts) PublicAccount(ctx context.Context, id uuid.UUID) (AccountView, error) {
	m.mu.RLock()
	r, ok := m.rows[id]
	var c AccountRow
	if ok {
		c = *r
	}
	m.mu.RUnlock()
	if !ok {
		return AccountView{}, ErrNotFound
	}
	return OpenAccount(ctx, m.codec, &c, false)
}

// ListAccounts implements AccountsQuery.
func (m *MemAccounts) ListAccounts(ctx context.Context, f AccountFilter) (AccountPage, error) {
	limit := PageLimit(f.Limit)
	m.mu.RLock()
	i := sort.Search(len(m.order), func(i int) bool { return m.order[i].RegisteredPos > f.After })
	var rows []AccountRow
	more := false
	for ; i < len(m.order); i++ {
		r := m.order[i]
		if f.Status != "" && r.Status != f.Status {
			continue
		}
		if len(rows) == limit {
			more = true
			break
		}
		rows = append(rows, *r)
	}
	m.mu.RUnlock()
	page := AccountPage{Items: make([]AccountView, 0, len(rows))}
	for i := range rows {
		v, err := OpenAccount(ctx, m.codec, &rows[i], f.IncludePersonal)
		if err != nil {
			return AccountPage{}, err
		}
		page.Items = append(page.Items, v)
	}
	if more && len(rows) > 0 {
		page.Next = rows[len(rows)-1].RegisteredPos
	}
	return page, nil
}
