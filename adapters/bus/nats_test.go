package bus_test

import (
	"context"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/ledgerline/ledgerline/adapters/bus"
)

// natsURL returns the test NATS server, skipping (or failing with CI=true)
// when it does not answer or has no JetStream.
func natsURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("LEDGERLINE_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second))
	if err == nil {
		var js nats.JetStreamContext
		if js, err = nc.JetStream(); err == nil {
			_, err = js.AccountInfo()
		}
		nc.Close()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("NATS JetStream not reachable at %s (CI=true, so this is a failure): %v", url, err)
		}
		t.Skipf("NATS JetStream not reachable at %s; set LEDGERLINE_TEST_NATS_URL (skipping): %v", url, err)
	}
	return url
}

// dropStream deletes the JetStream stream a test topic created.
func dropStream(t *testing.T, url, topic string) {
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			return
		}
		defer nc.Close()
		if js, err := nc.JetStream(); err == nil {
			_ = js.DeleteStream(topic)
		}
	})
}

func TestNATSPublishSubscribe(t *testing.T) {
	url := natsURL(t)
	tr, err := bus.NewNATS(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	topic := "ledgerline-test-" + watermill.NewShortUUID()
	group := "g-" + watermill.NewShortUUID()
	dropStream(t, url, topic)
	sub, err := tr.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var sent []string
	for i := 0; i < n; i++ {
		m := message.NewMessage(watermill.NewUUID(), []byte(`{"i":1}`))
		m.Metadata.Set("correlation_id", "c-1")
		sent = append(sent, m.UUID)
		if err := tr.Publisher().Publish(topic, m); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < n {
		select {
		case m := <-msgs:
			if m.Metadata.Get("correlation_id") != "c-1" {
				t.Fatalf("metadata lost: %v", m.Metadata)
			}
			got = append(got, m.UUID)
			m.Ack()
		case <-ctx.Done():
			t.Fatalf("received %d of %d", len(got), n)
		}
	}
	sort.Strings(sent)
	sort.Strings(got)
	for i := range sent {
		if sent[i] != got[i] {
			t.Fatalf("received %v, sent %v", got, sent)
		}
	}
}

func TestInvalidationsReachEveryNode(t *testing.T) {
	url := natsURL(t)
	topic := "ledgerline-inval-" + watermill.NewShortUUID()
	dropStream(t, url, topic)
	type node struct {
		tr  *bus.NATS
		inv *bus.Invalidations
		got chan bus.Notice
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nodes []*node
	for i := 0; i < 2; i++ {
		tr, err := bus.NewNATS(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := bus.NewInvalidations(tr, topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := &node{tr: tr, inv: inv, got: make(chan bus.Notice, 100)}
		inv.Handle(bus.KindAPIKey, func(_ context.Context, id string) error {
			n.got <- bus.Notice{Kind: bus.KindAPIKey, ID: id}
			return nil
		})
		inv.Handle(bus.KindDEK, func(_ context.Context, id string) error { n.got <- bus.Notice{Kind: bus.KindDEK, ID: id}; return nil })
		if err := inv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { inv.Close(); tr.Close() })
		nodes = append(nodes, n)
	}
	if err := nodes[0].inv.Publish(ctx, bus.Notice{Kind: bus.Kind{}, ID: "x"}); err == nil {
		t.Fatal("a notice without a valid kind was published")
	}
	const rounds = 50
	var latencies []time.Duration
	var mu sync.Mutex
	for i := 0; i < rounds; i++ {
		want := bus.Notice{Kind: bus.KindAPIKey, ID: watermill.NewShortUUID()}
		if i%2 == 1 {
			want.Kind = bus.KindDEK
		}
		start := time.Now()
		if err := nodes[i%2].inv.Publish(ctx, want); err != nil {
			t.Fatal(err)
		}
		for j, n := range nodes {
			select {
			case got := <-n.got:
				if got != want {
					t.Fatalf("node %d got %+v, want %+v", j, got, want)
				}
			case <-ctx.Done():
				t.Fatalf("node %d never got notice %d", j, i)
			}
		}
		mu.Lock()
		latencies = append(latencies, time.Since(start))
		mu.Unlock()
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("invalidation reached both nodes: p50 %v, p99 %v, max %v over %d notices",
		latencies[len(latencies)/2], latencies[len(latencies)*99/100], latencies[len(latencies)-1], rounds)
}

func TestGoChannelTransport(t *testing.T) {
	tr := bus.NewGoChannel(nil)
	defer tr.Close()
	inv, err := bus.NewInvalidations(tr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	inv.Handle(bus.KindDEK, func(_ context.Context, id string) error { got <- id; return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := inv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	if err := inv.Publish(ctx, bus.Notice{Kind: bus.KindDEK, ID: "subject-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != "subject-1" {
			t.Fatalf("got %q", id)
		}
	case <-ctx.Done():
		t.Fatal("notice not delivered in-process")
	}
}
