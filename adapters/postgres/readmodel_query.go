package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/projections"
)

const (
	accountCols  = `id, status, region, jurisdiction, email_hash, created_at, updated_at, erased, email_ref, name_ref, registered_pos`
	keyCols      = `key_id, account_id, prefix, secret_hash, scopes, status, issued_at, expires_at, rotated_at, revoked_at, revoke_reason, expired_at, name_ref, issued_pos`
	disputeCols  = `account_id, processor, dispute_id, payment_ref, amount_micros, currency, status, opened_at, resolved_at, opened_pos`
	txCols       = `position, event_id, account_id, kind, amount_micros, currency, processor, reference, payment_ref, reason, at`
	consentCols  = `account_id, kind, purpose, granted, at, method, policy_version, actor`
	requestCols  = `request_id, subject, kind, channel, law, status, received_at, due_at, ack_due_at, acknowledged_at, extended_at, extension_reason, deferred_by, export_id, key_shredded_at, certificate_id, closed_at, reject_reason, details_ref`
	holdCols     = `hold_id, subject, categories, basis, reference, review_at, placed_at, released_at, active, placed_pos`
	usageColumns = `key_id, model, provider, day, requests, input_tokens, output_tokens, cost_micros, errors, error_reports`
)

func scanAccount(rows pgx.Rows) (*projections.AccountRow, error) {
	r := &projections.AccountRow{}
	var email, name []byte
	var pos int64
	if err := rows.Scan(&r.ID, &r.Status, &r.Region, &r.Jurisdiction, &r.EmailHash, &r.CreatedAt, &r.UpdatedAt, &r.Erased, &email, &name, &pos); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt, r.RegisteredPos = r.CreatedAt.UTC(), r.UpdatedAt.UTC(), uint64(pos)
	var err error
	if r.Email, err = projections.UnmarshalRef(email); err != nil {
		return nil, err
	}
	r.Name, err = projections.UnmarshalRef(name)
	return r, err
}

func scanKey(rows pgx.Rows) (*projections.KeyRow, error) {
	r := &projections.KeyRow{}
	var hash *string
	var scopes string
	var name []byte
	var pos int64
	if err := rows.Scan(&r.KeyID, &r.AccountID, &r.Prefix, &hash, &scopes, &r.Status, &r.IssuedAt, &r.ExpiresAt, &r.RotatedAt,
		&r.RevokedAt, &r.RevokeReason, &r.ExpiredAt, &name, &pos); err != nil {
		return nil, err
	}
	if hash != nil {
		r.SecretHash = *hash
	}
	r.Scopes = strings.Fields(scopes)
	r.IssuedAt, r.IssuedPos = r.IssuedAt.UTC(), uint64(pos)
	r.ExpiresAt, r.RotatedAt, r.RevokedAt, r.ExpiredAt = utcp(r.ExpiresAt), utcp(r.RotatedAt), utcp(r.RevokedAt), utcp(r.ExpiredAt)
	var err error
	r.Name, err = projections.UnmarshalRef(name)
	return r, err
}

func scanDispute(rows pgx.Rows) (*projections.DisputeRow, error) {
	d := &projections.DisputeRow{}
	var pos int64
	if err := rows.Scan(&d.AccountID, &d.Processor, &d.DisputeID, &d.PaymentRef, &d.AmountMicros, &d.Currency, &d.Status, &d.OpenedAt, &d.ResolvedAt, &pos); err != nil {
		return nil, err
	}
	d.OpenedAt, d.ResolvedAt, d.OpenedPos = d.OpenedAt.UTC(), utcp(d.ResolvedAt), uint64(pos)
	return d, nil
}

func scanRequest(rows pgx.Rows) (*projections.RequestRow, error) {
	r := &projections.RequestRow{}
	var deferred string
	var details []byte
	if err := rows.Scan(&r.RequestID, &r.Subject, &r.Kind, &r.Channel, &r.Law, &r.Status, &r.ReceivedAt, &r.DueAt, &r.AckDueAt,
		&r.AcknowledgedAt, &r.ExtendedAt, &r.ExtensionReason, &deferred, &r.ExportID, &r.KeyShreddedAt, &r.CertificateID,
		&r.ClosedAt, &r.RejectReason, &details); err != nil {
		return nil, err
	}
	r.ReceivedAt, r.DueAt = r.ReceivedAt.UTC(), r.DueAt.UTC()
	r.AckDueAt, r.AcknowledgedAt, r.ExtendedAt, r.KeyShreddedAt, r.ClosedAt = utcp(r.AckDueAt), utcp(r.AcknowledgedAt), utcp(r.ExtendedAt), utcp(r.KeyShreddedAt), utcp(r.ClosedAt)
	r.DeferredBy = splitIDs(deferred)
	var err error
	r.Details, err = projections.UnmarshalRef(details)
	return r, err
}

func scanHold(rows pgx.Rows) (*projections.HoldView, error) {
	h := &projections.HoldView{}
	var cats string
	var pos int64
	if err := rows.Scan(&h.HoldID, &h.Subject, &cats, &h.Basis, &h.Reference, &h.ReviewAt, &h.PlacedAt, &h.ReleasedAt, &h.Active, &pos); err != nil {
		return nil, err
	}
	h.Categories = []string{}
	if cats != "" {
		h.Categories = strings.Split(cats, ",")
	}
	h.ReviewAt, h.PlacedAt, h.ReleasedAt, h.PlacedPos = h.ReviewAt.UTC(), h.PlacedAt.UTC(), utcp(h.ReleasedAt), uint64(pos)
	return h, nil
}

// queryRows runs sql and scans every row with scan.
func queryRows[T any](ctx context.Context, m *ReadModels, scan func(pgx.Rows) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := m.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: read model query: %w", mapErr(err))
	}
	var out []T
	err = scanAll(rows, func(rows pgx.Rows) error {
		v, err := scan(rows)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read model query: %w", mapErr(err))
	}
	return out, nil
}

type rmAccounts struct{ m *ReadModels }

func (q rmAccounts) Account(ctx context.Context, id uuid.UUID) (projections.AccountView, error) {
	rs, err := queryRows(ctx, q.m, scanAccount, `SELECT `+accountCols+` FROM rm_accounts WHERE id = $1`, id)
	if err != nil {
		return projections.AccountView{}, err
	}
	if len(rs) == 0 {
		return projections.AccountView{}, projections.ErrNotFound
	}
	return projections.OpenAccount(ctx, q.m.codec, rs[0], true)
}

func (q rmAccounts) ListAccounts(ctx context.Context, f projections.AccountFilter) (projections.AccountPage, error) {
	limit := projections.PageLimit(f.Limit)
	var status *string
	if f.Status != "" {
		status = &f.Status
	}
	rs, err := queryRows(ctx, q.m, scanAccount, `SELECT `+accountCols+` FROM rm_accounts
		WHERE registered_pos > $1 AND ($2::text IS NULL OR status = $2) ORDER BY registered_pos LIMIT $3`, int64(f.After), status, limit+1)
	if err != nil {
		return projections.AccountPage{}, err
	}
	page := projections.AccountPage{Items: []projections.AccountView{}}
	for i, r := range rs {
		if i == limit {
			page.Next = rs[i-1].RegisteredPos
			break
		}
		v, err := projections.OpenAccount(ctx, q.m.codec, r, f.IncludePersonal)
		if err != nil {
			return projections.AccountPage{}, err
		}
		page.Items = append(page.Items, v)
	}
	return page, nil
}

type rmKeys struct{ m *ReadModels }

func (q rmKeys) VerifyBySecretHash(ctx context.Context, hash string) (projections.KeyAuth, bool, error) {
	var a projections.KeyAuth
	var scopes string
	err := q.m.pool.QueryRow(ctx, `SELECT k.key_id, k.account_id, k.prefix, k.scopes, k.expires_at FROM rm_api_keys k
		LEFT JOIN rm_apikey_accounts a ON a.account_id = k.account_id
		WHERE k.secret_hash = $1 AND k.status = 'active' AND coalesce(a.status, 'active') = 'active'
		AND (k.expires_at IS NULL OR k.expires_at > $2)`, hash, q.m.now()).Scan(&a.KeyID, &a.AccountID, &a.Prefix, &scopes, &a.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.KeyAuth{}, false, nil
	}
	if err != nil {
		return projections.KeyAuth{}, false, fmt.Errorf("postgres: verify key: %w", mapErr(err))
	}
	a.Scopes, a.ExpiresAt = strings.Fields(scopes), utcp(a.ExpiresAt)
	return a, true, nil
}

func (q rmKeys) Key(ctx context.Context, id uuid.UUID) (projections.KeyView, error) {
	rs, err := queryRows(ctx, q.m, scanKey, `SELECT `+keyCols+` FROM rm_api_keys WHERE key_id = $1`, id)
	if err != nil {
		return projections.KeyView{}, err
	}
	if len(rs) == 0 {
		return projections.KeyView{}, projections.ErrNotFound
	}
	return projections.ViewKey(ctx, q.m.codec, rs[0], false)
}

func (q rmKeys) KeysByAccount(ctx context.Context, id uuid.UUID) ([]projections.KeyView, error) {
	rs, err := queryRows(ctx, q.m, scanKey, `SELECT `+keyCols+` FROM rm_api_keys WHERE account_id = $1 ORDER BY issued_pos`, id)
	if err != nil {
		return nil, err
	}
	out := make([]projections.KeyView, 0, len(rs))
	for _, r := range rs {
		v, err := projections.ViewKey(ctx, q.m.codec, r, true)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (q rmKeys) OnInvalidate(fn func(keyID uuid.UUID)) { q.m.inval.Add(fn) }

type rmUsage struct{ m *ReadModels }

func (q rmUsage) rows(ctx context.Context, f projections.UsageFilter) (map[projections.UsageKey]projections.UsageCounts, error) {
	var from, to *time.Time
	if !f.From.IsZero() {
		d := projections.Day(f.From)
		from = &d
	}
	if !f.To.IsZero() {
		d := projections.Day(f.To)
		to = &d
	}
	var key *uuid.UUID
	if f.KeyID != uuid.Nil {
		key = &f.KeyID
	}
	rows, err := q.m.pool.Query(ctx, `SELECT `+usageColumns+` FROM rm_usage WHERE account_id = $1
		AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3) AND ($4::uuid IS NULL OR key_id = $4)`, f.AccountID, from, to, key)
	if err != nil {
		return nil, fmt.Errorf("postgres: usage: %w", mapErr(err))
	}
	out := map[projections.UsageKey]projections.UsageCounts{}
	err = scanAll(rows, func(rows pgx.Rows) error {
		k := projections.UsageKey{AccountID: f.AccountID}
		var c projections.UsageCounts
		if err := rows.Scan(&k.KeyID, &k.Model, &k.Provider, &k.Day, &c.Requests, &c.InputTokens, &c.OutputTokens, &c.CostMicros, &c.Errors, &c.ErrorReports); err != nil {
			return err
		}
		k.Day = projections.Day(k.Day)
		out[k] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: usage: %w", mapErr(err))
	}
	return out, nil
}

func (q rmUsage) Usage(ctx context.Context, f projections.UsageFilter) ([]projections.UsageBucket, error) {
	rows, err := q.rows(ctx, f)
	if err != nil {
		return nil, err
	}
	out, err := projections.GroupUsage(rows, f)
	if err != nil {
		return nil, fmt.Errorf("postgres: usage: %w", err)
	}
	return out, nil
}

func (q rmUsage) UsageTotals(ctx context.Context, f projections.UsageFilter) (projections.UsageCounts, error) {
	rows, err := q.rows(ctx, f)
	if err != nil {
		return projections.UsageCounts{}, err
	}
	var t projections.UsageCounts
	for _, c := range rows {
		if err := t.Add(c); err != nil {
			return projections.UsageCounts{}, fmt.Errorf("postgres: usage totals: %w", err)
		}
	}
	return t, nil
}

type rmBalances struct{ m *ReadModels }

func (q rmBalances) Balance(ctx context.Context, id uuid.UUID) (projections.BalanceView, error) {
	var d projections.BalanceDelta
	err := q.m.pool.QueryRow(ctx, `SELECT credits, payments, refunds, disputes_lost, usage_cost, open_disputes FROM rm_balances WHERE account_id = $1`, id).
		Scan(&d.Credits, &d.Payments, &d.Refunds, &d.DisputesLost, &d.UsageCost, &d.OpenDisputes)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return projections.BalanceView{}, fmt.Errorf("postgres: balance: %w", mapErr(err))
	}
	return d.View(id)
}

func scanTx(rows pgx.Rows) (projections.Transaction, error) {
	var t projections.Transaction
	var pos int64
	err := rows.Scan(&pos, &t.EventID, &t.AccountID, &t.Kind, &t.AmountMicros, &t.Currency, &t.Processor, &t.Reference, &t.PaymentRef, &t.Reason, &t.At)
	t.Position, t.At = uint64(pos), t.At.UTC()
	return t, err
}

func (q rmBalances) Transactions(ctx context.Context, f projections.TxFilter) (projections.TxPage, error) {
	limit := projections.PageLimit(f.Limit)
	ts, err := queryRows(ctx, q.m, scanTx, `SELECT `+txCols+` FROM rm_transactions WHERE account_id = $1 AND position > $2 ORDER BY position LIMIT $3`,
		f.AccountID, int64(f.After), limit+1)
	if err != nil {
		return projections.TxPage{}, err
	}
	page := projections.TxPage{Items: []projections.Transaction{}}
	for i, t := range ts {
		if i == limit {
			page.Next = ts[i-1].Position
			break
		}
		page.Items = append(page.Items, t)
	}
	return page, nil
}

func (q rmBalances) Disputes(ctx context.Context, id uuid.UUID) ([]projections.DisputeRow, error) {
	ds, err := queryRows(ctx, q.m, scanDispute, `SELECT `+disputeCols+` FROM rm_disputes WHERE account_id = $1 ORDER BY opened_pos`, id)
	if err != nil {
		return nil, err
	}
	out := make([]projections.DisputeRow, 0, len(ds))
	for _, d := range ds {
		out = append(out, *d)
	}
	return out, nil
}

type rmConsent struct{ m *ReadModels }

func scanReceipt(rows pgx.Rows) (projections.ConsentReceipt, error) {
	var r projections.ConsentReceipt
	var pos int64
	err := rows.Scan(&pos, &r.AccountID, &r.Kind, &r.Purpose, &r.Granted, &r.At, &r.Method, &r.PolicyVersion, &r.Actor)
	r.Position, r.At = uint64(pos), r.At.UTC()
	return r, err
}

func (q rmConsent) ConsentHistory(ctx context.Context, id uuid.UUID) ([]projections.ConsentReceipt, error) {
	rs, err := queryRows(ctx, q.m, scanReceipt, `SELECT position, `+consentCols+` FROM rm_consent_receipts WHERE account_id = $1 ORDER BY position, seq`, id)
	if rs == nil && err == nil {
		rs = []projections.ConsentReceipt{}
	}
	return rs, err
}

func (q rmConsent) Consent(ctx context.Context, id uuid.UUID) (projections.ConsentState, error) {
	rs, err := q.ConsentHistory(ctx, id)
	if err != nil {
		return projections.ConsentState{}, err
	}
	return projections.ConsentFromReceipts(id, rs, time.Time{}), nil
}

func (q rmConsent) ConsentAsOf(ctx context.Context, id uuid.UUID, t time.Time) (projections.ConsentState, error) {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	rs, err := queryRows(ctx, q.m, scanReceipt, `SELECT position, `+consentCols+` FROM rm_consent_receipts WHERE account_id = $1 AND at <= $2 ORDER BY position, seq`, id, projections.TS(t))
	if err != nil {
		return projections.ConsentState{}, err
	}
	return projections.ConsentFromReceipts(id, rs, projections.TS(t)), nil
}

type rmFraud struct{ m *ReadModels }

func (q rmFraud) EmailHash(ctx context.Context, hash string) (projections.FraudView, error) {
	v := projections.FraudView{Accounts: []uuid.UUID{}}
	err := q.m.pool.QueryRow(ctx, `SELECT email_hash, first_seen, claimed_by, new_user_grants, new_user_credit_micros FROM rm_fraud_hashes WHERE email_hash = $1`, hash).
		Scan(&v.EmailHash, &v.FirstSeen, &v.ClaimedBy, &v.NewUserGrants, &v.NewUserCreditMicros)
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.FraudView{}, projections.ErrNotFound
	}
	if err != nil {
		return projections.FraudView{}, fmt.Errorf("postgres: fraud: %w", mapErr(err))
	}
	v.FirstSeen = v.FirstSeen.UTC()
	ids, err := queryRows(ctx, q.m, func(rows pgx.Rows) (uuid.UUID, error) {
		var id uuid.UUID
		return id, rows.Scan(&id)
	}, `SELECT account_id FROM rm_fraud_accounts WHERE email_hash = $1 ORDER BY ord`, hash)
	if err != nil {
		return projections.FraudView{}, err
	}
	v.Accounts = append(v.Accounts, ids...)
	return v, nil
}

type rmPrivacy struct{ m *ReadModels }

func (q rmPrivacy) Request(ctx context.Context, id uuid.UUID, now time.Time) (projections.RequestView, error) {
	rs, err := queryRows(ctx, q.m, scanRequest, `SELECT `+requestCols+` FROM rm_privacy_requests WHERE request_id = $1`, id)
	if err != nil {
		return projections.RequestView{}, err
	}
	if len(rs) == 0 {
		return projections.RequestView{}, projections.ErrNotFound
	}
	return projections.ViewRequest(ctx, q.m.codec, *rs[0], now, true)
}

func (q rmPrivacy) views(ctx context.Context, now time.Time, sql string, args ...any) ([]projections.RequestView, error) {
	rs, err := queryRows(ctx, q.m, scanRequest, sql, args...)
	if err != nil {
		return nil, err
	}
	out := make([]projections.RequestView, 0, len(rs))
	for _, r := range rs {
		v, _ := projections.ViewRequest(ctx, nil, *r, now, false)
		out = append(out, v)
	}
	projections.SortRequests(out)
	return out, nil
}

func (q rmPrivacy) Requests(ctx context.Context, f projections.RequestFilter, now time.Time) ([]projections.RequestView, error) {
	var subject *uuid.UUID
	if f.Subject != uuid.Nil {
		subject = &f.Subject
	}
	var kind *string
	if f.Kind != "" {
		kind = &f.Kind
	}
	return q.views(ctx, now, `SELECT `+requestCols+` FROM rm_privacy_requests WHERE ($1::uuid IS NULL OR subject = $1)
		AND ($2::text IS NULL OR kind = $2) AND (NOT $3 OR status NOT IN ('completed', 'rejected'))`, subject, kind, f.OpenOnly)
}

func (q rmPrivacy) Overdue(ctx context.Context, now time.Time) ([]projections.RequestView, error) {
	return q.views(ctx, now, `SELECT `+requestCols+` FROM rm_privacy_requests WHERE status NOT IN ('completed', 'rejected') AND due_at < $1`, now)
}

func (q rmPrivacy) Holds(ctx context.Context, subject uuid.UUID, activeOnly bool) ([]projections.HoldView, error) {
	hs, err := queryRows(ctx, q.m, scanHold, `SELECT `+holdCols+` FROM rm_legal_holds WHERE subject = $1 AND (NOT $2 OR active) ORDER BY placed_pos`, subject, activeOnly)
	if err != nil {
		return nil, err
	}
	out := make([]projections.HoldView, 0, len(hs))
	for _, h := range hs {
		out = append(out, *h)
	}
	return out, nil
}
