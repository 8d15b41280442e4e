package commands

import (
	"github.com/ledgerline/ledgerline/domain/account"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/audit"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
)

// NewRegistry registers every domain event type Ledgerline stores, with the
// upcasters that lift older schemas. Everything that encodes or decodes
// events (commands, projections, the CLI) uses a registry built here.
func NewRegistry() (*eventstore.Registry, error) {
	r := eventstore.NewRegistry()
	for _, evs := range [][]any{
		account.Events(), apikey.Events(), usage.Events(),
		billing.Events(), consent.Events(), privacy.Events(), operator.Events(), audit.Events(),
	} {
		if err := r.Register(evs...); err != nil {
			return nil, err
		}
	}
	return r, nil
}
