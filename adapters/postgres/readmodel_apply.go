package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/projections"
)

// rmProjector applies a batch to some read models in one transaction: lock
// and read their checkpoints, load the rows the batch touches (one round
// trip), fold the batch in memory with the same rules as the in-memory
// models, then write one upsert per table from typed column arrays and the
// new checkpoints in one statement (one round trip), and commit. Usage,
// which needs no stored rows to fold, folds in a goroutine meanwhile (see
// readmodel_usage.go for how its rows are written).
type rmProjector struct {
	m     *ReadModels
	names []string
}

func (p *rmProjector) Name() string {
	if len(p.names) == len(AllReadModels) {
		return "readmodels"
	}
	return strings.Join(p.names, "+")
}

// Checkpoint is the lowest checkpoint of the projector's read models.
func (p *rmProjector) Checkpoint(ctx context.Context) (uint64, error) {
	cps, err := p.m.Checkpoints(ctx)
	if err != nil {
		return 0, err
	}
	low := ^uint64(0)
	for _, n := range p.names {
		low = min(low, cps[n])
	}
	return low, nil
}

func (p *rmProjector) ApplyBatch(ctx context.Context, batch []projections.Record) error {
	if len(batch) == 0 {
		return nil
	}
	var invalid []uuid.UUID
	// The usage fold needs no stored rows: run it while the transaction
	// starts, locks the checkpoints and loads the other models' rows.
	var early *usageFold
	if len(batch) >= usageSplitMin && slices.Contains(p.names, RMUsage) {
		early = foldUsageAsync(batch)
		defer early.wait()
	}
	err := pgx.BeginFunc(ctx, p.m.pool, func(tx pgx.Tx) error {
		invalid = invalid[:0]
		cps := map[string]uint64{}
		rows, err := tx.Query(ctx, `SELECT name, position FROM projection_checkpoints WHERE name = ANY($1) ORDER BY name FOR UPDATE`, p.names)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n string
			var pos int64
			if err := rows.Scan(&n, &pos); err != nil {
				rows.Close()
				return err
			}
			cps[n] = uint64(pos)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		last := batch[len(batch)-1].Position
		var work []*rmWork
		var usageShare *rmWork
		for _, n := range p.names {
			cp := cps[n]
			if cp >= last {
				continue
			}
			b := batch
			for len(b) > 0 && b[0].Position <= cp {
				b = b[1:]
			}
			if b[0].Position != cp+1 {
				return fmt.Errorf("read model %s at %d got position %d", n, cp, b[0].Position)
			}
			w := newWork(n, b)
			if n == RMUsage {
				if len(b) == len(batch) {
					w.early = early
				}
				usageShare = w
				continue
			}
			work = append(work, w)
		}
		if usageShare != nil {
			work = append(work, usageShare) // last: the others fold while its goroutine finishes
		}
		if len(work) == 0 {
			return nil
		}
		load := &pgx.Batch{}
		for _, w := range work {
			w.queueLoad(load)
		}
		if load.Len() > 0 {
			if err := tx.SendBatch(ctx, load).Close(); err != nil {
				return err
			}
		}
		write := &pgx.Batch{}
		names := make([]string, 0, len(work))
		for _, w := range work {
			if err := w.fold(&invalid); err != nil {
				return fmt.Errorf("read model %s: %w", w.name, err)
			}
			if err := w.queueWrite(write); err != nil {
				return err
			}
			names = append(names, w.name)
		}
		write.Queue(`INSERT INTO projection_checkpoints (name, position) SELECT unnest($1::text[]), $2
			ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position`, names, int64(last))
		return tx.SendBatch(ctx, write).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: apply read models up to %d: %w", batch[len(batch)-1].Position, mapErr(err))
	}
	p.m.inval.Fire(invalid)
	return nil
}

// rmWork is one read model's share of a batch.
type rmWork struct {
	name  string
	batch []projections.Record

	accounts map[uuid.UUID]*projections.AccountRow
	dirty    map[uuid.UUID]struct{}

	keys      projections.KeysState
	dirtyAcc  map[uuid.UUID]struct{}
	usage     usageWork
	early     *usageFold // usage folded from the whole batch, when that is w's share
	balances  map[uuid.UUID]*projections.BalanceDelta
	txs       []projections.Transaction
	disputes  map[projections.DisputeKey]*projections.DisputeRow
	dirtyDisp map[projections.DisputeKey]struct{}
	receipts  []projections.ConsentReceipt
	fraud     map[string]*projections.FraudView
	dirtyHash map[string]struct{}
	privacy   projections.PrivacyState
	dirtyHold map[uuid.UUID]struct{}
}

func newWork(name string, batch []projections.Record) *rmWork {
	return &rmWork{name: name, batch: batch, dirty: map[uuid.UUID]struct{}{}}
}

func (w *rmWork) queueLoad(b *pgx.Batch) {
	switch w.name {
	case RMAccounts:
		w.accounts = map[uuid.UUID]*projections.AccountRow{}
		ids := projections.AccountTouches(w.batch)
		if len(ids) == 0 {
			return
		}
		b.Queue(`SELECT `+accountCols+` FROM rm_accounts WHERE id = ANY($1)`, pgUUIDs(ids)).Query(func(rows pgx.Rows) error {
			return scanAll(rows, func(rows pgx.Rows) error {
				r, err := scanAccount(rows)
				if err == nil {
					w.accounts[r.ID] = r
				}
				return err
			})
		})
	case RMKeys:
		w.keys = projections.KeysState{Keys: map[uuid.UUID]*projections.KeyRow{}, Accounts: map[uuid.UUID]*projections.KeyAccountRow{}}
		w.keys.ByAccount = func(id uuid.UUID) []*projections.KeyRow {
			var out []*projections.KeyRow
			for _, k := range w.keys.Keys {
				if k.AccountID == id {
					out = append(out, k)
				}
			}
			return out
		}
		w.dirtyAcc = map[uuid.UUID]struct{}{}
		keys, accs := projections.KeyTouches(w.batch)
		if len(keys)+len(accs) == 0 {
			return
		}
		b.Queue(`SELECT `+keyCols+` FROM rm_api_keys WHERE key_id = ANY($1) OR account_id = ANY($2)`, pgUUIDs(keys), pgUUIDs(accs)).Query(func(rows pgx.Rows) error {
			return scanAll(rows, func(rows pgx.Rows) error {
				r, err := scanKey(rows)
				if err == nil {
					w.keys.Keys[r.KeyID] = r
				}
				return err
			})
		})
		b.Queue(`SELECT account_id, status FROM rm_apikey_accounts WHERE account_id = ANY($1)
			OR account_id IN (SELECT account_id FROM rm_api_keys WHERE key_id = ANY($2))`, pgUUIDs(accs), pgUUIDs(keys)).Query(func(rows pgx.Rows) error {
			return scanAll(rows, func(rows pgx.Rows) error {
				var a projections.KeyAccountRow
				if err := rows.Scan(&a.AccountID, &a.Status); err != nil {
					return err
				}
				w.keys.Accounts[a.AccountID] = &a
				return nil
			})
		})
	case RMUsage:
		w.usage.queueLoad(b, w.batch)
	case RMBalances:
		w.disputes = map[projections.DisputeKey]*projections.DisputeRow{}
		w.dirtyDisp = map[projections.DisputeKey]struct{}{}
		ks := projections.DisputeTouches(w.batch)
		if len(ks) == 0 {
			return
		}
		accs, procs, ids := make([]uuid.UUID, len(ks)), make([]string, len(ks)), make([]string, len(ks))
		for i, k := range ks {
			accs[i], procs[i], ids[i] = k.AccountID, k.Processor, k.DisputeID
		}
		b.Queue(`SELECT `+disputeCols+` FROM rm_disputes WHERE (account_id, processor, dispute_id) IN
			(SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))`, pgUUIDs(accs), procs, ids).Query(func(rows pgx.Rows) error {
			return scanAll(rows, func(rows pgx.Rows) error {
				d, err := scanDispute(rows)
				if err == nil {
					w.disputes[projections.DisputeKey{AccountID: d.AccountID, Processor: d.Processor, DisputeID: d.DisputeID}] = d
				}
				return err
			})
		})
	case RMConsent:
	case RMFraud:
		w.fraud = map[string]*projections.FraudView{}
		w.dirtyHash = map[string]struct{}{}
		hs := projections.FraudTouches(w.batch)
		if len(hs) == 0 {
			return
		}
		b.Queue(`SELECT email_hash, first_seen, claimed_by, new_user_grants, new_user_credit_micros FROM rm_fraud_hashes WHERE email_hash = ANY($1)`, hs).Query(func(rows pgx.Rows) error {
			return scanAll(rows, func(rows pgx.Rows) error {
				v := &projections.FraudView{Accounts: []uuid.UUID{}}
				if err := rows.Scan(&v.EmailHash, &v.FirstSeen, &v.ClaimedBy, &v.NewUserGrants, &v.NewUserCreditMicros); err != nil {
					return err
				}
				v.FirstSeen = v.FirstSeen.UTC()
				w.fraud[v.EmailHash] = v
				return nil
			})
		})
		b.Queue(`SELECT email_hash, account_id FROM rm_fraud_accounts WHERE email_hash = ANY($1) ORDER BY email_hash, ord`, hs).Query(func(rows pgx.Rows) error {
			return scanAll(rows, func(rows pgx.Rows) error {
				var h string
				var id uuid.UUID
				if err := rows.Scan(&h, &id); err != nil {
					return err
				}
				if v := w.fraud[h]; v != nil {
					v.Accounts = append(v.Accounts, id)
				}
				return nil
			})
		})
	case RMPrivacy:
		w.privacy = projections.PrivacyState{Requests: map[uuid.UUID]*projections.RequestRow{}, Holds: map[uuid.UUID]*projections.HoldView{}}
		w.privacy.BySubject = func(s uuid.UUID) []*projections.RequestRow {
			var out []*projections.RequestRow
			for _, r := range w.privacy.Requests {
				if r.Subject == s {
					out = append(out, r)
				}
			}
			return out
		}
		w.dirtyHold = map[uuid.UUID]struct{}{}
		reqs, holds, subjects := projections.PrivacyTouches(w.batch)
		if len(reqs)+len(subjects) > 0 {
			b.Queue(`SELECT `+requestCols+` FROM rm_privacy_requests WHERE request_id = ANY($1) OR subject = ANY($2)`, pgUUIDs(reqs), pgUUIDs(subjects)).Query(func(rows pgx.Rows) error {
				return scanAll(rows, func(rows pgx.Rows) error {
					r, err := scanRequest(rows)
					if err == nil {
						w.privacy.Requests[r.RequestID] = r
					}
					return err
				})
			})
		}
		if len(holds) > 0 {
			b.Queue(`SELECT `+holdCols+` FROM rm_legal_holds WHERE hold_id = ANY($1)`, pgUUIDs(holds)).Query(func(rows pgx.Rows) error {
				return scanAll(rows, func(rows pgx.Rows) error {
					h, err := scanHold(rows)
					if err == nil {
						w.privacy.Holds[h.HoldID] = h
					}
					return err
				})
			})
		}
	}
}

// fold applies the batch to the loaded rows. The usage and balances sums
// are checked: an int64 overflow is projections.ErrOverflow and fails the
// batch (PostgreSQL's bigint "+" in queueWrite errors too, 22003).
func (w *rmWork) fold(invalid *[]uuid.UUID) error {
	switch w.name {
	case RMAccounts:
		projections.FoldAccounts(w.accounts, w.batch, w.dirty, nil)
	case RMKeys:
		projections.FoldKeys(&w.keys, w.batch, w.dirty, w.dirtyAcc, invalid)
	case RMUsage:
		if w.early != nil {
			w.usage.usageFolded = w.early.wait()
		} else {
			w.usage.usageFolded = foldUsage(w.batch)
		}
		return w.usage.err
	case RMBalances:
		w.balances = map[uuid.UUID]*projections.BalanceDelta{}
		return projections.FoldBalances(w.batch, w.balances, &w.txs, w.disputes, w.dirtyDisp, nil)
	case RMConsent:
		projections.FoldConsent(w.batch, &w.receipts)
	case RMFraud:
		projections.FoldFraud(w.fraud, w.batch, w.dirtyHash)
	case RMPrivacy:
		projections.FoldPrivacy(&w.privacy, w.batch, w.dirty, w.dirtyHold)
	}
	return nil
}

func (w *rmWork) queueWrite(b *pgx.Batch) error {
	switch w.name {
	case RMAccounts:
		if len(w.dirty) == 0 {
			return nil
		}
		var c cols
		for id := range w.dirty {
			r := w.accounts[id]
			c.add(r.ID, r.Status, r.Region, r.Jurisdiction, r.EmailHash, r.CreatedAt, r.UpdatedAt, r.Erased,
				projections.MarshalRef(r.Email), projections.MarshalRef(r.Name), int64(r.RegisteredPos))
		}
		b.Queue(upsert("rm_accounts", accountCols, "uuid,text,text,text,text,timestamptz,timestamptz,bool,bytea,bytea,int8", "id"), c.args()...)
	case RMKeys:
		if len(w.dirty) > 0 {
			var c cols
			for id := range w.dirty {
				r := w.keys.Keys[id]
				var hash *string
				if r.SecretHash != "" {
					hash = &r.SecretHash
				}
				c.add(r.KeyID, r.AccountID, r.Prefix, hash, strings.Join(r.Scopes, " "), r.Status, r.IssuedAt, r.ExpiresAt, r.RotatedAt,
					r.RevokedAt, r.RevokeReason, r.ExpiredAt, projections.MarshalRef(r.Name), int64(r.IssuedPos))
			}
			// a rotated-away hash may be reused by another row in the
			// same batch: clear the old owners first
			b.Queue(`UPDATE rm_api_keys SET secret_hash = NULL WHERE key_id = ANY($1)`, c.col(0))
			b.Queue(upsert("rm_api_keys", keyCols, "uuid,uuid,text,text,text,text,timestamptz,timestamptz,timestamptz,timestamptz,text,timestamptz,bytea,int8", "key_id"), c.args()...)
		}
		if len(w.dirtyAcc) > 0 {
			var c cols
			for id := range w.dirtyAcc {
				a := w.keys.Accounts[id]
				c.add(a.AccountID, a.Status)
			}
			b.Queue(upsert("rm_apikey_accounts", "account_id, status", "uuid,text", "account_id"), c.args()...)
		}
	case RMUsage:
		w.usage.queueWrite(b)
	case RMBalances:
		if len(w.balances) > 0 {
			var c cols
			for id, d := range w.balances {
				c.add(id, d.Credits, d.Payments, d.Refunds, d.DisputesLost, d.UsageCost, d.OpenDisputes)
			}
			b.Queue(`INSERT INTO rm_balances (account_id, credits, payments, refunds, disputes_lost, usage_cost, open_disputes)
				SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[])
				ON CONFLICT (account_id) DO UPDATE SET credits = rm_balances.credits + EXCLUDED.credits,
					payments = rm_balances.payments + EXCLUDED.payments, refunds = rm_balances.refunds + EXCLUDED.refunds,
					disputes_lost = rm_balances.disputes_lost + EXCLUDED.disputes_lost, usage_cost = rm_balances.usage_cost + EXCLUDED.usage_cost,
					open_disputes = rm_balances.open_disputes + EXCLUDED.open_disputes`, c.args()...)
		}
		if len(w.txs) > 0 {
			var c cols
			for _, t := range w.txs {
				c.add(int64(t.Position), t.EventID, t.AccountID, t.Kind, t.AmountMicros, t.Currency, t.Processor, t.Reference, t.PaymentRef, t.Reason, t.At)
			}
			b.Queue(`INSERT INTO rm_transactions (`+txCols+`)
				SELECT * FROM unnest($1::int8[], $2::uuid[], $3::uuid[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[])
				ON CONFLICT (position) DO NOTHING`, c.args()...)
		}
		if len(w.dirtyDisp) > 0 {
			var c cols
			for k := range w.dirtyDisp {
				d := w.disputes[k]
				c.add(d.AccountID, d.Processor, d.DisputeID, d.PaymentRef, d.AmountMicros, d.Currency, d.Status, d.OpenedAt, d.ResolvedAt, int64(d.OpenedPos))
			}
			b.Queue(upsert("rm_disputes", disputeCols, "uuid,text,text,text,int8,text,text,timestamptz,timestamptz,int8", "account_id, processor, dispute_id"), c.args()...)
		}
	case RMConsent:
		if len(w.receipts) == 0 {
			return nil
		}
		var c cols
		seq, prev := 0, uint64(0)
		for _, r := range w.receipts {
			if r.Position != prev {
				seq, prev = 0, r.Position
			}
			c.add(int64(r.Position), int32(seq), r.AccountID, r.Kind, r.Purpose, r.Granted, r.At, r.Method, r.PolicyVersion, r.Actor)
			seq++
		}
		b.Queue(`INSERT INTO rm_consent_receipts (position, seq, `+consentCols+`)
			SELECT * FROM unnest($1::int8[], $2::int4[], $3::uuid[], $4::text[], $5::text[], $6::bool[], $7::timestamptz[], $8::text[], $9::text[], $10::text[])
			ON CONFLICT (position, seq) DO NOTHING`, c.args()...)
	case RMFraud:
		if len(w.dirtyHash) == 0 {
			return nil
		}
		var c, a cols
		for h := range w.dirtyHash {
			v := w.fraud[h]
			c.add(v.EmailHash, v.FirstSeen, v.ClaimedBy, v.NewUserGrants, v.NewUserCreditMicros)
			for i, id := range v.Accounts {
				a.add(v.EmailHash, id, int32(i))
			}
		}
		b.Queue(upsert("rm_fraud_hashes", "email_hash, first_seen, claimed_by, new_user_grants, new_user_credit_micros", "text,timestamptz,uuid,int8,int8", "email_hash"), c.args()...)
		if a.n > 0 {
			b.Queue(`INSERT INTO rm_fraud_accounts (email_hash, account_id, ord) SELECT * FROM unnest($1::text[], $2::uuid[], $3::int4[])
				ON CONFLICT (email_hash, account_id) DO NOTHING`, a.args()...)
		}
	case RMPrivacy:
		if len(w.dirty) > 0 {
			var c cols
			for id := range w.dirty {
				r := w.privacy.Requests[id]
				c.add(r.RequestID, r.Subject, r.Kind, r.Channel, r.Law, r.Status, r.ReceivedAt, r.DueAt, r.AckDueAt, r.AcknowledgedAt, r.ExtendedAt,
					r.ExtensionReason, joinIDs(r.DeferredBy), r.ExportID, r.KeyShreddedAt, r.CertificateID, r.ClosedAt, r.RejectReason,
					projections.MarshalRef(r.Details))
			}
			b.Queue(upsert("rm_privacy_requests", requestCols, "uuid,uuid,text,text,text,text,timestamptz,timestamptz,timestamptz,timestamptz,timestamptz,text,text,uuid,timestamptz,uuid,timestamptz,text,bytea", "request_id"), c.args()...)
		}
		if len(w.dirtyHold) > 0 {
			var c cols
			for id := range w.dirtyHold {
				h := w.privacy.Holds[id]
				c.add(h.HoldID, h.Subject, strings.Join(h.Categories, ","), h.Basis, h.Reference, h.ReviewAt, h.PlacedAt, h.ReleasedAt, h.Active, int64(h.PlacedPos))
			}
			b.Queue(upsert("rm_legal_holds", holdCols, "uuid,uuid,text,text,text,timestamptz,timestamptz,timestamptz,bool,int8", "hold_id"), c.args()...)
		}
	}
	return nil
}

// upsert builds INSERT ... SELECT FROM unnest(...) ON CONFLICT (key) DO
// UPDATE SET every other column.
func upsert(table, columns, types, key string) string {
	cs := strings.Split(columns, ",")
	ts := strings.Split(types, ",")
	keys := map[string]bool{}
	for _, k := range strings.Split(key, ",") {
		keys[strings.TrimSpace(k)] = true
	}
	var params, sets []string
	for i, t := range ts {
		params = append(params, fmt.Sprintf("$%d::%s[]", i+1, strings.TrimSpace(t)))
	}
	for _, c := range cs {
		c = strings.TrimSpace(c)
		if !keys[c] {
			sets = append(sets, c+" = EXCLUDED."+c)
		}
	}
	return `INSERT INTO ` + table + ` (` + columns + `) SELECT * FROM unnest(` + strings.Join(params, ", ") + `)
		ON CONFLICT (` + key + `) DO UPDATE SET ` + strings.Join(sets, ", ")
}

func scanAll(rows pgx.Rows, fn func(pgx.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func joinIDs(ids []uuid.UUID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ",")
}

func splitIDs(s string) []uuid.UUID {
	if s == "" {
		return nil
	}
	var out []uuid.UUID
	for _, p := range strings.Split(s, ",") {
		if id, err := uuid.Parse(p); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}
