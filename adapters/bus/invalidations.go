package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Kind says which cache a Notice invalidates. The set is fixed: KindAPIKey
// and KindDEK.
type Kind struct{ name string }

var (
	// KindAPIKey: an API key was revoked, rotated or expired; id is the key id.
	KindAPIKey = Kind{"apikey"}
	// KindDEK: a subject's data key was shredded; id is the subject id.
	KindDEK = Kind{"dek"}
)

func (k Kind) String() string { return k.name }

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) {
	if k.name == "" {
		return nil, errors.New("bus: empty invalidation kind")
	}
	return []byte(k.name), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; unknown kinds fail.
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case KindAPIKey.name:
		*k = KindAPIKey
	case KindDEK.name:
		*k = KindDEK
	default:
		return fmt.Errorf("bus: unknown invalidation kind %q", b)
	}
	return nil
}

// Notice tells every node to drop one cached entry.
type Notice struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
}

// InvalidationsTopic is the default topic of invalidation notices.
const InvalidationsTopic = "ledgerline-invalidations"

// Invalidations broadcasts cache-invalidation notices to every node: each
// instance subscribes with its own fan-out subscription (Transport's empty
// group), so a key revocation or a DEK shred published on one node runs the
// registered handlers on all of them, the publishing node included. Notices
// are idempotent by nature; a handler error nacks the notice so it is
// delivered again.
type Invalidations struct {
	transport Transport
	topic     string
	logger    watermill.LoggerAdapter

	mu       sync.RWMutex
	handlers map[Kind][]func(ctx context.Context, id string) error
	sub      message.Subscriber
	cancel   context.CancelFunc
	done     chan struct{}
}

// NewInvalidations returns a broadcaster on transport. An empty topic means
// InvalidationsTopic; a nil logger logs nothing.
func NewInvalidations(transport Transport, topic string, logger watermill.LoggerAdapter) (*Invalidations, error) {
	if transport == nil {
		return nil, errors.New("bus: NewInvalidations: transport is required")
	}
	if topic == "" {
		topic = InvalidationsTopic
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &Invalidations{transport: transport, topic: topic, logger: logger, handlers: map[Kind][]func(context.Context, string) error{}}, nil
}

// Handle registers fn for notices of kind. Safe to call at any time.
func (i *Invalidations) Handle(kind Kind, fn func(ctx context.Context, id string) error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.handlers[kind] = append(i.handlers[kind], fn)
}

// Start subscribes (notices published after Start returns are received)
// and dispatches notices until ctx ends or Close.
func (i *Invalidations) Start(ctx context.Context) error {
	i.mu.Lock()
	if i.sub != nil {
		i.mu.Unlock()
		return errors.New("bus: Invalidations already started")
	}
	sub, err := i.transport.Subscriber("")
	if err != nil {
		i.mu.Unlock()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	msgs, err := sub.Subscribe(ctx, i.topic)
	if err != nil {
		i.mu.Unlock()
		cancel()
		sub.Close()
		return fmt.Errorf("bus: subscribe to %s: %w", i.topic, err)
	}
	i.sub, i.cancel, i.done = sub, cancel, make(chan struct{})
	i.mu.Unlock()
	go func() {
		defer close(i.done)
		for msg := range msgs {
			i.dispatch(msg)
		}
	}()
	return nil
}

func (i *Invalidations) dispatch(msg *message.Message) {
	var n Notice
	if err := json.Unmarshal(msg.Payload, &n); err != nil {
		i.logger.Error("Dropping malformed invalidation notice", err, watermill.LogFields{"message_uuid": msg.UUID})
		msg.Ack()
		return
	}
	i.mu.RLock()
	hs := i.handlers[n.Kind]
	i.mu.RUnlock()
	for _, h := range hs {
		if err := h(msg.Context(), n.ID); err != nil {
			i.logger.Error("Invalidation handler failed; notice will be redelivered", err, watermill.LogFields{"kind": n.Kind.String()})
			msg.Nack()
			return
		}
	}
	msg.Ack()
}

// Publish broadcasts n to every node.
func (i *Invalidations) Publish(ctx context.Context, n Notice) error {
	if n.Kind != KindAPIKey && n.Kind != KindDEK {
		return fmt.Errorf("bus: invalid invalidation kind %q", n.Kind.name)
	}
	if n.ID == "" {
		return errors.New("bus: invalidation notice needs an id")
	}
	payload, err := json.Marshal(n)
	if err != nil {
		return err
	}
	msg := message.NewMessage(watermill.NewUUID(), payload)
	msg.SetContext(ctx)
	return i.transport.Publisher().Publish(i.topic, msg)
}

// Close stops receiving. It does not close the transport.
func (i *Invalidations) Close() error {
	i.mu.Lock()
	sub, cancel, done := i.sub, i.cancel, i.done
	i.mu.Unlock()
	if sub == nil {
		return nil
	}
	cancel()
	err := sub.Close()
	<-done
	return err
}
