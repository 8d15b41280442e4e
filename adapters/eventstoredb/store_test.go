package eventstoredb_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/adapters/eventstoredb"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/eventstore/storetest"
)

var logSeq atomic.Int64

// TestContract runs the store contract against a real server. No server is
// started by the tests: set LEDGERLINE_TEST_ESDB_URL, e.g.
// esdb://admin:changeit@127.0.0.1:2113?tls=false. Each store gets its own log
// stream, so runs do not disturb each other.
func TestContract(t *testing.T) {
	url := os.Getenv("LEDGERLINE_TEST_ESDB_URL")
	if url == "" {
		t.Skip("LEDGERLINE_TEST_ESDB_URL not set: no EventStoreDB server to run the contract suite against (skipping)")
	}
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	logs := map[eventstore.Store]string{}
	open := func(t *testing.T, log string) eventstore.Store {
		s, err := eventstoredb.Open(context.Background(), eventstoredb.Config{URL: url, LogStream: log, PollInterval: 200 * time.Millisecond})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		logs[s] = log
		return s
	}
	storetest.Run(t, storetest.Features{
		New: func(t *testing.T) eventstore.Store {
			return open(t, fmt.Sprintf("ledgerline-test-%s-%d", run, logSeq.Add(1)))
		},
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			log := logs[s]
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, log)
		},
		Another: func(t *testing.T, s eventstore.Store) eventstore.Store { return open(t, logs[s]) },
	})
}
