package bus_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/ledgerline/ledgerline/adapters/bus"
	"github.com/ledgerline/ledgerline/adapters/postgres"
	"github.com/ledgerline/ledgerline/adapters/postgres/pgtest"
	"github.com/ledgerline/ledgerline/eventstore"
)

// storeFeatures are the watermill features the store-backed pub/sub keeps.
// ExactlyOnceDelivery holds for consumers sharing one Offsets value (the
// claim is exclusive in-process); across nodes StoreOffsets gives
// at-least-once, see StoreOffsets. NewSubscriberReceivesOldMessages is false
// because subscribers without a group share the "default" group's offset.
func storeFeatures() tests.Features {
	return tests.Features{
		ConsumerGroups:                      true,
		ExactlyOnceDelivery:                 os.Getenv("LEDGERLINE_BUS_EXACTLY_ONCE") == "true",
		GuaranteedOrder:                     true,
		GuaranteedOrderWithSingleSubscriber: true,
		Persistent:                          true,
		RequireSingleInstance:               false,
		NewSubscriberReceivesOldMessages:    false,
		// the full-size suite (5000 messages per test) belongs to make reliability
		ForceShort: os.Getenv("LEDGERLINE_BUS_LONG") != "true",
	}
}

func constructors(store eventstore.Store, offsets bus.Offsets) (tests.PubSubConstructor, tests.ConsumerGroupPubSubConstructor) {
	withGroup := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		cfg := bus.StoreConfig{ConsumerGroup: group, Offsets: offsets, PollInterval: 20 * time.Millisecond}
		pub, err := bus.NewPublisher(store, cfg)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := bus.NewSubscriber(store, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return pub, sub
	}
	return func(t *testing.T) (message.Publisher, message.Subscriber) { return withGroup(t, "") }, withGroup
}

func TestStorePubSubMemStore(t *testing.T) {
	store := eventstore.NewMemStore()
	t.Cleanup(func() { store.Close() })
	pub, cg := constructors(store, &bus.MemOffsets{})
	tests.TestPubSub(t, storeFeatures(), pub, cg)
}

func TestStorePubSubPostgres(t *testing.T) {
	url, _ := pgtest.Schema(t)
	store, err := postgres.Open(context.Background(), postgres.Config{URL: url, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	offsets, err := bus.NewStoreOffsets(store)
	if err != nil {
		t.Fatal(err)
	}
	pub, cg := constructors(store, offsets)
	tests.TestPubSub(t, storeFeatures(), pub, cg)
}
