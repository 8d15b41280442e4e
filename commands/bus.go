package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// Metadata keys the bus sets on every event message (besides watermill's "name" and
// "correlation_id").
const (
	MetaPosition  = "position"
	MetaStream    = "stream"
	MetaEventType = "event_type"
	MetaActor     = "actor"
	MetaActorRole = "actor_role"
	MetaRequestID = "request_id"
)

// Checkpoints stores how far a named reader of the log got. Save must be durable before it
// returns; implementations must be safe for concurrent use. Load of an unknown name is 0.
type Checkpoints interface {
	Load(ctx context.Context, name string) (uint64, error)
	Save(ctx context.Context, name string, position uint64) error
}

// MemCheckpoints is an in-memory Checkpoints for tests and the embedded default.
type MemCheckpoints struct {
	mu sync.Mutex
	m  map[string]uint64
}

// NewMemCheckpoints returns empty checkpoints.
func NewMemCheckpoints() *MemCheckpoints { return &MemCheckpoints{m: map[string]uint64{}} }

// Load implements Checkpoints.
func (c *MemCheckpoints) Load(_ context.Context, name string) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name], nil
}

// Save implements Checkpoints.
func (c *MemCheckpoints) Save(_ context.Context, name string, pos uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[name] = pos
	return nil
}

// EventName is the bus name of a domain event (value or pointer): its dotted type, e.g.
// "billing.dispute_opened"; for anything else (commands) the struct name.
func EventName(v any) string {
	if t, ok := v.(eventstore.Typed); ok {
		return t.EventType()
	}
	return CommandName(v)
}

// Marshaler is the JSON marshaler of events and commands on the bus, named by EventName.
func Marshaler() cqrs.JSONMarshaler {
	return cqrs.JSONMarshaler{GenerateName: EventName}
}

// NewGoChannel returns the in-process transport (publisher and subscriber in one), the default
// when a single node runs.
func NewGoChannel(log *slog.Logger) *gochannel.GoChannel {
	if log == nil {
		log = slog.Default()
	}
	return gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 256}, watermill.NewSlogLogger(log))
}

// BusConfig wires the write side to a watermill transport. Publisher, Subscriber, Service and
// Checkpoints are required.
type BusConfig struct {
	Publisher  message.Publisher  // e.g. NewGoChannel(...); NATS JetStream when several nodes run
	Subscriber message.Subscriber // same transport; on brokers, one consumer group per handler name
	Service    *Service
	Policies   []Policy
	// Checkpoints of the outbox relay (MemCheckpoints here; PostgreSQL in production).
	Checkpoints Checkpoints
	// RelayName names the relay's checkpoint (default "outbox").
	RelayName string
	// RelayTypes limits the relayed events to these types (default: every event).
	RelayTypes []string
	// TopicPrefix prefixes every topic (default "ledgerline"): events go to
	// "<prefix>.events.<type>", commands to "<prefix>.commands.<Name>".
	TopicPrefix string
	// PoisonTopic receives messages whose handling failed after the retries (default
	// "<prefix>.poison").
	PoisonTopic string
	// MaxRetries and RetryInterval configure handler retries (defaults 3 and 100ms, doubling).
	MaxRetries    int
	RetryInterval time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Bus is the outbox relay (log → EventBus), the event processor running the policies, and the
// command bus + processor for asynchronous commands, on one watermill router.
type Bus struct {
	cfg        BusConfig
	log        *slog.Logger
	Router     *message.Router
	EventBus   *cqrs.EventBus
	CommandBus *cqrs.CommandBus
	relay      *Relay
}

type envelopeKey struct{}

// NewBus validates cfg and builds the router, buses, processors and relay. Run starts them.
func NewBus(cfg BusConfig) (*Bus, error) {
	switch {
	case cfg.Publisher == nil:
		return nil, errors.New("commands: BusConfig.Publisher is required")
	case cfg.Subscriber == nil:
		return nil, errors.New("commands: BusConfig.Subscriber is required")
	case cfg.Service == nil:
		return nil, errors.New("commands: BusConfig.Service is required")
	case cfg.Checkpoints == nil:
		return nil, errors.New("commands: BusConfig.Checkpoints is required")
	case cfg.MaxRetries < 0:
		return nil, errors.New("commands: BusConfig.MaxRetries must not be negative")
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = "ledgerline"
	}
	if cfg.PoisonTopic == "" {
		cfg.PoisonTopic = cfg.TopicPrefix + ".poison"
	}
	if cfg.RelayName == "" {
		cfg.RelayName = "outbox"
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	wlog := watermill.NewSlogLogger(cfg.Logger)
	b := &Bus{cfg: cfg, log: cfg.Logger}

	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return nil, err
	}
	poison, err := middleware.PoisonQueue(cfg.Publisher, cfg.PoisonTopic)
	if err != nil {
		return nil, err
	}
	router.AddMiddleware(
		middleware.CorrelationID,
		poison,
		middleware.Retry{MaxRetries: cfg.MaxRetries, InitialInterval: cfg.RetryInterval, MaxInterval: 30 * cfg.RetryInterval,
			Multiplier: 2, ResetContextOnRetry: true, Logger: wlog}.Middleware,
		middleware.Recoverer,
	)
	b.Router = router

	marshaler := Marshaler()
	eventTopic := func(name string) string { return cfg.TopicPrefix + ".events." + name }
	commandTopic := func(name string) string { return cfg.TopicPrefix + ".commands." + name }

	if b.EventBus, err = cqrs.NewEventBusWithConfig(cfg.Publisher, cqrs.EventBusConfig{
		GeneratePublishTopic: func(p cqrs.GenerateEventPublishTopicParams) (string, error) { return eventTopic(p.EventName), nil },
		OnPublish: func(p cqrs.OnEventSendParams) error {
			ev, ok := p.Message.Context().Value(envelopeKey{}).(eventstore.Event)
			if !ok {
				return nil
			}
			// The message id is the event id, so consumers can deduplicate.
			p.Message.UUID = ev.ID.String()
			md := p.Message.Metadata
			md.Set(MetaPosition, strconv.FormatUint(ev.Position, 10))
			md.Set(MetaStream, ev.Stream)
			md.Set(MetaEventType, ev.Type)
			md.Set(MetaActor, ev.Meta.Actor)
			md.Set(MetaActorRole, ev.Meta.ActorRole)
			md.Set(MetaRequestID, ev.Meta.RequestID)
			middleware.SetCorrelationID(ev.Meta.CorrelationID, p.Message)
			return nil
		},
		Marshaler: marshaler, Logger: wlog,
	}); err != nil {
		return nil, err
	}

	subscriber := func() (message.Subscriber, error) { return cfg.Subscriber, nil }
	events, err := cqrs.NewEventProcessorWithConfig(router, cqrs.EventProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.EventProcessorGenerateSubscribeTopicParams) (string, error) {
			return eventTopic(p.EventName), nil
		},
		SubscriberConstructor: func(cqrs.EventProcessorSubscriberConstructorParams) (message.Subscriber, error) { return subscriber() },
		Marshaler:             marshaler, Logger: wlog,
	})
	if err != nil {
		return nil, err
	}
	for _, p := range cfg.Policies {
		if p == nil {
			return nil, errors.New("commands: nil policy")
		}
		for _, ex := range p.Events() {
			if err := events.AddHandlers(&policyHandler{policy: p, typ: reflect.TypeOf(ex), name: p.Name() + "." + EventName(ex)}); err != nil {
				return nil, err
			}
		}
	}

	if b.CommandBus, err = cqrs.NewCommandBusWithConfig(cfg.Publisher, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return commandTopic(p.CommandName), nil
		},
		OnSend: func(p cqrs.CommandBusOnSendParams) error {
			a, _ := ActorFrom(p.Message.Context())
			md := p.Message.Metadata
			md.Set(MetaActor, a.ID)
			md.Set(MetaActorRole, a.Role)
			md.Set(MetaRequestID, a.RequestID)
			if a.CorrelationID != "" {
				middleware.SetCorrelationID(a.CorrelationID, p.Message)
			} else if orig := cqrs.OriginalMessageFromCtx(p.Message.Context()); orig != nil {
				middleware.SetCorrelationID(middleware.MessageCorrelationID(orig), p.Message)
			}
			return nil
		},
		Marshaler: marshaler, Logger: wlog,
	}); err != nil {
		return nil, err
	}
	cmds, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return commandTopic(p.CommandName), nil
		},
		SubscriberConstructor: func(cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return subscriber()
		},
		Marshaler: marshaler, Logger: wlog,
	})
	if err != nil {
		return nil, err
	}
	for _, c := range cfg.Service.Dispatcher().Commands() {
		if err := cmds.AddHandlers(&commandHandler{svc: cfg.Service, log: cfg.Logger, typ: reflect.TypeOf(c).Elem()}); err != nil {
			return nil, err
		}
	}

	b.relay = &Relay{name: cfg.RelayName, store: cfg.Service.store, codec: cfg.Service.codec, bus: b.EventBus,
		cps: cfg.Checkpoints, log: cfg.Logger}
	if len(cfg.RelayTypes) > 0 {
		b.relay.types = map[string]bool{}
		for _, t := range cfg.RelayTypes {
			b.relay.types[t] = true
		}
	}
	return b, nil
}

// Run runs the router and the outbox relay until ctx ends or one of them fails.
func (b *Bus) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- b.Router.Run(ctx) }()
	select {
	case <-b.Router.Running():
	case err := <-errc:
		return err
	}
	go func() { errc <- b.relay.Run(ctx) }()
	err := <-errc
	cancel()
	_ = b.Router.Close()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// Running is closed once the router runs (the relay starts right after).
func (b *Bus) Running() chan struct{} { return b.Router.Running() }

// Send queues cmd for asynchronous execution by the Dispatcher; the ctx actor travels with it.
func (b *Bus) Send(ctx context.Context, cmd any) error { return b.CommandBus.Send(ctx, cmd) }

// Relay returns the outbox relay.
func (b *Bus) Relay() *Relay { return b.relay }

// Relay is the outbox: a checkpointed reader of the log publishing every stored event (its
// public part only) to the EventBus, in log order, at least once.
type Relay struct {
	name  string
	store eventstore.Store
	codec *eventstore.Codec
	bus   *cqrs.EventBus
	cps   Checkpoints
	types map[string]bool
	log   *slog.Logger
}

// Run publishes from the checkpoint on, following the log until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	from, err := r.cps.Load(ctx, r.name)
	if err != nil {
		return fmt.Errorf("commands: relay checkpoint: %w", err)
	}
	return r.store.Subscribe(ctx, from+1, func(ev eventstore.Event) error {
		if r.types == nil || r.types[ev.Type] {
			if err := r.Publish(ctx, ev); err != nil {
				return err
			}
		}
		return r.cps.Save(ctx, r.name, ev.Position)
	})
}

// Publish publishes one stored event.
func (r *Relay) Publish(ctx context.Context, ev eventstore.Event) error {
	payload, err := r.codec.DecodePublic(ev)
	if err != nil {
		return fmt.Errorf("commands: relay decode at %d: %w", ev.Position, err)
	}
	ptr := reflect.New(reflect.TypeOf(payload))
	ptr.Elem().Set(reflect.ValueOf(payload))
	if err := r.bus.Publish(context.WithValue(ctx, envelopeKey{}, ev), ptr.Interface()); err != nil {
		return fmt.Errorf("commands: relay publish at %d: %w", ev.Position, err)
	}
	return nil
}

// policyHandler adapts a Policy to a cqrs.EventHandler for one event type.
type policyHandler struct {
	policy Policy
	typ    reflect.Type
	name   string
}

func (h *policyHandler) HandlerName() string { return h.name }
func (h *policyHandler) NewEvent() any       { return reflect.New(h.typ).Interface() }

func (h *policyHandler) Handle(ctx context.Context, event any) error {
	d := eventstore.Decoded{Payload: reflect.ValueOf(event).Elem().Interface()}
	if msg := cqrs.OriginalMessageFromCtx(ctx); msg != nil {
		d.Event.ID, _ = uuid.Parse(msg.UUID)
		d.Event.Type = msg.Metadata.Get(MetaEventType)
		d.Event.Stream = msg.Metadata.Get(MetaStream)
		d.Event.Position, _ = strconv.ParseUint(msg.Metadata.Get(MetaPosition), 10, 64)
		d.Event.Meta = eventstore.Metadata{CorrelationID: middleware.MessageCorrelationID(msg),
			Actor: msg.Metadata.Get(MetaActor), ActorRole: msg.Metadata.Get(MetaActorRole), RequestID: msg.Metadata.Get(MetaRequestID)}
	}
	return h.policy.Handle(ctx, d)
}

// commandHandler adapts the Dispatcher to a cqrs.CommandHandler for one command type.
// Commands that fail for good (invalid, unknown aggregate, conflicting state) are logged and
// acknowledged: redelivery cannot fix them. Other failures are retried, then poisoned.
type commandHandler struct {
	svc *Service
	log *slog.Logger
	typ reflect.Type
}

func (h *commandHandler) HandlerName() string { return "command." + h.typ.Name() }
func (h *commandHandler) NewCommand() any     { return reflect.New(h.typ).Interface() }

func (h *commandHandler) Handle(ctx context.Context, cmd any) error {
	if msg := cqrs.OriginalMessageFromCtx(ctx); msg != nil {
		a, _ := ActorFrom(ctx)
		a.ID, a.Role = msg.Metadata.Get(MetaActor), msg.Metadata.Get(MetaActorRole)
		a.RequestID, a.CorrelationID, a.CausationID = msg.Metadata.Get(MetaRequestID), middleware.MessageCorrelationID(msg), msg.UUID
		ctx = WithActor(ctx, a)
	}
	_, err := h.svc.Dispatch(ctx, cmd)
	switch Classify(err) {
	case ClassOK:
		return nil
	case ClassValidation, ClassNotFound, ClassConflict:
		h.log.Warn("async command dropped", slog.String("command", h.typ.Name()), slog.String("outcome", className(Classify(err))))
		return nil
	}
	return err
}
