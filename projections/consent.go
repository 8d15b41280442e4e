package projections

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/consent"
)

// Consent receipt kinds.
const (
	ReceiptDefault        = "default"
	ReceiptGiven          = "given"
	ReceiptWithdrawn      = "withdrawn"
	ReceiptPolicyAccepted = "policy_accepted"
)

// ConsentReceipt is one consent change as recorded: enough to demonstrate
// consent (who, what purpose, granted or withdrawn, when, how, which policy).
// Defaults applied at registration give one receipt per purpose.
type ConsentReceipt struct {
	Position      uint64    `json:"position"`
	AccountID     uuid.UUID `json:"account_id"`
	Kind          string    `json:"kind"`
	Purpose       string    `json:"purpose,omitempty"` // empty for policy_accepted
	Granted       bool      `json:"granted"`
	At            time.Time `json:"at"`
	Method        string    `json:"method"`
	PolicyVersion string    `json:"policy_version"`
	Actor         string    `json:"actor,omitempty"`
}

// PurposeState is the consent for one purpose and the receipt behind it.
type PurposeState struct {
	Purpose       string    `json:"purpose"`
	Granted       bool      `json:"granted"`
	At            time.Time `json:"at"`
	Method        string    `json:"method"`
	PolicyVersion string    `json:"policy_version"`
	Actor         string    `json:"actor,omitempty"`
}

// ConsentState is an account's consent at some moment.
type ConsentState struct {
	AccountID        uuid.UUID      `json:"account_id"`
	Purposes         []PurposeState `json:"purposes"` // sorted by purpose
	AcceptedPolicy   string         `json:"accepted_policy,omitempty"`
	PolicyAcceptedAt *time.Time     `json:"policy_accepted_at,omitempty"`
}

// ConsentQuery answers consent questions. Safe for concurrent use.
type ConsentQuery interface {
	// Consent returns the current state (no purposes for an unknown account).
	Consent(ctx context.Context, accountID uuid.UUID) (ConsentState, error)
	// ConsentHistory returns every receipt in log order.
	ConsentHistory(ctx context.Context, accountID uuid.UUID) ([]ConsentReceipt, error)
	// ConsentAsOf answers "what was consent on date X": the state from the
	// receipts whose time is at or before t.
	ConsentAsOf(ctx context.Context, accountID uuid.UUID, t time.Time) (ConsentState, error)
}

// FoldConsent turns a batch into receipts.
func FoldConsent(batch []Record, out *[]ConsentReceipt) {
	for i := range batch {
		rec := &batch[i]
		switch e := rec.Payload.(type) {
		case consent.DefaultsApplied:
			ps := make([]string, 0, len(e.Purposes))
			for p := range e.Purposes {
				ps = append(ps, p)
			}
			sort.Strings(ps)
			for _, p := range ps {
				*out = append(*out, ConsentReceipt{Position: rec.Position, AccountID: e.AccountID, Kind: ReceiptDefault, Purpose: p,
					Granted: e.Purposes[p], At: TS(e.At), Method: "jurisdiction_default:" + e.Jurisdiction, PolicyVersion: e.PolicyVersion, Actor: rec.Meta.Actor})
			}
		case consent.Given:
			*out = append(*out, ConsentReceipt{Position: rec.Position, AccountID: e.AccountID, Kind: ReceiptGiven, Purpose: e.Purpose,
				Granted: true, At: TS(e.At), Method: e.Method, PolicyVersion: e.PolicyVersion, Actor: e.Actor})
		case consent.Withdrawn:
			*out = append(*out, ConsentReceipt{Position: rec.Position, AccountID: e.AccountID, Kind: ReceiptWithdrawn, Purpose: e.Purpose,
				Granted: false, At: TS(e.At), Method: e.Method, PolicyVersion: e.PolicyVersion, Actor: e.Actor})
		case consent.PolicyAccepted:
			*out = append(*out, ConsentReceipt{Position: rec.Position, AccountID: e.AccountID, Kind: ReceiptPolicyAccepted,
				Granted: true, At: TS(e.At), Method: e.Method, PolicyVersion: e.PolicyVersion, Actor: e.Actor})
		}
	}
}

// ConsentFromReceipts folds receipts (log order) into a state; with until
// non-zero, receipts after it are ignored.
func ConsentFromReceipts(account uuid.UUID, rs []ConsentReceipt, until time.Time) ConsentState {
	st := ConsentState{AccountID: account, Purposes: []PurposeState{}}
	cur := map[string]PurposeState{}
	for _, r := range rs {
		if !until.IsZero() && r.At.After(until) {
			continue
		}
		if r.Kind == ReceiptPolicyAccepted {
			at := r.At
			st.AcceptedPolicy, st.PolicyAcceptedAt = r.PolicyVersion, &at
			continue
		}
		cur[r.Purpose] = PurposeState{Purpose: r.Purpose, Granted: r.Granted, At: r.At, Method: r.Method, PolicyVersion: r.PolicyVersion, Actor: r.Actor}
	}
	for _, p := range cur {
		st.Purposes = append(st.Purposes, p)
	}
	sort.Slice(st.Purposes, func(i, j int) bool { return st.Purposes[i].Purpose < st.Purposes[j].Purpose })
	return st
}

// MemConsent is the in-memory consent read model.
type MemConsent struct {
	mu      sync.RWMutex
	history map[uuid.UUID][]ConsentReceipt
	scratch []ConsentReceipt
}

var _ ConsentQuery = (*MemConsent)(nil)

// NewMemConsent returns an empty in-memory consent read model.
func NewMemConsent() *MemConsent { return &MemConsent{history: map[uuid.UUID][]ConsentReceipt{}} }

func (m *MemConsent) apply(batch []Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scratch = m.scratch[:0]
	FoldConsent(batch, &m.scratch)
	for _, r := range m.scratch {
		m.history[r.AccountID] = append(m.history[r.AccountID], r)
	}
}

func (m *MemConsent) receipts(id uuid.UUID) []ConsentReceipt {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]ConsentReceipt{}, m.history[id]...)
}

// Consent implements ConsentQuery.
func (m *MemConsent) Consent(_ context.Context, id uuid.UUID) (ConsentState, error) {
	return ConsentFromReceipts(id, m.receipts(id), time.Time{}), nil
}

// ConsentHistory implements ConsentQuery.
func (m *MemConsent) ConsentHistory(_ context.Context, id uuid.UUID) ([]ConsentReceipt, error) {
	return m.receipts(id), nil
}

// ConsentAsOf implements ConsentQuery.
func (m *MemConsent) ConsentAsOf(_ context.Context, id uuid.UUID, t time.Time) (ConsentState, error) {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return ConsentFromReceipts(id, m.receipts(id), TS(t)), nil
}
