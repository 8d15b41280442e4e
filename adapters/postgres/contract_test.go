package postgres_test

import (
	"sync"
	"testing"

	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/eventstore/storetest"
)

func TestContract(t *testing.T) {
	var (
		mu   sync.Mutex
		urls = map[eventstore.Store]string{}
	)
	openAt := func(t *testing.T, url string) eventstore.Store {
		s := open(t, url)
		mu.Lock()
		urls[s] = url
		mu.Unlock()
		return s
	}
	urlOf := func(s eventstore.Store) string {
		mu.Lock()
		defer mu.Unlock()
		return urls[s]
	}
	storetest.Run(t, storetest.Features{
		New: func(t *testing.T) eventstore.Store {
			url, _ := pgtest.Schema(t)
			return openAt(t, url)
		},
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			url := urlOf(s)
			if err := s.(*postgres.Store).Close(); err != nil {
				t.Fatal(err)
			}
			return openAt(t, url)
		},
		Another: func(t *testing.T, s eventstore.Store) eventstore.Store {
			return openAt(t, urlOf(s))
		},
	})
}
