package eventstoredb

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"OK", Config{URL: "esdb://localhost:2113?tls=false"}, ""},
		{"ErrURLRequired", Config{}, "URL is required"},
		{"ErrBatchTooLarge", Config{URL: "esdb://x", MaxBatchEvents: eventstore.MaxEventsCall + 1}, "MaxBatchEvents"},
		{"ErrNegativeRetries", Config{URL: "esdb://x", AppendRetries: -1}, "AppendRetries"},
		{"ErrNegativeDuration", Config{URL: "esdb://x", PollInterval: -time.Second}, "durations"},
		{"ErrLogStreamTooLong", Config{URL: "esdb://x", LogStream: strings.Repeat("l", eventstore.MaxStreamLen+1)}, "LogStream"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.validate()
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.cfg.LogStream != DefaultLogStream || c.cfg.MaxBatchEvents != 2000 || c.cfg.PollInterval != time.Second {
					t.Fatalf("defaults not applied: %+v", c.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("want error containing %q, got %v", c.wantErr, err)
			}
		})
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	_, err := Open(context.Background(), Config{URL: "http://not-esdb"})
	if err == nil || !strings.Contains(err.Error(), "invalid Config.URL") {
		t.Fatalf("want invalid URL error, got %v", err)
	}
}

func TestExpectedRevision(t *testing.T) {
	cases := []struct {
		name string
		in   eventstore.ExpectedVersion
		want esdb.ExpectedRevision
	}{
		{"NoStream", eventstore.NoStream, esdb.NoStream{}},
		{"Any", eventstore.Any, esdb.Any{}},
		{"StreamExists", eventstore.StreamExists, esdb.StreamExists{}},
		{"ExactOne", eventstore.Exact(1), esdb.Revision(0)},
		{"ExactMany", eventstore.Exact(42), esdb.Revision(41)},
	}
	for _, c := range cases {
		if got := expectedRevision(c.in); got != c.want {
			t.Errorf("%s: got %#v want %#v", c.name, got, c.want)
		}
	}
	if got := logRevision(0); got != (esdb.NoStream{}) {
		t.Errorf("empty log: got %#v", got)
	}
	if got := logRevision(10); got != esdb.Revision(9) {
		t.Errorf("log at 10: got %#v", got)
	}
}

func TestErrorMapping(t *testing.T) {
	raw := errors.New("server said no")
	err := mapCode(esdb.ErrorCodeWrongExpectedVersion, raw, "acct-1", eventstore.Exact(3), 5)
	var ce *eventstore.ConcurrencyError
	if !errors.Is(err, eventstore.ErrConcurrency) || !errors.As(err, &ce) || ce.Stream != "acct-1" || ce.Actual != 5 {
		t.Fatalf("wrong expected version: %#v", err)
	}
	if err := mapCode(esdb.ErrorCodeResourceNotFound, raw, "", 0, 0); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("not found: %v", err)
	}
	for _, code := range []esdb.ErrorCode{esdb.ErrorUnavailable, esdb.ErrorCodeNotLeader, esdb.ErrorCodeConnectionClosed, esdb.ErrorCodeDeadlineExceeded} {
		if err := mapCode(code, raw, "", 0, 0); !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("code %d: want ErrUnavailable, got %v", code, err)
		}
	}
	if err := mapCode(esdb.ErrorCodeAccessDenied, raw, "", 0, 0); !errors.Is(err, raw) {
		t.Fatalf("other codes must wrap the original: %v", err)
	}
	if mapErr(nil) != nil || !errors.Is(mapErr(context.Canceled), context.Canceled) {
		t.Fatal("nil and context errors must pass through")
	}
	if _, ok := errCode(raw); ok {
		t.Fatal("a plain error has no esdb code")
	}
}

func sampleMeta() envelopeMeta {
	return envelopeMeta{
		Stream: "account-1", Version: 7, Position: 123456, Schema: 3,
		RecordedAt: time.Date(2025, 3, 4, 5, 6, 7, 891000, time.UTC),
		Subject:    uuid.NewString(), Sealed: []byte{0, 1, 2, 255},
		Meta:     eventstore.Metadata{CorrelationID: "c", CausationID: "k", Actor: "a", ActorRole: "admin", RequestID: "r"},
		PrevHash: eventstore.Hash{1, 2, 3}, Hash: eventstore.Hash{9, 8, 7},
	}
}

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []envelopeMeta{sampleMeta(), {Stream: "s", Version: 1, Position: 1, Schema: 1, RecordedAt: time.UnixMicro(0).UTC()}} {
		b := encodeMeta(&m)
		got, err := decodeMeta(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Stream != m.Stream || got.Version != m.Version || got.Position != m.Position || got.Schema != m.Schema ||
			!got.RecordedAt.Equal(m.RecordedAt) || got.Subject != m.Subject || !bytes.Equal(got.Sealed, m.Sealed) ||
			got.Meta != m.Meta || got.PrevHash != m.PrevHash || got.Hash != m.Hash {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
	// the chain hash survives the trip through metadata
	e := eventstore.Event{ID: uuid.New(), Type: "t.a", Data: []byte(`{}`)}
	m := sampleMeta()
	m.apply(&e)
	eventstore.Link(&e, m.PrevHash, nil)
	mm := metaOf(&e)
	back, err := decodeMeta(encodeMeta(&mm))
	if err != nil {
		t.Fatal(err)
	}
	e2 := eventstore.Event{ID: e.ID, Type: e.Type, Data: e.Data}
	back.apply(&e2)
	if h, _ := eventstore.ComputeHash(back.PrevHash, &e2, nil); h != e.Hash {
		t.Fatal("hash does not recompute after the metadata round trip")
	}
}

func TestMetaRejectsMalformed(t *testing.T) {
	m := sampleMeta()
	good := encodeMeta(&m)
	cases := map[string][]byte{
		"Empty":     nil,
		"BadMagic":  append([]byte("XX\x01"), good[3:]...),
		"Truncated": good[:len(good)-1],
		"Trailing":  append(append([]byte(nil), good...), 0),
	}
	for name, b := range cases {
		if _, err := decodeMeta(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecodeMeta(f *testing.F) {
	m := sampleMeta()
	f.Add(encodeMeta(&m))
	f.Add([]byte("LL\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		// whatever decodes re-encodes to a form that decodes the same
		again, err := decodeMeta(encodeMeta(&m))
		if err != nil {
			t.Fatalf("re-encoded metadata does not decode: %v", err)
		}
		if again.Stream != m.Stream || again.Position != m.Position || again.Hash != m.Hash || !again.RecordedAt.Equal(m.RecordedAt) {
			t.Fatalf("unstable round trip: %+v vs %+v", again, m)
		}
	})
}
