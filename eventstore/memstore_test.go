package eventstore_test

import (
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/eventstore/storetest"
)

func TestMemStoreContract(t *testing.T) {
	storetest.Run(t, storetest.Features{
		New: func(t *testing.T) eventstore.Store {
			s := eventstore.NewMemStore()
			t.Cleanup(func() { s.Close() })
			return s
		},
	})
}
