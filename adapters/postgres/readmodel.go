package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// readModelMigrations are the read-model tables (component "readmodels").
// Every table holds public data and sealed references only: personal data is
// opened at query time with the codec, never stored in clear.
var readModelMigrations = []Migration{{
	Version: 1,
	Name:    "read models",
	SQL: `
CREATE TABLE IF NOT EXISTS projection_checkpoints (
	name     text   PRIMARY KEY,
	position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS rm_accounts (
	id             uuid        PRIMARY KEY,
	status         text        NOT NULL,
	region         text        NOT NULL,
	jurisdiction   text        NOT NULL,
	email_hash     text        NOT NULL,
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL,
	erased         boolean     NOT NULL,
	email_ref      bytea,
	name_ref       bytea,
	registered_pos bigint      NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS rm_accounts_pos ON rm_accounts (registered_pos);
CREATE INDEX IF NOT EXISTS rm_accounts_status ON rm_accounts (status, registered_pos);
CREATE TABLE IF NOT EXISTS rm_api_keys (
	key_id        uuid        PRIMARY KEY,
	account_id    uuid        NOT NULL,
	prefix        text        NOT NULL,
	secret_hash   text,
	scopes        text        NOT NULL,
	status        text        NOT NULL,
	issued_at     timestamptz NOT NULL,
	expires_at    timestamptz,
	rotated_at    timestamptz,
	revoked_at    timestamptz,
	revoke_reason text        NOT NULL,
	expired_at    timestamptz,
	name_ref      bytea,
	issued_pos    bigint      NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS rm_api_keys_hash ON rm_api_keys (secret_hash) WHERE secret_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS rm_api_keys_account ON rm_api_keys (account_id, issued_pos);
CREATE TABLE IF NOT EXISTS rm_apikey_accounts (
	account_id uuid PRIMARY KEY,
	status     text NOT NULL
);
CREATE TABLE IF NOT EXISTS rm_usage (
	account_id    uuid   NOT NULL,
	day           date   NOT NULL,
	key_id        uuid   NOT NULL,
	model         text   NOT NULL,
	provider      text   NOT NULL,
	requests      bigint NOT NULL,
	input_tokens  bigint NOT NULL,
	output_tokens bigint NOT NULL,
	cost_micros   bigint NOT NULL,
	errors        bigint NOT NULL,
	error_reports bigint NOT NULL,
	PRIMARY KEY (account_id, day, key_id, model, provider)
);
CREATE TABLE IF NOT EXISTS rm_balances (
	account_id    uuid   PRIMARY KEY,
	credits       bigint NOT NULL,
	payments      bigint NOT NULL,
	refunds       bigint NOT NULL,
	disputes_lost bigint NOT NULL,
	usage_cost    bigint NOT NULL,
	open_disputes bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS rm_transactions (
	position      bigint      PRIMARY KEY,
	event_id      uuid        NOT NULL,
	account_id    uuid        NOT NULL,
	kind          text        NOT NULL,
	amount_micros bigint      NOT NULL,
	currency      text        NOT NULL,
	processor     text        NOT NULL,
	reference     text        NOT NULL,
	payment_ref   text        NOT NULL,
	reason        text        NOT NULL,
	at            timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_transactions_account ON rm_transactions (account_id, position);
CREATE TABLE IF NOT EXISTS rm_disputes (
	account_id    uuid        NOT NULL,
	processor     text        NOT NULL,
	dispute_id    text        NOT NULL,
	payment_ref   text        NOT NULL,
	amount_micros bigint      NOT NULL,
	currency      text        NOT NULL,
	status        text        NOT NULL,
	opened_at     timestamptz NOT NULL,
	resolved_at   timestamptz,
	opened_pos    bigint      NOT NULL,
	PRIMARY KEY (account_id, processor, dispute_id)
);
CREATE TABLE IF NOT EXISTS rm_consent_receipts (
	position       bigint      NOT NULL,
	seq            integer     NOT NULL,
	account_id     uuid        NOT NULL,
	kind           text        NOT NULL,
	purpose        text        NOT NULL,
	granted        boolean     NOT NULL,
	at             timestamptz NOT NULL,
	method         text        NOT NULL,
	policy_version text        NOT NULL,
	actor          text        NOT NULL,
	PRIMARY KEY (position, seq)
);
CREATE INDEX IF NOT EXISTS rm_consent_receipts_account ON rm_consent_receipts (account_id, position, seq);
CREATE TABLE IF NOT EXISTS rm_fraud_hashes (
	email_hash             text        PRIMARY KEY,
	first_seen             timestamptz NOT NULL,
	claimed_by             uuid,
	new_user_grants        bigint      NOT NULL,
	new_user_credit_micros bigint      NOT NULL
);
CREATE TABLE IF NOT EXISTS rm_fraud_accounts (
	email_hash text    NOT NULL,
	account_id uuid    NOT NULL,
	ord        integer NOT NULL,
	PRIMARY KEY (email_hash, account_id)
);
CREATE TABLE IF NOT EXISTS rm_privacy_requests (
	request_id       uuid        PRIMARY KEY,
	subject          uuid        NOT NULL,
	kind             text        NOT NULL,
	channel          text        NOT NULL,
	law              text        NOT NULL,
	status           text        NOT NULL,
	received_at      timestamptz NOT NULL,
	due_at           timestamptz NOT NULL,
	ack_due_at       timestamptz,
	acknowledged_at  timestamptz,
	extended_at      timestamptz,
	extension_reason text        NOT NULL,
	deferred_by      text        NOT NULL,
	export_id        uuid,
	key_shredded_at  timestamptz,
	certificate_id   uuid,
	closed_at        timestamptz,
	reject_reason    text        NOT NULL,
	details_ref      bytea
);
CREATE INDEX IF NOT EXISTS rm_privacy_requests_subject ON rm_privacy_requests (subject);
CREATE INDEX IF NOT EXISTS rm_privacy_requests_open_due ON rm_privacy_requests (due_at) WHERE status NOT IN ('completed', 'rejected');
CREATE TABLE IF NOT EXISTS rm_legal_holds (
	hold_id     uuid        PRIMARY KEY,
	subject     uuid        NOT NULL,
	categories  text        NOT NULL,
	basis       text        NOT NULL,
	reference   text        NOT NULL,
	review_at   timestamptz NOT NULL,
	placed_at   timestamptz NOT NULL,
	released_at timestamptz,
	active      boolean     NOT NULL,
	placed_pos  bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_legal_holds_subject ON rm_legal_holds (subject, placed_pos);
`,
}}

// ReadModelTables lists every read-model table (for dumps and rebuilds).
var ReadModelTables = []string{"rm_accounts", "rm_api_keys", "rm_apikey_accounts", "rm_usage", "rm_balances", "rm_transactions",
	"rm_disputes", "rm_consent_receipts", "rm_fraud_hashes", "rm_fraud_accounts", "rm_privacy_requests", "rm_legal_holds"}

// Read-model names: each has its own checkpoint row.
const (
	RMAccounts = "accounts"
	RMKeys     = "apikeys"
	RMUsage    = "usage"
	RMBalances = "balances"
	RMConsent  = "consent"
	RMFraud    = "fraud"
	RMPrivacy  = "privacy"
)

// AllReadModels lists the read-model names.
var AllReadModels = []string{RMAccounts, RMKeys, RMUsage, RMBalances, RMConsent, RMFraud, RMPrivacy}

// ReadModelsConfig configures OpenReadModels.
type ReadModelsConfig struct {
	// Pool is the database (normally Store.Pool()); its search_path decides
	// the schema. Required.
	Pool *pgxpool.Pool
	// Codec opens sealed personal data at query time. Required.
	Codec *eventstore.Codec
	// Now is the clock of key expiry checks; default time.Now.
	Now func() time.Time
}

// ReadModels is every read model in PostgreSQL. It implements
// projections.ReadModels and, through Projector, the runner's contract:
// each batch changes the tables and the checkpoints of the read models in one
// transaction, so a crash never applies an event twice or skips one.
type ReadModels struct {
	pool  *pgxpool.Pool
	codec *eventstore.Codec
	now   func() time.Time
	inval *projections.Invalidation
}

var _ projections.ReadModels = (*ReadModels)(nil)

// OpenReadModels applies the read-model migrations and returns the models.
func OpenReadModels(ctx context.Context, cfg ReadModelsConfig) (*ReadModels, error) {
	if cfg.Pool == nil || cfg.Codec == nil {
		return nil, errors.New("postgres: read models need a pool and a codec")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := ApplyMigrations(ctx, cfg.Pool, "readmodels", readModelMigrations); err != nil {
		return nil, err
	}
	return &ReadModels{pool: cfg.Pool, codec: cfg.Codec, now: cfg.Now, inval: &projections.Invalidation{}}, nil
}

// Projector returns a projector that applies the named read models (all of
// them when names is empty) in one transaction per batch.
func (m *ReadModels) Projector(names ...string) projections.Projector {
	if len(names) == 0 {
		names = AllReadModels
	}
	return &rmProjector{m: m, names: names}
}

// Accounts implements projections.ReadModels.
func (m *ReadModels) Accounts() projections.AccountsQuery { return rmAccounts{m} }

// Keys implements projections.ReadModels.
func (m *ReadModels) Keys() projections.KeysQuery { return rmKeys{m} }

// Usage implements projections.ReadModels.
func (m *ReadModels) Usage() projections.UsageQuery { return rmUsage{m} }

// Balances implements projections.ReadModels.
func (m *ReadModels) Balances() projections.BalancesQuery { return rmBalances{m} }

// Consent implements projections.ReadModels.
func (m *ReadModels) Consent() projections.ConsentQuery { return rmConsent{m} }

// Fraud implements projections.ReadModels.
func (m *ReadModels) Fraud() projections.FraudQuery { return rmFraud{m} }

// Privacy implements projections.ReadModels.
func (m *ReadModels) Privacy() projections.PrivacyQuery { return rmPrivacy{m} }

// Checkpoints returns every read model's checkpoint (0 when never applied).
func (m *ReadModels) Checkpoints(ctx context.Context) (map[string]uint64, error) {
	rows, err := m.pool.Query(ctx, `SELECT name, position FROM projection_checkpoints`)
	if err != nil {
		return nil, fmt.Errorf("postgres: checkpoints: %w", mapErr(err))
	}
	out := map[string]uint64{}
	for _, n := range AllReadModels {
		out[n] = 0
	}
	for rows.Next() {
		var n string
		var p int64
		if err := rows.Scan(&n, &p); err != nil {
			rows.Close()
			return nil, mapErr(err)
		}
		out[n] = uint64(p)
	}
	rows.Close()
	return out, mapErr(rows.Err())
}

// DumpReadModels renders every row of every read-model table as text (for
// the plaintext scans of privacy tests and certificates).
func (m *ReadModels) DumpReadModels(ctx context.Context) (string, error) {
	var out []byte
	for _, t := range append([]string{"projection_checkpoints"}, ReadModelTables...) {
		rows, err := m.pool.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{t}.Sanitize()+` t`)
		if err != nil {
			return "", fmt.Errorf("postgres: dump %s: %w", t, mapErr(err))
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return "", err
			}
			out = append(out, s...)
			out = append(out, '\n')
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	return string(out), nil
}

// RebuildReadModels builds fresh read models from the whole log into a new
// schema beside the live one, then swaps the tables in one transaction: the
// live tables move to a backup schema (dropped afterwards) and the new ones
// take their place, so queries see the old or the new models, never a mix.
// The caller stops the live runner first (it would keep writing the old
// tables) and restarts it afterwards from the new checkpoints.
func RebuildReadModels(ctx context.Context, pool *pgxpool.Pool, store eventstore.Store, codec *eventstore.Codec, cfg projections.ReplayConfig) (uint64, error) {
	var live string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&live); err != nil {
		return 0, mapErr(err)
	}
	suffix := fmt.Sprintf("%x", time.Now().UnixNano())
	build, old := live+"_rmbuild_"+suffix, live+"_rmold_"+suffix
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{build}.Sanitize()); err != nil {
		return 0, mapErr(err)
	}
	dropBuild := func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{build}.Sanitize()+` CASCADE`)
	}
	pcfg := pool.Config().Copy()
	pcfg.ConnConfig.RuntimeParams["search_path"] = build
	// Nothing reads the build schema before the swap, and the swap commits
	// synchronously, which flushes the WAL of every batch before it: the
	// batches need not wait for their own flush. A crash before the swap
	// leaves an unused build schema, as it would with synchronous commits.
	pcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	bpool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		dropBuild()
		return 0, mapErr(err)
	}
	defer bpool.Close()
	rm, err := OpenReadModels(ctx, ReadModelsConfig{Pool: bpool, Codec: codec})
	if err != nil {
		dropBuild()
		return 0, err
	}
	last, err := projections.Replay(ctx, store, codec, rm.Projector(), projections.Until{}, cfg)
	if err != nil {
		dropBuild()
		return 0, err
	}
	tables := append([]string{"projection_checkpoints"}, ReadModelTables...)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{old}.Sanitize()); err != nil {
			return err
		}
		for _, t := range tables {
			if _, err := tx.Exec(ctx, `ALTER TABLE IF EXISTS `+pgx.Identifier{live, t}.Sanitize()+` SET SCHEMA `+pgx.Identifier{old}.Sanitize()); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `ALTER TABLE `+pgx.Identifier{build, t}.Sanitize()+` SET SCHEMA `+pgx.Identifier{live}.Sanitize()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		dropBuild()
		return 0, fmt.Errorf("postgres: swap rebuilt read models: %w", mapErr(err))
	}
	dropBuild()
	if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{old}.Sanitize()+` CASCADE`); err != nil {
		return last, fmt.Errorf("postgres: drop old read models: %w", mapErr(err))
	}
	return last, nil
}
