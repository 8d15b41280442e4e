package commands_test

import (
	"context"
	"sync/atomic"

	"github.com/ledgerline/ledgerline/eventstore"
)

// countingStore counts Append calls of a real store.
type countingStore struct {
	eventstore.Store
	appends atomic.Int64
}

func (c *countingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	c.appends.Add(1)
	return c.Store.Append(ctx, stream, expected, events...)
}
