package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/google/uuid"
)

// Typed is implemented by every domain event: its stable dotted name.
type Typed interface{ EventType() string }

// Schemaed is implemented by events whose payload schema is past version 1.
type Schemaed interface{ EventSchema() int }

// Subjected is implemented by events that carry a personal part: the id of
// the data subject whose key seals it.
type Subjected interface{ SubjectID() uuid.UUID }

// Upcaster lifts a stored public payload from schema `from` to from+1.
type Upcaster func(data []byte) ([]byte, error)

// personalField is the name of the sub-struct holding an event's personal
// data. It must be tagged `json:"-"` so it never reaches the public payload.
const personalField = "Personal"

type entry struct {
	name     string
	schema   int
	typ      reflect.Type // struct type
	personal int          // field index of Personal, -1 when none
	layout   []personalSlot
	scratch  sync.Pool // of *typ, zero: what Decode decodes into
}

// newScratch returns a zero *typ to decode into, recycled when possible:
// Decode copies the value out once, where reflect.New then Interface would
// allocate it twice per event, a replay's largest allocation after the row.
func (e *entry) newScratch() reflect.Value {
	if p := e.scratch.Get(); p != nil {
		return reflect.ValueOf(p)
	}
	return reflect.New(e.typ)
}

// releaseScratch zeroes ptr, dropping what it references (decrypted personal
// strings among them), and recycles it.
func (e *entry) releaseScratch(ptr reflect.Value) {
	ptr.Elem().SetZero()
	e.scratch.Put(ptr.Interface())
}

// Registry maps event names to Go types and holds upcasters. It is a value
// passed to whoever needs it, never a global. Register everything before use;
// after that it is safe for concurrent reads.
type Registry struct {
	byName    map[string]*entry
	byType    map[reflect.Type]*entry
	upcasters map[string]map[int]Upcaster
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: map[string]*entry{}, byType: map[reflect.Type]*entry{}, upcasters: map[string]map[int]Upcaster{}}
}

// Register adds event types given by example values (struct values whose
// type implements Typed). A Personal field, when present, must be a struct
// tagged `json:"-"`, and the type must implement Subjected.
func (r *Registry) Register(examples ...any) error {
	for _, ex := range examples {
		t := reflect.TypeOf(ex)
		if t == nil || t.Kind() != reflect.Struct {
			return fmt.Errorf("eventstore: register %T: want a struct value", ex)
		}
		typed, ok := ex.(Typed)
		if !ok {
			return fmt.Errorf("eventstore: register %s: no EventType method", t)
		}
		e := &entry{name: typed.EventType(), schema: 1, typ: t, personal: -1}
		if s, ok := ex.(Schemaed); ok {
			e.schema = s.EventSchema()
		}
		if f, ok := t.FieldByName(personalField); ok {
			if f.Type.Kind() != reflect.Struct || f.Tag.Get("json") != "-" || len(f.Index) != 1 {
				return fmt.Errorf("eventstore: register %s: field Personal must be a struct tagged json:\"-\"", t)
			}
			if _, ok := ex.(Subjected); !ok {
				return fmt.Errorf("eventstore: register %s: has Personal but no SubjectID method", t)
			}
			e.personal = f.Index[0]
			e.layout = personalLayout(f.Type)
		}
		if prev, dup := r.byName[e.name]; dup && prev.typ != t {
			return fmt.Errorf("eventstore: event name %q registered twice (%s, %s)", e.name, prev.typ, t)
		}
		r.byName[e.name] = e
		r.byType[t] = e
	}
	return nil
}

// MustRegister is Register for wiring code, where a failure is a programming error.
func (r *Registry) MustRegister(examples ...any) *Registry {
	if err := r.Register(examples...); err != nil {
		panic(err)
	}
	return r
}

// AddUpcaster registers the lift of event name's payload from schema from to from+1.
func (r *Registry) AddUpcaster(name string, from int, fn Upcaster) {
	if r.upcasters[name] == nil {
		r.upcasters[name] = map[int]Upcaster{}
	}
	r.upcasters[name][from] = fn
}

// Names lists the registered event names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// HasPersonal reports whether the named event type carries a personal part.
func (r *Registry) HasPersonal(name string) bool {
	e, ok := r.byName[name]
	return ok && e.personal >= 0
}

// Sealer encrypts and decrypts the personal part of events with the data key
// of their subject. The event id and subject are bound as associated data, so
// a sealed part copied onto another event fails to open. Open returns an error
// matching ErrKeyShredded once the subject's key is destroyed.
type Sealer interface {
	Seal(ctx context.Context, subject string, eventID uuid.UUID, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, subject string, eventID uuid.UUID, sealed []byte) ([]byte, error)
}

// AppendOpener is implemented by Sealers that can open into a caller's
// buffer: Open, appending the plaintext to dst. The codec opens every
// personal part of a replay into one recycled buffer, wiped after use,
// instead of allocating a plaintext per event.
type AppendOpener interface {
	OpenAppend(ctx context.Context, dst []byte, subject string, eventID uuid.UUID, sealed []byte) ([]byte, error)
}

// Codec turns domain events into envelopes and back, sealing and opening
// personal parts and lifting old schemas with upcasters.
type Codec struct {
	reg      *Registry
	sealer   Sealer
	appender AppendOpener // sealer, when it is one
}

// plainPool recycles the buffers personal parts are opened into. They hold
// plaintext personal data while in use, so they are wiped before going back.
var plainPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// NewCodec returns a codec over reg. sealer may be nil only if no registered
// event has a personal part.
func NewCodec(reg *Registry, sealer Sealer) (*Codec, error) {
	if reg == nil {
		return nil, errors.New("eventstore: codec needs a registry")
	}
	if sealer == nil {
		for _, e := range reg.byName {
			if e.personal >= 0 {
				return nil, fmt.Errorf("eventstore: codec needs a sealer: %s has a personal part", e.name)
			}
		}
	}
	c := &Codec{reg: reg, sealer: sealer}
	c.appender, _ = sealer.(AppendOpener)
	return c, nil
}

// Registry returns the codec's registry.
func (c *Codec) Registry() *Registry { return c.reg }

// Encode builds the envelope of a domain event with a new UUIDv7 id.
func (c *Codec) Encode(ctx context.Context, payload any, meta Metadata) (Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, err
	}
	return c.EncodeWithID(ctx, id, payload, meta)
}

// JSONAppender is implemented by high-volume event types that encode their
// public part by hand. AppendJSON must write exactly what json.Marshal would
// (the type's tests prove it): the codec uses it instead of reflection.
type JSONAppender interface {
	AppendJSON(dst []byte) ([]byte, error)
}

// EncodeWithID builds the envelope of a domain event with a caller-chosen id
// (for idempotent events whose id derives from a request id).
func (c *Codec) EncodeWithID(ctx context.Context, id uuid.UUID, payload any, meta Metadata) (Event, error) {
	v := reflect.ValueOf(payload)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	e, ok := c.reg.byType[v.Type()]
	if !ok {
		return Event{}, fmt.Errorf("%w: %s", ErrUnknownType, v.Type())
	}
	var data []byte
	var err error
	if a, ok := v.Interface().(JSONAppender); ok {
		// room for a usage record, the one hot appender, so it does not grow
		data, err = a.AppendJSON(make([]byte, 0, 384))
	} else {
		data, err = json.Marshal(v.Interface())
	}
	if err != nil {
		return Event{}, fmt.Errorf("eventstore: encode %s: %w", e.name, err)
	}
	ev := Event{ID: id, Type: e.name, Schema: e.schema, Data: data, Meta: meta}
	if e.personal >= 0 {
		subject := v.Interface().(Subjected).SubjectID()
		if subject == uuid.Nil {
			return Event{}, fmt.Errorf("%w: %s has a personal part but no subject", ErrInvalidEvent, e.name)
		}
		plain, err := encodePersonal(e.layout, v.Field(e.personal))
		if err != nil {
			return Event{}, fmt.Errorf("eventstore: encode personal part of %s: %w", e.name, err)
		}
		ev.Subject = subject.String()
		if ev.Sealed, err = c.sealer.Seal(ctx, ev.Subject, id, plain); err != nil {
			return Event{}, fmt.Errorf("eventstore: seal %s: %w", e.name, err)
		}
	}
	return ev, nil
}

// Decoded is a stored event turned back into its domain value.
type Decoded struct {
	Event   Event
	Payload any  // the domain event, as a struct value (not a pointer)
	Erased  bool // the personal part could not be opened: its subject was erased
}

// Decode turns an envelope into its domain event, lifting old schemas and
// opening the personal part. A shredded subject is not an error: Payload
// holds the public data and Erased is set. Any other failure to open (a
// tampered ciphertext) is an error.
func (c *Codec) Decode(ctx context.Context, ev Event) (Decoded, error) {
	e, ok := c.reg.byName[ev.Type]
	if !ok {
		return Decoded{}, fmt.Errorf("%w: %q", ErrUnknownType, ev.Type)
	}
	data := ev.Data
	if !isJSONObject(data) {
		return Decoded{}, fmt.Errorf("eventstore: decode %s at position %d: public payload is not a JSON object", e.name, ev.Position)
	}
	for s := ev.Schema; s < e.schema; s++ {
		up, ok := c.reg.upcasters[e.name][s]
		if !ok {
			return Decoded{}, fmt.Errorf("%w: %s schema %d", ErrUpcastMissing, e.name, s)
		}
		var err error
		if data, err = up(data); err != nil {
			return Decoded{}, fmt.Errorf("eventstore: upcast %s from schema %d: %w", e.name, s, err)
		}
	}
	ptr := e.newScratch()
	defer e.releaseScratch(ptr)
	if err := json.Unmarshal(data, ptr.Interface()); err != nil {
		return Decoded{}, fmt.Errorf("eventstore: decode %s at position %d: %w", e.name, ev.Position, err)
	}
	out := Decoded{Event: ev}
	if e.personal >= 0 && len(ev.Sealed) > 0 {
		erased, err := c.openPersonal(ctx, e, &ev, ptr.Elem().Field(e.personal))
		if err != nil {
			return Decoded{}, err
		}
		out.Erased = erased
	}
	out.Payload = ptr.Elem().Interface() // a copy: ptr is recycled
	return out, nil
}

// openPersonal opens ev's personal part into dst (the Personal field);
// erased is true when the subject's key is shredded.
func (c *Codec) openPersonal(ctx context.Context, e *entry, ev *Event, dst reflect.Value) (erased bool, err error) {
	var (
		plain []byte
		buf   *[]byte
	)
	if c.appender != nil {
		buf = plainPool.Get().(*[]byte)
		plain, err = c.appender.OpenAppend(ctx, (*buf)[:0], ev.Subject, ev.ID, ev.Sealed)
		defer func() {
			if plain != nil {
				clear(plain) // decodePersonalShared copied what it needs
				*buf = plain[:0]
			}
			if cap(*buf) <= 64<<10 { // an outsized one goes to the collector
				plainPool.Put(buf)
			}
		}()
	} else {
		plain, err = c.sealer.Open(ctx, ev.Subject, ev.ID, ev.Sealed)
	}
	switch {
	case errors.Is(err, ErrKeyShredded):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("eventstore: open personal part at position %d: %w", ev.Position, err)
	}
	if err := decodePersonalShared(e.layout, plain, dst); err != nil {
		return false, fmt.Errorf("eventstore: decode personal part at position %d: %w", ev.Position, err)
	}
	return false, nil
}

// DecodePublic decodes only the public payload, never touching the sealer:
// what auditors and the chain need.
func (c *Codec) DecodePublic(ev Event) (any, error) {
	ev.Sealed = nil // never opened: Decode skips an absent personal part
	d, err := c.Decode(context.Background(), ev)
	return d.Payload, err
}

// isJSONObject reports whether data (already valid JSON: the store checks it
// on append) is an object, the only shape a domain event's payload has. It
// keeps upcasters from ever seeing null, arrays or scalars.
func isJSONObject(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}
