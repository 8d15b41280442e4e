// Package readmodeltest is the differential contract suite of the read
// models: it generates a realistic history with the domain aggregates,
// stores it through a real codec (sealing personal data), replays it into
// the in-memory reference and into the implementation under test, and
// requires every query to agree. It also checks restart from a checkpoint,
// erasure (crypto-shredding) and that no plaintext personal data is stored.
// It must only be imported by tests and benchmarks.
package readmodeltest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
)

// Env is a real codec over an in-memory vault, and a store.
type Env struct {
	Keyring *eventstore.MemKeyring
	Vault   *eventstore.MemVault
	Sealer  *eventstore.VaultSealer
	Codec   *eventstore.Codec
	Store   eventstore.Store
}

// NewEnv wires a codec over Registry to an in-memory vault.
// store may be nil (an in-memory store).
func NewEnv(store eventstore.Store) (*Env, error) {
	reg, err := Registry()
	if err != nil {
		return nil, err
	}
	kr := eventstore.NewMemKeyring()
	v := eventstore.NewMemVault(kr)
	s := eventstore.NewSealer(v, 0)
	codec, err := eventstore.NewCodec(reg, s)
	if err != nil {
		return nil, err
	}
	if store == nil {
		store = eventstore.NewMemStore()
	}
	return &Env{Keyring: kr, Vault: v, Sealer: s, Codec: codec, Store: store}, nil
}

// Registry registers every domain event type, like commands.NewRegistry
// (which this package does not import, so the suite does not pull in the
// write side's dependencies). Keep the two lists in step.
func Registry() (*eventstore.Registry, error) {
	r := eventstore.NewRegistry()
	for _, evs := range [][]any{
		account.Events(), apikey.Events(), usage.Events(),
		billing.Events(), consent.Events(), privacy.Events(),
	} {
		if err := r.Register(evs...); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Canary is a person whose plaintext must never be found in a read model.
type Canary struct {
	AccountID uuid.UUID
	Email     string
	Name      string
	KeyName   string
	Details   string
	EmailHash string
	RequestID uuid.UUID // an erasure request of theirs
}

// History is what Generate wrote: the ids to query.
type History struct {
	Accounts     []uuid.UUID
	Keys         []uuid.UUID
	SecretHashes []string // current and retired
	EmailHashes  []string
	Requests     []uuid.UUID
	Canary       Canary
	Start, End   time.Time
	Events       int
}

// GenConfig sizes a history.
type GenConfig struct {
	Accounts       int // default 12
	KeysPerAccount int // default 2
	UsagePerKey    int // default 20
	Seed           uint64
}

type gen struct {
	ctx  context.Context
	env  *Env
	rnd  *rand.Rand
	now  time.Time
	h    *History
	meta eventstore.Metadata
}

func (g *gen) tick() time.Time {
	g.now = g.now.Add(time.Duration(1+g.rnd.IntN(90)) * time.Minute).Add(time.Duration(g.rnd.IntN(1000)) * time.Microsecond)
	return g.now
}

// appendAll encodes changes and appends them to stream at expected.
func (g *gen) appendAll(stream string, expected eventstore.ExpectedVersion, changes []any) error {
	evs := make([]eventstore.Event, 0, len(changes))
	for _, c := range changes {
		var (
			ev  eventstore.Event
			err error
		)
		switch e := c.(type) {
		case usage.Recorded:
			ev, err = g.env.Codec.EncodeWithID(g.ctx, e.EventID(), e, g.meta)
		case usage.ErrorReported:
			ev, err = g.env.Codec.EncodeWithID(g.ctx, e.EventID(), e, g.meta)
		default:
			ev, err = g.env.Codec.Encode(g.ctx, c, g.meta)
		}
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil
	}
	if _, err := g.env.Store.Append(g.ctx, stream, expected, evs...); err != nil {
		return fmt.Errorf("append %s: %w", stream, err)
	}
	g.h.Events += len(evs)
	return nil
}

var (
	regions = []struct {
		region string
		j      domain.Jurisdiction
	}{{"DE", domain.EU}, {"FR", domain.EU}, {"GB", domain.UK}, {"US", domain.USCA}, {"BR", domain.Other}}
	models = []struct{ provider, model string }{
		{"openai", "gpt-4o"}, {"openai", "gpt-4o-mini"}, {"anthropic", "claude-sonnet-4"}, {"google", "gemini-2.5-pro"},
	}
)

// Generate writes a realistic history to env.Store: registrations (one the
// canary), email changes, rectifications, keys issued, rotated, revoked and
// expiring, usage and errors, credits (new-user only for new email hashes),
// payments, refunds, disputes won and lost, consent defaults and changes,
// policy publication and acceptance, privacy requests of every kind with
// extensions, deferrals and holds. Erasure is left to the caller (see Erase).
func Generate(ctx context.Context, env *Env, cfg GenConfig) (*History, error) {
	if cfg.Accounts <= 0 {
		cfg.Accounts = 12
	}
	if cfg.KeysPerAccount <= 0 {
		cfg.KeysPerAccount = 2
	}
	if cfg.UsagePerKey <= 0 {
		cfg.UsagePerKey = 20
	}
	start := time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC)
	g := &gen{ctx: ctx, env: env, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)), now: start, h: &History{Start: start},
		meta: eventstore.Metadata{Actor: "system", ActorRole: "admin"}}
	pepper := env.Keyring.Pepper()

	// policy
	pol := consent.RehydratePolicy(nil)
	if err := pol.Publish(consent.PublishParams{Version: "2025-01", ContentHash: fmt.Sprintf("%064x", 1), EffectiveAt: start}, g.tick()); err != nil {
		return nil, err
	}
	if err := g.appendAll(consent.PolicyStream, eventstore.NoStream, pol.Changes()); err != nil {
		return nil, err
	}

	for a := 0; a < cfg.Accounts; a++ {
		id := uuid.Must(uuid.NewRandomFromReader(g))
		reg := regions[a%len(regions)]
		email := fmt.Sprintf("user%d@example.org", a)
		name := fmt.Sprintf("Person Number%d", a)
		if a == 0 {
			email, name = "canary.7f3a9@example.net", "Zebulon Canarytest"
			g.h.Canary = Canary{AccountID: id, Email: email, Name: name, KeyName: "canary-key-label-x91"}
		}
		if a == cfg.Accounts-1 && cfg.Accounts > 2 {
			email = "USER1+again@example.org" // same mailbox as user1: fraud hash repeats
		}
		hash := eventstore.EmailHash(pepper, account.NormaliseEmail(email))
		if a == 0 {
			g.h.Canary.EmailHash = hash
		}
		acc, err := account.Register(account.RegisterParams{AccountID: id, Email: email, Name: name, EmailHash: hash,
			AgeConfirmed: true, Region: reg.region, Jurisdiction: reg.j}, g.tick())
		if err != nil {
			return nil, err
		}
		if err := g.appendAll(account.Stream(id), eventstore.NoStream, acc.Changes()); err != nil {
			return nil, err
		}
		g.h.Accounts = append(g.h.Accounts, id)
		g.h.EmailHashes = append(g.h.EmailHashes, hash)

		// email hash claim and new-user credits (only for a new hash)
		led := billing.Rehydrate(id, nil)
		claim, err := account.ClaimEmailHash(hash, id, g.now)
		if err == nil {
			err = g.appendAll(account.EmailHashStream(hash), eventstore.NoStream, claim.Changes())
		}
		if err == nil {
			if err := led.GrantCredits(billing.GrantParams{AmountMicros: 5_000_000, Reason: billing.NewUser, EmailHash: hash}, g.tick()); err != nil {
				return nil, err
			}
		} else if !isConcurrency(err) {
			return nil, err
		}

		// consent
		cs := consent.Rehydrate(id, nil)
		if err := cs.ApplyDefaults(reg.j, "2025-01", g.now); err != nil {
			return nil, err
		}
		if err := cs.AcceptPolicy("2025-01", consent.Receipt{Method: consent.SignupForm, Actor: id.String()}, g.now); err != nil {
			return nil, err
		}
		if a%2 == 0 {
			if err := cs.Give(consent.MarketingEmail, consent.Receipt{Method: consent.SettingsPage, PolicyVersion: "2025-01", Actor: id.String()}, g.tick()); err != nil {
				return nil, err
			}
		}
		if a%3 == 0 {
			if err := cs.Give(consent.Analytics, consent.Receipt{Method: consent.CookieBanner, PolicyVersion: "2025-01", Actor: id.String()}, g.tick()); err != nil {
				return nil, err
			}
			if err := cs.Withdraw(consent.MarketingEmail, consent.Receipt{Method: consent.API, PolicyVersion: "2025-01", Actor: id.String()}, g.tick()); err != nil {
				return nil, err
			}
		}

		// keys
		var keyIDs []uuid.UUID
		for k := 0; k < cfg.KeysPerAccount; k++ {
			kname := fmt.Sprintf("key %d of %d", k, a)
			if a == 0 && k == 0 {
				kname = g.h.Canary.KeyName
			}
			var exp *time.Time
			if k == 1 {
				t := g.now.Add(10 * 24 * time.Hour)
				exp = &t
			}
			key, _, err := apikey.Issue(apikey.IssueParams{AccountID: id, Name: kname, Scopes: []string{"inference", "usage:read"}, ExpiresAt: exp}, g, g.tick())
			if err != nil {
				return nil, err
			}
			g.h.SecretHashes = append(g.h.SecretHashes, key.SecretHash())
			if k == 0 && a%4 == 1 {
				if _, err := key.Rotate(g, g.tick()); err != nil {
					return nil, err
				}
				g.h.SecretHashes = append(g.h.SecretHashes, key.SecretHash())
			}
			if k == 1 && a%3 == 2 {
				if err := key.Revoke(apikey.RevokeCompromised, g.tick()); err != nil {
					return nil, err
				}
			}
			if err := g.appendAll(apikey.Stream(key.ID()), eventstore.NoStream, key.Changes()); err != nil {
				return nil, err
			}
			keyIDs = append(keyIDs, key.ID())
			g.h.Keys = append(g.h.Keys, key.ID())
		}

		// usage over several days
		for _, kid := range keyIDs {
			for u := 0; u < cfg.UsagePerKey; u++ {
				m := models[g.rnd.IntN(len(models))]
				st := "ok"
				if g.rnd.IntN(10) == 0 {
					st = "error"
				}
				occurred := g.now.Add(time.Duration(u*7) * time.Hour)
				rec, err := usage.Record(usage.RecordParams{RequestID: fmt.Sprintf("req-%d", u), KeyID: kid, AccountID: id,
					Provider: m.provider, Model: m.model, InputTokens: int64(100 + g.rnd.IntN(4000)), OutputTokens: int64(g.rnd.IntN(2000)),
					CostMicros: int64(g.rnd.IntN(50000)), Status: st, LatencyMs: int64(g.rnd.IntN(3000)), ClientIP: "203.0.113.7", UserAgent: "sdk/1.0"}, occurred)
				if err != nil {
					return nil, err
				}
				changes := []any{rec}
				if st == "error" {
					er, err := usage.ReportError(usage.ReportErrorParams{RequestID: fmt.Sprintf("req-%d", u), KeyID: kid, AccountID: id,
						Provider: m.provider, Model: m.model, Code: "upstream_timeout", HTTPStatus: 504, Detail: "timed out"}, occurred)
					if err != nil {
						return nil, err
					}
					changes = append(changes, er)
				}
				if err := g.appendAll(usage.Stream(id, occurred), eventstore.Any, changes); err != nil {
					return nil, err
				}
			}
		}
		// a repeated usage event (same request id): dropped by the store
		if len(keyIDs) > 0 {
			rec, _ := usage.Record(usage.RecordParams{RequestID: "req-0", KeyID: keyIDs[0], AccountID: id, Provider: "openai", Model: "gpt-4o",
				InputTokens: 1, CostMicros: 1, Status: "ok"}, g.now)
			_ = g.appendAll(usage.Stream(id, g.now), eventstore.Any, []any{rec})
			g.h.Events--
		}

		// money
		ref := fmt.Sprintf("pi_%d_%d", a, g.rnd.IntN(1_000_000))
		if err := led.RecordPayment(billing.PaymentParams{Processor: billing.Stripe, Reference: ref, AmountMicros: 20_000_000, Currency: "eur"}, g.tick()); err != nil {
			return nil, err
		}
		if a%3 == 1 {
			if err := led.Refund(billing.RefundParams{Processor: billing.Stripe, PaymentRef: ref, RefundRef: "re_" + ref, AmountMicros: 5_000_000}, g.tick()); err != nil {
				return nil, err
			}
		}
		var holdID uuid.UUID
		if a%4 == 2 {
			dis := "dp_" + ref
			if err := led.OpenDispute(billing.DisputeParams{Processor: billing.Stripe, PaymentRef: ref, DisputeID: dis, AmountMicros: 7_000_000}, g.tick()); err != nil {
				return nil, err
			}
			holdID = uuid.Must(uuid.NewRandomFromReader(g))
			hold, err := privacy.PlaceHold(privacy.HoldParams{HoldID: holdID, Subject: id, Categories: []privacy.Category{privacy.Payments},
				Basis: privacy.Dispute, Reference: dis, ReviewAt: g.now.Add(90 * 24 * time.Hour)}, g.now)
			if err != nil {
				return nil, err
			}
			outcome := billing.Won
			if a%8 == 2 {
				outcome = billing.Lost
			}
			if err := led.ResolveDispute(billing.Stripe, dis, outcome, g.tick()); err != nil {
				return nil, err
			}
			if outcome == billing.Won {
				if err := hold.Release(g.tick()); err != nil {
					return nil, err
				}
			}
			if err := g.appendAll(privacy.HoldStream(holdID), eventstore.NoStream, hold.Changes()); err != nil {
				return nil, err
			}
			if outcome == billing.Won {
				holdID = uuid.Nil
			}
		}
		if a%5 == 4 {
			if err := led.GrantCredits(billing.GrantParams{AmountMicros: 1_000_000, Reason: billing.Goodwill}, g.tick()); err != nil {
				return nil, err
			}
		}
		if err := g.appendAll(billing.Stream(id), eventstore.NoStream, led.Changes()); err != nil {
			return nil, err
		}

		// account changes
		if a%3 == 1 {
			if err := acc.ChangeEmail(fmt.Sprintf("changed%d@example.org", a), eventstore.EmailHash(pepper, account.NormaliseEmail(fmt.Sprintf("changed%d@example.org", a))), g.tick()); err != nil {
				return nil, err
			}
		}
		if a%4 == 3 {
			n := fmt.Sprintf("Corrected Name%d", a)
			if err := acc.Rectify(account.RectifyParams{Name: &n}, g.tick()); err != nil {
				return nil, err
			}
		}
		if a%5 == 3 {
			if err := acc.Suspend(account.SuspendAbuse, g.tick()); err != nil {
				return nil, err
			}
			if a%10 == 3 {
				if err := acc.Reinstate(g.tick()); err != nil {
					return nil, err
				}
			}
		}
		if a%7 == 6 {
			if err := acc.Close(account.CloseCustomerRequest, g.tick()); err != nil {
				return nil, err
			}
		}
		if err := g.appendAll(account.Stream(id), eventstore.Exact(1), acc.Changes()[1:]); err != nil {
			return nil, err
		}
		if err := g.appendAll(consent.Stream(id), eventstore.NoStream, cs.Changes()); err != nil {
			return nil, err
		}

		// privacy requests
		law := privacy.LawFor(reg.j)
		if a%2 == 0 || a == 0 {
			kind := []privacy.Kind{privacy.Access, privacy.Rectification, privacy.Erasure}[a%3]
			details := fmt.Sprintf("please handle my data, account %d", a)
			if a == 0 {
				kind, details = privacy.Erasure, "Canary details: Zebulon asks for erasure"
				g.h.Canary.Details = details
			}
			rid := uuid.Must(uuid.NewRandomFromReader(g))
			req, err := privacy.Receive(privacy.ReceiveParams{RequestID: rid, Subject: id, Kind: kind, Channel: privacy.WebForm, Law: law, Details: details}, g.tick())
			if err != nil {
				return nil, err
			}
			if a == 0 {
				g.h.Canary.RequestID = rid
			}
			if a%4 != 0 {
				if err := req.Acknowledge(g.tick()); err != nil {
					return nil, err
				}
			}
			if a%6 == 2 {
				if err := req.Extend(privacy.ExtendParams{Reason: privacy.Complexity, NoticeSentAt: g.now}, g.tick()); err != nil {
					return nil, err
				}
			}
			switch {
			case a == 0:
			case kind == privacy.Access && a%4 == 0:
				if err := req.RecordExport(uuid.Must(uuid.NewRandomFromReader(g)), fmt.Sprintf("%064x", a), g.tick()); err != nil {
					return nil, err
				}
				if err := req.Complete(g.tick()); err != nil {
					return nil, err
				}
			case kind == privacy.Erasure && holdID != uuid.Nil:
				if err := req.Defer([]uuid.UUID{holdID}, g.tick()); err != nil {
					return nil, err
				}
			case kind == privacy.Rectification && a%4 == 2:
				if err := req.Reject(privacy.IdentityNotVerified, g.tick()); err != nil {
					return nil, err
				}
			}
			if err := g.appendAll(privacy.RequestStream(rid), eventstore.NoStream, req.Changes()); err != nil {
				return nil, err
			}
			g.h.Requests = append(g.h.Requests, rid)
		}
	}
	g.h.End = g.now
	return g.h, nil
}

// Read implements io.Reader with the generator's seeded randomness, so key
// ids and secrets are reproducible.
func (g *gen) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(g.rnd.Uint32())
	}
	return len(p), nil
}

func isConcurrency(err error) bool {
	_, ok := err.(*eventstore.ConcurrencyError)
	return ok || err != nil && errors.Is(err, eventstore.ErrConcurrency)
}

// Erase erases the canary the way the erasure workflow does: shred the key
// in the vault, then record the shred on the request and the account.
func Erase(ctx context.Context, env *Env, h *History, at time.Time) error {
	res, err := env.Sealer.Shred(ctx, h.Canary.AccountID.String())
	if err != nil {
		return err
	}
	meta := eventstore.Metadata{Actor: "system", ActorRole: "compliance"}
	evs, err := env.Store.ReadStream(ctx, privacy.RequestStream(h.Canary.RequestID), 1, 0)
	if err != nil {
		return err
	}
	var hist []any
	for _, ev := range evs {
		p, err := env.Codec.DecodePublic(ev)
		if err != nil {
			return err
		}
		hist = append(hist, p)
	}
	req := privacy.RehydrateRequest(h.Canary.RequestID, hist)
	if err := req.RecordKeyShredded(res.KeyID.String(), at); err != nil {
		return err
	}
	g := &gen{ctx: ctx, env: env, h: h, meta: meta}
	if err := g.appendAll(privacy.RequestStream(h.Canary.RequestID), eventstore.Exact(req.Version()), req.Changes()); err != nil {
		return err
	}
	aevs, err := env.Store.ReadStream(ctx, account.Stream(h.Canary.AccountID), 1, 0)
	if err != nil {
		return err
	}
	var ah []any
	for _, ev := range aevs {
		p, err := env.Codec.DecodePublic(ev)
		if err != nil {
			return err
		}
		ah = append(ah, p)
	}
	acc := account.Rehydrate(h.Canary.AccountID, ah)
	if err := acc.Erase(h.Canary.RequestID, at.Add(time.Second)); err != nil {
		return err
	}
	return g.appendAll(account.Stream(h.Canary.AccountID), eventstore.Exact(acc.Version()), acc.Changes())
}
