package bus

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/nats-io/nats.go"
)

// Transport carries the CQRS buses' messages. Subscriber("") is a fan-out
// subscription (every caller gets every message published from now on);
// Subscriber(group) is a durable consumer group whose members compete for
// messages and which resumes where the group stopped. Implementations are
// safe for concurrent use.
type Transport interface {
	Publisher() message.Publisher
	Subscriber(consumerGroup string) (message.Subscriber, error)
	Close() error
}

// GoChannel is the in-process transport, the single-node default. It has no
// consumer groups: every subscriber receives every message, and nothing
// survives the process.
type GoChannel struct {
	ch *gochannel.GoChannel
}

var _ Transport = (*GoChannel)(nil)

// NewGoChannel returns the in-process transport. A nil logger logs nothing.
func NewGoChannel(logger watermill.LoggerAdapter) *GoChannel {
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &GoChannel{ch: gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 64}, logger)}
}

// Publisher implements Transport.
func (g *GoChannel) Publisher() message.Publisher { return g.ch }

// Subscriber implements Transport; the group is ignored (fan-out only).
// Closing the returned subscriber does not close the transport.
func (g *GoChannel) Subscriber(string) (message.Subscriber, error) { return noClose{g.ch}, nil }

// Close implements Transport.
func (g *GoChannel) Close() error { return g.ch.Close() }

type noClose struct{ message.Subscriber }

func (noClose) Close() error { return nil }

// NATS is the several-node transport: watermill-nats over NATS JetStream.
// Each topic is a JetStream stream of the same name (created on first use).
// A consumer group is a durable JetStream consumer named after the group and
// topic, shared as a queue group by the group's members (competing
// consumers, explicit acks, redelivery after AckWait or a nack). The empty
// group is an ephemeral consumer that starts at new messages: fan-out.
type NATS struct {
	url    string
	logger watermill.LoggerAdapter
	pub    *wmnats.Publisher

	mu   sync.Mutex
	subs []message.Subscriber
}

var _ Transport = (*NATS)(nil)

// AckWait is how long NATS waits for an ack before redelivering.
const AckWait = 30 * time.Second

func natsOptions(name string) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.Timeout(5 * time.Second),
		nats.RetryOnFailedConnect(false),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
	}
}

// NewNATS connects a publisher to the NATS server at url (JetStream must be
// enabled). A nil logger logs nothing.
func NewNATS(url string, logger watermill.LoggerAdapter) (*NATS, error) {
	if url == "" {
		return nil, errors.New("bus: NewNATS: url is required")
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL:         url,
		NatsOptions: natsOptions("ledgerline-publisher"),
		Marshaler:   &wmnats.NATSMarshaler{},
		JetStream:   wmnats.JetStreamConfig{AutoProvision: true, TrackMsgId: true},
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("bus: NATS publisher at %s: %w", url, err)
	}
	return &NATS{url: url, logger: logger, pub: pub}, nil
}

// Publisher implements Transport. Message UUIDs are sent as JetStream
// message ids, so the server drops a republished message within its
// duplicate window.
func (n *NATS) Publisher() message.Publisher { return n.pub }

// durableName makes a JetStream consumer name from group and topic (no
// '.', '*', '>' or spaces allowed).
func durableName(group, topic string) string {
	r := strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_")
	return r.Replace(group + "__" + topic)
}

// Subscriber implements Transport. Each call opens its own connection;
// Close closes it (and the transport closes the ones still open).
func (n *NATS) Subscriber(group string) (message.Subscriber, error) {
	js := wmnats.JetStreamConfig{
		AutoProvision:    true,
		SubscribeOptions: []nats.SubOpt{nats.AckExplicit(), nats.DeliverNew()},
		TrackMsgId:       true,
	}
	if group != "" {
		js.SubscribeOptions = []nats.SubOpt{nats.AckExplicit(), nats.DeliverAll(), nats.AckWait(AckWait)}
		js.DurablePrefix = group
		js.DurableCalculator = durableName
	}
	sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL:              n.url,
		QueueGroupPrefix: group,
		SubscribersCount: 1,
		AckWaitTimeout:   AckWait,
		CloseTimeout:     10 * time.Second,
		NatsOptions:      natsOptions("ledgerline-subscriber-" + group),
		Unmarshaler:      &wmnats.NATSMarshaler{},
		JetStream:        js,
	}, n.logger)
	if err != nil {
		return nil, fmt.Errorf("bus: NATS subscriber at %s: %w", n.url, err)
	}
	n.mu.Lock()
	n.subs = append(n.subs, sub)
	n.mu.Unlock()
	return sub, nil
}

// Close closes the publisher and every subscriber made by Subscriber.
func (n *NATS) Close() error {
	n.mu.Lock()
	subs := n.subs
	n.subs = nil
	n.mu.Unlock()
	errs := []error{n.pub.Close()}
	for _, s := range subs {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
