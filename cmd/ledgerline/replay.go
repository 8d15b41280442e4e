package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	cmdsvc "github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// runReplay builds the read models as they were at a past moment (a store
// time or a log position) and prints them as JSON, for auditors. It reads
// public data only: it opens no vault and needs no keyring, and any query
// that would decrypt personal data fails instead.
func runReplay(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("replay", "replay --as-of <RFC3339 time | position> [--account ID] [--data-dir DIR | --database-url URL]\n\n"+
		"Builds the read models from the log up to a moment and prints JSON: with --account that account's status,\n"+
		"balance and transactions, consent, usage, privacy requests and holds as of then; without, a summary.\n"+
		"Times are store times (recorded_at). Public data only: nothing is decrypted.")
	sf := addStoreFlags(fs)
	asOf := fs.String("as-of", "", "the moment: an RFC 3339 time (store time, e.g. 2026-03-01T00:00:00Z) or a log position (e.g. 1200); required")
	accountFlag := fs.String("account", "", "account `ID` to show (default: a summary of every account)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("replay takes no arguments (got %q)", fs.Arg(0))
	}
	until, err := parseAsOf(*asOf)
	if err != nil {
		return err
	}
	var accountID uuid.UUID
	if *accountFlag != "" {
		if accountID, err = uuid.Parse(*accountFlag); err != nil {
			return fmt.Errorf("--account: not an account id: %w", err)
		}
	}
	store, err := sf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	reg, err := cmdsvc.NewRegistry()
	if err != nil {
		return err
	}
	codec, err := eventstore.NewCodec(reg, publicOnlySealer{})
	if err != nil {
		return err
	}
	// projections.AsOf, with the events counted by type on the way in
	set := projections.NewMemSet(codec, projections.MemSetOptions{Now: func() time.Time {
		if !until.Time.IsZero() {
			return until.Time
		}
		return time.Now()
	}})
	counted := newCountingProjector(set)
	if _, err := projections.Replay(ctx, store, codec, counted, until, projections.ReplayConfig{}); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	at := until.Time
	if at.IsZero() {
		at = set.LastRecordedAt()
	}
	point := replayPoint{Requested: *asOf, Position: set.Position()}
	if !set.LastRecordedAt().IsZero() {
		t := set.LastRecordedAt()
		point.LastRecordedAt = &t
	}
	if set.Position() > 0 {
		evs, err := store.ReadAll(ctx, set.Position(), 1)
		if err != nil {
			return err
		}
		if len(evs) == 1 {
			point.Hash = evs[0].Hash.String()
		}
	}
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	point.LogHead = head.Position

	var doc any
	if accountID == uuid.Nil {
		c, err := countReadModels(ctx, set, at)
		if err != nil {
			return err
		}
		c.EventsByType = counted.types()
		doc = struct {
			AsOf    replayPoint  `json:"as_of"`
			Summary *modelCounts `json:"summary"`
		}{point, c}
	} else {
		a, err := replayAccount(ctx, set, accountID, at)
		if err != nil {
			return err
		}
		a.AsOf = point
		doc = a
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// parseAsOf reads an RFC 3339 time or a positive log position.
func parseAsOf(s string) (projections.Until, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return projections.Until{}, errors.New("--as-of is required: an RFC 3339 time (2026-03-01T00:00:00Z) or a log position (1200)")
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		if n == 0 {
			return projections.Until{}, errors.New("--as-of: positions start at 1")
		}
		return projections.Until{Position: n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return projections.Until{}, fmt.Errorf("--as-of %q is neither an RFC 3339 time (2026-03-01T00:00:00Z) nor a log position", s)
	}
	return projections.Until{Time: t.UTC()}, nil
}

// replayPoint says where the replay stopped.
type replayPoint struct {
	Requested      string     `json:"requested"`
	Position       uint64     `json:"position"`                   // last event applied (0: none)
	Hash           string     `json:"hash,omitempty"`             // chain hash at that position
	LastRecordedAt *time.Time `json:"last_recorded_at,omitempty"` // store time of that event
	LogHead        uint64     `json:"log_head"`                   // the log's head now
}

type replayedAccount struct {
	AsOf            replayPoint               `json:"as_of"`
	Account         projections.AccountView   `json:"account"`
	Balance         projections.BalanceView   `json:"balance"`
	Transactions    []projections.Transaction `json:"transactions"`
	Disputes        []projections.DisputeRow  `json:"disputes"`
	Consent         projections.ConsentState  `json:"consent"`
	UsageTotals     projections.UsageCounts   `json:"usage_totals"`
	UsageByProvider []projections.UsageBucket `json:"usage_by_provider_model"`
	PrivacyRequests []projections.RequestView `json:"privacy_requests"`
	LegalHolds      []projections.HoldView    `json:"legal_holds"`
}

// replayAccount gathers one account's public read models. The account is
// found by listing (public fields only), never by the query that opens the
// profile.
func replayAccount(ctx context.Context, set *projections.MemSet, id uuid.UUID, now time.Time) (*replayedAccount, error) {
	out := &replayedAccount{}
	found := false
	for after := uint64(0); !found; {
		page, err := set.Accounts().ListAccounts(ctx, projections.AccountFilter{After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, a := range page.Items {
			if a.ID == id {
				out.Account, found = a, true
				break
			}
		}
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	if !found {
		return nil, fmt.Errorf("account %s did not exist at that moment", id)
	}
	var err error
	if out.Balance, err = set.Balances().Balance(ctx, id); err != nil && !errors.Is(err, projections.ErrNotFound) {
		return nil, err
	}
	out.Transactions = []projections.Transaction{}
	for after := uint64(0); ; {
		tp, err := set.Balances().Transactions(ctx, projections.TxFilter{AccountID: id, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		out.Transactions = append(out.Transactions, tp.Items...)
		if tp.Next == 0 {
			break
		}
		after = tp.Next
	}
	if out.Disputes, err = set.Balances().Disputes(ctx, id); err != nil {
		return nil, err
	}
	if out.Consent, err = set.Consent().Consent(ctx, id); err != nil {
		return nil, err
	}
	uf := projections.UsageFilter{AccountID: id, GroupBy: []projections.UsageDimension{projections.ByProvider, projections.ByModel}}
	if out.UsageTotals, err = set.Usage().UsageTotals(ctx, uf); err != nil {
		return nil, err
	}
	if out.UsageByProvider, err = set.Usage().Usage(ctx, uf); err != nil {
		return nil, err
	}
	if out.PrivacyRequests, err = set.Privacy().Requests(ctx, projections.RequestFilter{Subject: id}, now); err != nil {
		return nil, err
	}
	if out.LegalHolds, err = set.Privacy().Holds(ctx, id, false); err != nil {
		return nil, err
	}
	return out, nil
}

// publicOnlySealer refuses to seal or open: auditors' tools build their
// read models with it, so a query that would decrypt fails instead.
type publicOnlySealer struct{}

var errPublicOnly = errors.New("replay reads public data only and never decrypts personal data")

func (publicOnlySealer) Seal(context.Context, string, uuid.UUID, []byte) ([]byte, error) {
	return nil, errPublicOnly
}

func (publicOnlySealer) Open(context.Context, string, uuid.UUID, []byte) ([]byte, error) {
	return nil, errPublicOnly
}
