package bus

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// MessageType is the event type of a message published through the store.
const MessageType = "bus.message"

// TopicStreamPrefix prefixes the stream a topic's messages are appended to.
const TopicStreamPrefix = "topic-"

// messageNamespace derives event ids from (topic, message UUID).
var messageNamespace = uuid.MustParse("6f1c2a52-3c53-4f0e-9d7e-5b7d1e0c9a11")

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("bus: closed")

// StoreConfig configures NewPublisher and NewSubscriber. Zero values take
// the documented defaults.
type StoreConfig struct {
	// ConsumerGroup names the durable consumer: consumers of one group share
	// its offset (competing consumers, one active at a time per Offsets
	// value), different groups each receive every message. Empty means
	// "default". Must not contain '@'.
	ConsumerGroup string
	// Offsets keeps the groups' offsets. Default: a new MemOffsets, which is
	// only durable for the life of the process; share one value between
	// subscribers that must resume from each other's position.
	Offsets Offsets
	// PollInterval is how often a caught-up subscriber re-reads its topic
	// when the store cannot announce changes. Default 100ms.
	PollInterval time.Duration
	// NackDelay is how long a nacked message waits before redelivery.
	// Default 0 (at once); pair nacks with watermill's Retry middleware.
	NackDelay time.Duration
	// PageSize is how many events a subscriber reads per round trip.
	// Default 100.
	PageSize int
	// Logger defaults to watermill.NopLogger.
	Logger watermill.LoggerAdapter
}

func (c *StoreConfig) setDefaults() error {
	if c.ConsumerGroup == "" {
		c.ConsumerGroup = "default"
	}
	if c.Offsets == nil {
		c.Offsets = &MemOffsets{}
	}
	switch {
	case c.PollInterval < 0 || c.NackDelay < 0:
		return errors.New("bus: StoreConfig durations must be >= 0")
	case c.PageSize < 0:
		return errors.New("bus: StoreConfig.PageSize must be >= 0")
	}
	if _, err := offsetStream(c.ConsumerGroup, "x"); err != nil {
		return err
	}
	if c.PollInterval == 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.PageSize == 0 {
		c.PageSize = 100
	}
	if c.Logger == nil {
		c.Logger = watermill.NopLogger{}
	}
	return nil
}

func topicStream(topic string) (string, error) {
	if topic == "" {
		return "", errors.New("bus: topic is required")
	}
	s := TopicStreamPrefix + topic
	if len(s) > eventstore.MaxStreamLen {
		return "", fmt.Errorf("bus: topic %q too long (at most %d bytes)", topic, eventstore.MaxStreamLen-len(TopicStreamPrefix))
	}
	return s, nil
}

// EventID is the event id a message gets on topic: UUIDv5 over the topic and
// the message UUID. Deterministic, so republishing a message to the same
// topic is idempotent; topic-scoped, because watermill publishes copies of
// one message (same UUID) to several topics and the store keeps an id in one
// stream only.
func EventID(topic, messageUUID string) uuid.UUID {
	return uuid.NewSHA1(messageNamespace, []byte(topic+"\x00"+messageUUID))
}

// Well-known metadata keys that map onto the event envelope's Meta.
var metaKeys = [...]string{"correlation_id", "causation_id", "actor", "actor_role", "request_id"}

func metaField(m *eventstore.Metadata, key string) *string {
	switch key {
	case "correlation_id":
		return &m.CorrelationID
	case "causation_id":
		return &m.CausationID
	case "actor":
		return &m.Actor
	case "actor_role":
		return &m.ActorRole
	case "request_id":
		return &m.RequestID
	}
	return nil
}

// wireMessage is the event data of a published message. JSON is the payload
// itself when the payload is compact valid JSON (so it round-trips byte for
// byte); otherwise Bytes holds it base64-encoded.
type wireMessage struct {
	UUID     string            `json:"uuid"`
	Metadata map[string]string `json:"metadata,omitempty"`
	JSON     json.RawMessage   `json:"json,omitempty"`
	Bytes    *string           `json:"bytes,omitempty"`
}

func isCompactJSON(b []byte) bool {
	if len(b) == 0 || !json.Valid(b) {
		return false
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return false
	}
	if !bytes.Equal(c.Bytes(), b) {
		return false
	}
	// encoding/json escapes <, > and & inside raw messages; keep those as bytes.
	return !bytes.ContainsAny(b, "<>&\u2028\u2029")
}

// toEvent turns a message into an event for topic.
func toEvent(topic string, msg *message.Message) (eventstore.Event, error) {
	w := wireMessage{UUID: msg.UUID}
	e := eventstore.Event{ID: EventID(topic, msg.UUID), Type: MessageType}
	for k, v := range msg.Metadata {
		if f := metaField(&e.Meta, k); f != nil {
			*f = v
			continue
		}
		if w.Metadata == nil {
			w.Metadata = map[string]string{}
		}
		w.Metadata[k] = v
	}
	if isCompactJSON(msg.Payload) {
		w.JSON = json.RawMessage(msg.Payload)
	} else {
		s := base64.StdEncoding.EncodeToString(msg.Payload)
		w.Bytes = &s
	}
	data, err := json.Marshal(w)
	if err != nil {
		return e, fmt.Errorf("bus: encode message %s: %w", msg.UUID, err)
	}
	e.Data = data
	return e, nil
}

// fromEvent rebuilds the message stored in e.
func fromEvent(e eventstore.Event) (*message.Message, error) {
	var w wireMessage
	if err := json.Unmarshal(e.Data, &w); err != nil {
		return nil, fmt.Errorf("bus: decode message at %s v%d: %w", e.Stream, e.Version, err)
	}
	var payload []byte
	switch {
	case w.Bytes != nil:
		p, err := base64.StdEncoding.DecodeString(*w.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bus: decode payload at %s v%d: %w", e.Stream, e.Version, err)
		}
		payload = p
	case w.JSON != nil:
		payload = []byte(w.JSON)
	}
	msg := message.NewMessage(w.UUID, payload)
	for k, v := range w.Metadata {
		msg.Metadata.Set(k, v)
	}
	for _, k := range metaKeys {
		if v := *metaField(&e.Meta, k); v != "" {
			msg.Metadata.Set(k, v)
		}
	}
	return msg, nil
}

// Publisher appends watermill messages to the event store, one stream per
// topic. Safe for concurrent use.
type Publisher struct {
	store  eventstore.Store
	cfg    StoreConfig
	mu     sync.RWMutex
	closed bool
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher appending to store. Close does not close
// the store.
func NewPublisher(store eventstore.Store, cfg StoreConfig) (*Publisher, error) {
	if store == nil {
		return nil, errors.New("bus: NewPublisher: store is required")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Publisher{store: store, cfg: cfg}, nil
}

// Publish appends msgs to topic's stream in one atomic append, durable when
// it returns. Republishing a message (same UUID, same topic) is a no-op; a
// batch mixing old and new messages is appended one by one.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	stream, err := topicStream(topic)
	if err != nil {
		return err
	}
	events := make([]eventstore.Event, len(msgs))
	for i, m := range msgs {
		if events[i], err = toEvent(topic, m); err != nil {
			return err
		}
	}
	ctx := msgs[0].Context()
	_, err = p.store.Append(ctx, stream, eventstore.Any, events...)
	if !errors.Is(err, eventstore.ErrDuplicateID) || len(events) == 1 {
		return wrapPublishErr(topic, err)
	}
	for i := range events {
		if _, err := p.store.Append(msgs[i].Context(), stream, eventstore.Any, events[i]); err != nil {
			return wrapPublishErr(topic, err)
		}
	}
	return nil
}

func wrapPublishErr(topic string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("bus: publish to %s: %w", topic, err)
}

// Close stops further publishing. It does not close the store.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}

// Subscriber delivers a topic's messages in order to one consumer of its
// group at a time, waiting for each Ack before the next message and
// redelivering on Nack. Offsets survive restarts as far as the configured
// Offsets does.
type Subscriber struct {
	store   eventstore.Store
	cfg     StoreConfig
	closing chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	closed  bool
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber reading from store. Close does not
// close the store.
func NewSubscriber(store eventstore.Store, cfg StoreConfig) (*Subscriber, error) {
	if store == nil {
		return nil, errors.New("bus: NewSubscriber: store is required")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Subscriber{store: store, cfg: cfg, closing: make(chan struct{})}, nil
}

// Subscribe starts delivering topic's messages from the group's offset. The
// channel is closed when ctx ends or the subscriber is closed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	stream, err := topicStream(topic)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	out := make(chan *message.Message)
	ctx, cancel := context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer cancel()
		go func() {
			select {
			case <-s.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.run(ctx, topic, stream, out)
	}()
	return out, nil
}

func (s *Subscriber) run(ctx context.Context, topic, stream string, out chan<- *message.Message) {
	log := watermill.LogFields{"topic": topic, "consumer_group": s.cfg.ConsumerGroup}
	for ctx.Err() == nil {
		claim, err := s.cfg.Offsets.Claim(ctx, s.cfg.ConsumerGroup, topic)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Logger.Error("Cannot claim consumer-group offset", err, log)
				s.sleep(ctx, s.cfg.PollInterval)
			}
			continue
		}
		err = s.consume(ctx, claim, stream, out)
		claim.Release()
		if err != nil && ctx.Err() == nil {
			if !errors.Is(err, ErrOffsetMoved) {
				s.cfg.Logger.Error("Subscription interrupted, resuming", err, log)
			}
			s.sleep(ctx, s.cfg.PollInterval)
		}
	}
}

func (s *Subscriber) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// consume delivers from the claim's offset until ctx ends or an error.
func (s *Subscriber) consume(ctx context.Context, claim Claim, stream string, out chan<- *message.Message) error {
	notifier, _ := s.store.(eventstore.ChangeNotifier)
	next := claim.Offset() + 1
	for {
		var woken <-chan struct{}
		if notifier != nil {
			woken = notifier.Changed()
		}
		page, err := s.store.ReadStream(ctx, stream, next, s.cfg.PageSize)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := s.deliver(ctx, e, out); err != nil {
				return err
			}
			// The ack was given: record it even if we are closing now.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := claim.Commit(cctx, e.Version)
			cancel()
			if err != nil {
				return err
			}
			next = e.Version + 1
		}
		if len(page) == s.cfg.PageSize {
			continue
		}
		t := time.NewTimer(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
}

// deliver sends e until it is acked; a nack sends a fresh copy again.
func (s *Subscriber) deliver(ctx context.Context, e eventstore.Event, out chan<- *message.Message) error {
	for {
		msg, err := fromEvent(e)
		if err != nil {
			return err
		}
		mctx, cancel := context.WithCancel(ctx)
		msg.SetContext(mctx)
		select {
		case out <- msg:
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
		select {
		case <-msg.Acked():
			cancel()
			return nil
		case <-msg.Nacked():
			cancel()
			if s.cfg.NackDelay > 0 {
				s.sleep(ctx, s.cfg.NackDelay)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
	}
}

// Close ends every subscription (unacked messages are redelivered to the
// group's next consumer) and waits for them. It does not close the store.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
