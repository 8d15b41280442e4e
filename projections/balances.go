package projections

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/usage"
)

// Transaction kinds.
const (
	TxCredit      = "credit"
	TxPayment     = "payment"
	TxRefund      = "refund"
	TxDisputeOpen = "dispute_opened"
	TxDisputeWon  = "dispute_won"
	TxDisputeLost = "dispute_lost"
)

// BalanceView is an account's money position in micro-units. Balance =
// credits + payments − refunds − lost disputes − usage cost.
type BalanceView struct {
	AccountID          uuid.UUID `json:"account_id"`
	CreditsMicros      int64     `json:"credits_micros"`
	PaymentsMicros     int64     `json:"payments_micros"`
	RefundsMicros      int64     `json:"refunds_micros"`
	DisputesLostMicros int64     `json:"disputes_lost_micros"`
	UsageCostMicros    int64     `json:"usage_cost_micros"`
	OpenDisputesMicros int64     `json:"open_disputes_micros"`
	BalanceMicros      int64     `json:"balance_micros"`
}

// BalanceDelta is the additive part of a balance (what a batch changes).
type BalanceDelta struct {
	Credits, Payments, Refunds, DisputesLost, UsageCost, OpenDisputes int64
}

// ErrOverflow is returned when a read-model sum would overflow int64. The
// inputs are bounded (billing.MaxAmountMicros per movement, usage.MaxCostMicros
// and usage.MaxTokens per record), so reaching it needs about 10^9 maximal
// records in one sum: it means corrupt or hostile data, and the projector
// stops with it rather than store a wrong total. Sums are never saturated.
var ErrOverflow = errors.New("projections: a sum overflows int64")

// AddInt64 returns a + b, or ErrOverflow when the sum does not fit in int64.
func AddInt64(a, b int64) (int64, error) {
	s := a + b
	if (s > a) != (b > 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// SubInt64 returns a − b, or ErrOverflow when the difference does not fit in int64.
func SubInt64(a, b int64) (int64, error) {
	s := a - b
	if (s < a) != (b > 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// add adds o to d with checked arithmetic; on ErrOverflow d is unchanged.
func (d *BalanceDelta) add(o BalanceDelta) error {
	var n BalanceDelta
	var err error
	for _, f := range []struct {
		dst  *int64
		a, b int64
	}{
		{&n.Credits, d.Credits, o.Credits}, {&n.Payments, d.Payments, o.Payments}, {&n.Refunds, d.Refunds, o.Refunds},
		{&n.DisputesLost, d.DisputesLost, o.DisputesLost}, {&n.UsageCost, d.UsageCost, o.UsageCost},
		{&n.OpenDisputes, d.OpenDisputes, o.OpenDisputes},
	} {
		if *f.dst, err = AddInt64(f.a, f.b); err != nil {
			return err
		}
	}
	*d = n
	return nil
}

// View turns the stored sums into a BalanceView; ErrOverflow when the balance
// does not fit in int64.
func (d BalanceDelta) View(account uuid.UUID) (BalanceView, error) {
	bal := d.Credits
	var err error
	for _, x := range []struct {
		v   int64
		add bool
	}{{d.Payments, true}, {d.Refunds, false}, {d.DisputesLost, false}, {d.UsageCost, false}} {
		if x.add {
			bal, err = AddInt64(bal, x.v)
		} else {
			bal, err = SubInt64(bal, x.v)
		}
		if err != nil {
			return BalanceView{}, fmt.Errorf("balance: %w", err)
		}
	}
	return BalanceView{AccountID: account, CreditsMicros: d.Credits, PaymentsMicros: d.Payments, RefundsMicros: d.Refunds,
		DisputesLostMicros: d.DisputesLost, UsageCostMicros: d.UsageCost, OpenDisputesMicros: d.OpenDisputes,
		BalanceMicros: bal}, nil
}

// Transaction is one money movement: a tax record. It holds no personal
// data and stays intact after erasure.
type Transaction struct {
	Position     uint64    `json:"position"`
	EventID      uuid.UUID `json:"event_id"`
	AccountID    uuid.UUID `json:"account_id"`
	Kind         string    `json:"kind"`
	AmountMicros int64     `json:"amount_micros"` // effect on the balance (signed); 0 for dispute_opened/won
	Currency     string    `json:"currency,omitempty"`
	Processor    string    `json:"processor,omitempty"`
	Reference    string    `json:"reference,omitempty"` // processor reference (payment, refund or dispute id)
	PaymentRef   string    `json:"payment_ref,omitempty"`
	Reason       string    `json:"reason,omitempty"` // credit reason or dispute outcome
	At           time.Time `json:"at"`
}

// DisputeRow is the stored state of one dispute.
type DisputeRow struct {
	AccountID    uuid.UUID  `json:"account_id"`
	Processor    string     `json:"processor"`
	DisputeID    string     `json:"dispute_id"`
	PaymentRef   string     `json:"payment_ref"`
	AmountMicros int64      `json:"amount_micros"`
	Currency     string     `json:"currency"`
	Status       string     `json:"status"` // open, won, lost
	OpenedAt     time.Time  `json:"opened_at"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
	OpenedPos    uint64     `json:"-"` // listing order
}

// DisputeKey identifies a dispute.
type DisputeKey struct {
	AccountID uuid.UUID
	Processor string
	DisputeID string
}

// TxFilter pages an account's transactions by position.
type TxFilter struct {
	AccountID uuid.UUID
	After     uint64 // Next of the previous page
	Limit     int
}

// TxPage is one page of transactions; Next is 0 on the last page.
type TxPage struct {
	Items []Transaction `json:"items"`
	Next  uint64        `json:"next,omitempty"`
}

// BalancesQuery answers money questions. Safe for concurrent use.
type BalancesQuery interface {
	// Balance returns the account's balance (zeros for an unknown account).
	Balance(ctx context.Context, accountID uuid.UUID) (BalanceView, error)
	// Transactions pages the account's transactions in log order.
	Transactions(ctx context.Context, f TxFilter) (TxPage, error)
	// Disputes lists the account's disputes in opening order.
	Disputes(ctx context.Context, accountID uuid.UUID) ([]DisputeRow, error)
}

// DisputeTouches lists the disputes a batch resolves (to load them).
func DisputeTouches(batch []Record) []DisputeKey {
	var out []DisputeKey
	for i := range batch {
		if e, ok := batch[i].Payload.(billing.DisputeResolved); ok {
			out = append(out, DisputeKey{e.AccountID, e.Processor, e.DisputeID})
		}
	}
	return out
}

// FoldBalances applies batch: it adds balance deltas, appends transactions
// and updates disputes (which must hold every touched existing dispute;
// changed ones go into dirty). It fails with ErrOverflow when a sum would
// overflow int64; deltas, txs and disputes are then partly updated and must
// be discarded.
func FoldBalances(batch []Record, deltas map[uuid.UUID]*BalanceDelta, txs *[]Transaction,
	disputes map[DisputeKey]*DisputeRow, dirty map[DisputeKey]struct{}, order *[]*DisputeRow) error {
	var failed error
	add := func(id uuid.UUID, d BalanceDelta, pos uint64) {
		c := deltas[id]
		if c == nil {
			c = &BalanceDelta{}
			deltas[id] = c
		}
		if err := c.add(d); err != nil && failed == nil {
			failed = fmt.Errorf("balance sum at position %d: %w", pos, err)
		}
	}
	for i := range batch {
		if failed != nil {
			return failed
		}
		rec := &batch[i]
		tx := Transaction{Position: rec.Position, EventID: rec.ID}
		switch e := rec.Payload.(type) {
		case usage.Recorded:
			if e.CostMicros != 0 {
				add(e.AccountID, BalanceDelta{UsageCost: e.CostMicros}, rec.Position)
			}
			continue
		case billing.CreditsGranted:
			add(e.AccountID, BalanceDelta{Credits: e.AmountMicros}, rec.Position)
			tx.AccountID, tx.Kind, tx.AmountMicros, tx.Reason, tx.At = e.AccountID, TxCredit, e.AmountMicros, e.Reason, TS(e.GrantedAt)
		case billing.PaymentSucceeded:
			add(e.AccountID, BalanceDelta{Payments: e.AmountMicros}, rec.Position)
			tx.AccountID, tx.Kind, tx.AmountMicros, tx.Currency, tx.Processor, tx.Reference, tx.At =
				e.AccountID, TxPayment, e.AmountMicros, e.Currency, e.Processor, e.ProcessorRef, TS(e.SucceededAt)
		case billing.Refunded:
			add(e.AccountID, BalanceDelta{Refunds: e.AmountMicros}, rec.Position)
			tx.AccountID, tx.Kind, tx.AmountMicros, tx.Currency, tx.Processor, tx.Reference, tx.PaymentRef, tx.At =
				e.AccountID, TxRefund, -e.AmountMicros, e.Currency, e.Processor, e.RefundRef, e.PaymentRef, TS(e.RefundedAt)
		case billing.DisputeOpened:
			k := DisputeKey{e.AccountID, e.Processor, e.DisputeID}
			if disputes[k] != nil {
				continue
			}
			d := &DisputeRow{AccountID: e.AccountID, Processor: e.Processor, DisputeID: e.DisputeID, PaymentRef: e.PaymentRef,
				AmountMicros: e.AmountMicros, Currency: e.Currency, Status: "open", OpenedAt: TS(e.OpenedAt), OpenedPos: rec.Position}
			disputes[k] = d
			if dirty != nil {
				dirty[k] = struct{}{}
			}
			if order != nil {
				*order = append(*order, d)
			}
			add(e.AccountID, BalanceDelta{OpenDisputes: e.AmountMicros}, rec.Position)
			tx.AccountID, tx.Kind, tx.Currency, tx.Processor, tx.Reference, tx.PaymentRef, tx.At =
				e.AccountID, TxDisputeOpen, e.Currency, e.Processor, e.DisputeID, e.PaymentRef, TS(e.OpenedAt)
		case billing.DisputeResolved:
			k := DisputeKey{e.AccountID, e.Processor, e.DisputeID}
			d := disputes[k]
			if d == nil || d.Status != "open" {
				continue
			}
			d.Status, d.ResolvedAt = e.Outcome, TSP(&e.ResolvedAt)
			if dirty != nil {
				dirty[k] = struct{}{}
			}
			delta := BalanceDelta{OpenDisputes: -d.AmountMicros}
			tx.Kind, tx.Reason = TxDisputeWon, e.Outcome
			if e.Outcome == billing.Lost.String() {
				delta.DisputesLost = d.AmountMicros
				tx.Kind, tx.AmountMicros = TxDisputeLost, -d.AmountMicros
			}
			add(e.AccountID, delta, rec.Position)
			tx.AccountID, tx.Currency, tx.Processor, tx.Reference, tx.PaymentRef, tx.At =
				e.AccountID, d.Currency, e.Processor, e.DisputeID, d.PaymentRef, TS(e.ResolvedAt)
		default:
			continue
		}
		*txs = append(*txs, tx)
	}
	return failed
}

// MemBalances is the in-memory balances and transactions read model.
type MemBalances struct {
	mu        sync.RWMutex
	balances  map[uuid.UUID]*BalanceDelta
	txs       map[uuid.UUID][]Transaction
	disputes  map[DisputeKey]*DisputeRow
	byAccount map[uuid.UUID][]*DisputeRow
}

var _ BalancesQuery = (*MemBalances)(nil)

// NewMemBalances returns an empty in-memory balances read model.
func NewMemBalances() *MemBalances {
	return &MemBalances{balances: map[uuid.UUID]*BalanceDelta{}, txs: map[uuid.UUID][]Transaction{},
		disputes: map[DisputeKey]*DisputeRow{}, byAccount: map[uuid.UUID][]*DisputeRow{}}
}

// balancesCommit is a checked batch for MemBalances, ready to store.
type balancesCommit struct {
	balances map[uuid.UUID]BalanceDelta
	txs      []Transaction
	disputes map[DisputeKey]*DisputeRow // copies of existing rows, and new rows
	order    []*DisputeRow              // new rows, in opening order
}

// prepare folds batch into copies, with checked sums, without changing the
// model: a batch that would overflow a balance is refused whole.
func (m *MemBalances) prepare(batch []Record) (*balancesCommit, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &balancesCommit{balances: map[uuid.UUID]BalanceDelta{}, disputes: map[DisputeKey]*DisputeRow{}}
	for i := range batch {
		var k DisputeKey
		switch e := batch[i].Payload.(type) {
		case billing.DisputeOpened:
			k = DisputeKey{e.AccountID, e.Processor, e.DisputeID}
		case billing.DisputeResolved:
			k = DisputeKey{e.AccountID, e.Processor, e.DisputeID}
		default:
			continue
		}
		if d := m.disputes[k]; d != nil && c.disputes[k] == nil {
			cp := *d
			c.disputes[k] = &cp
		}
	}
	deltas := map[uuid.UUID]*BalanceDelta{}
	if err := FoldBalances(batch, deltas, &c.txs, c.disputes, nil, &c.order); err != nil {
		return nil, err
	}
	for id, d := range deltas {
		var b BalanceDelta
		if cur := m.balances[id]; cur != nil {
			b = *cur
		}
		if err := b.add(*d); err != nil {
			return nil, fmt.Errorf("balance sum: %w", err)
		}
		if _, err := b.View(id); err != nil {
			return nil, err
		}
		c.balances[id] = b
	}
	return c, nil
}

// commit stores what prepare computed.
func (m *MemBalances) commit(c *balancesCommit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, b := range c.balances {
		if cur := m.balances[id]; cur != nil {
			*cur = b
		} else {
			m.balances[id] = &b
		}
	}
	for _, t := range c.txs {
		m.txs[t.AccountID] = append(m.txs[t.AccountID], t)
	}
	for k, d := range c.disputes {
		if cur := m.disputes[k]; cur != nil {
			*cur = *d // byAccount holds the same pointer
		} else {
			m.disputes[k] = d
		}
	}
	for _, d := range c.order {
		m.byAccount[d.AccountID] = append(m.byAccount[d.AccountID], d)
	}
}

// Balance implements BalancesQuery.
func (m *MemBalances) Balance(_ context.Context, accountID uuid.UUID) (BalanceView, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var d BalanceDelta
	if b := m.balances[accountID]; b != nil {
		d = *b
	}
	return d.View(accountID)
}

// Transactions implements BalancesQuery.
func (m *MemBalances) Transactions(_ context.Context, f TxFilter) (TxPage, error) {
	limit := PageLimit(f.Limit)
	m.mu.RLock()
	defer m.mu.RUnlock()
	all := m.txs[f.AccountID]
	i := sort.Search(len(all), func(i int) bool { return all[i].Position > f.After })
	end := min(i+limit, len(all))
	page := TxPage{Items: append([]Transaction{}, all[i:end]...)}
	if end < len(all) && end > i {
		page.Next = all[end-1].Position
	}
	return page, nil
}

// Disputes implements BalancesQuery.
func (m *MemBalances) Disputes(_ context.Context, accountID uuid.UUID) ([]DisputeRow, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]DisputeRow, 0, len(m.byAccount[accountID]))
	for _, d := range m.byAccount[accountID] {
		out = append(out, *d)
	}
	return out, nil
}
