package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// HandlerFunc runs one command; cmd is always a non-nil pointer to a command struct.
type HandlerFunc func(ctx context.Context, cmd any) (Result, error)

// Middleware wraps a HandlerFunc (logging, metrics, tracing...).
type Middleware func(next HandlerFunc) HandlerFunc

// CommandMetric is what the metrics hook hears about each dispatched command.
type CommandMetric struct {
	Command  string        // e.g. "RecordUsage"
	Duration time.Duration // including retries
	Attempts int           // 1 + re-runs after concurrency conflicts
	Class    Class         // ClassOK or the failure class
}

// Dispatcher routes commands to their handlers by type, through the middleware chain:
// (Deps.Middleware...) → logging → metrics → domain rules as *ValidationError → struct
// validation → retry on eventstore.ErrConcurrency → handler. It is safe for concurrent use.
type Dispatcher struct {
	handlers map[reflect.Type]HandlerFunc
	run      HandlerFunc
}

func newDispatcher(s *Service, attempts int, metrics func(CommandMetric), extra []Middleware) *Dispatcher {
	d := &Dispatcher{handlers: s.handlers()}
	route := func(ctx context.Context, cmd any) (Result, error) {
		return d.handlers[reflect.TypeOf(cmd).Elem()](ctx, cmd)
	}
	chain := []Middleware{}
	chain = append(chain, extra...)
	chain = append(chain, LoggingMiddleware(s.log), MetricsMiddleware(metrics), RuleErrorMiddleware(),
		ValidationMiddleware(), RetryMiddleware(attempts))
	h := HandlerFunc(route)
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	d.run = h
	return d
}

// Dispatch runs cmd, a command struct or a pointer to one. Errors match ErrValidation (with a
// *ValidationError), ErrNotFound, ErrConflict, ErrUnavailable or are internal; see Classify.
func (d *Dispatcher) Dispatch(ctx context.Context, cmd any) (Result, error) {
	if cmd == nil {
		return Result{}, ErrUnknownCommand
	}
	v := reflect.ValueOf(cmd)
	if v.Kind() != reflect.Pointer {
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		v = p
	} else if v.IsNil() {
		return Result{}, ErrUnknownCommand
	}
	if _, ok := d.handlers[v.Type().Elem()]; !ok {
		return Result{}, fmt.Errorf("%w: %s", ErrUnknownCommand, v.Type().Elem())
	}
	a, _ := ActorFrom(ctx)
	if a.CorrelationID == "" {
		a.CorrelationID = a.RequestID
		if a.CorrelationID == "" {
			a.CorrelationID = uuid.NewString()
		}
		ctx = WithActor(ctx, a)
	}
	return d.run(ctx, v.Interface())
}

// Commands returns a new zero pointer of every command type the dispatcher handles, sorted by
// name (for the command bus).
func (d *Dispatcher) Commands() []any {
	out := make([]any, 0, len(d.handlers))
	for t := range d.handlers {
		out = append(out, reflect.New(t).Interface())
	}
	sort.Slice(out, func(i, j int) bool { return CommandName(out[i]) < CommandName(out[j]) })
	return out
}

// CommandName is the name of a command's type, e.g. "IssueAPIKey".
func CommandName(cmd any) string {
	t := reflect.TypeOf(cmd)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	return t.Name()
}

// handle registers fn as the handler of command type C.
func handle[C any](m map[reflect.Type]HandlerFunc, fn func(context.Context, *C) (Result, error)) {
	m[reflect.TypeFor[C]()] = func(ctx context.Context, cmd any) (Result, error) { return fn(ctx, cmd.(*C)) }
}

type attemptsKey struct{}

// ValidationMiddleware checks the command's validator tags.
func ValidationMiddleware() Middleware {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, cmd any) (Result, error) {
			if err := validateCommand(CommandName(cmd), cmd); err != nil {
				return Result{}, err
			}
			return next(ctx, cmd)
		}
	}
}

// RuleErrorMiddleware maps a *domain.RuleError to a *ValidationError (same field-level shape
// as struct validation; the domain sentinel still matches with errors.Is).
func RuleErrorMiddleware() Middleware {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, cmd any) (Result, error) {
			res, err := next(ctx, cmd)
			var ve *ValidationError
			if err != nil && !errors.As(err, &ve) {
				err = ruleToValidation(CommandName(cmd), err)
			}
			return res, err
		}
	}
}

// RetryMiddleware re-runs a command that lost an optimistic-concurrency race: the handler
// reloads its aggregates, so the rules are checked again against the newer state. After
// attempts runs the conflict is returned (it matches ErrConflict via Classify).
func RetryMiddleware(attempts int) Middleware {
	if attempts < 1 {
		attempts = 1
	}
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, cmd any) (Result, error) {
			counter, _ := ctx.Value(attemptsKey{}).(*int)
			var (
				res Result
				err error
			)
			for i := 0; i < attempts; i++ {
				if counter != nil {
					*counter = i + 1
				}
				res, err = next(ctx, cmd)
				if !errors.Is(err, eventstore.ErrConcurrency) || ctx.Err() != nil {
					return res, err
				}
				if i < attempts-1 {
					// A short jittered pause spreads racing writers apart.
					time.Sleep(time.Duration(i+1) * time.Duration(50+time.Now().UnixNano()%200) * time.Microsecond)
				}
			}
			return res, fmt.Errorf("commands: %s: still conflicting after %d attempts: %w", CommandName(cmd), attempts, err)
		}
	}
}

// MetricsMiddleware calls fn once per command (nil fn: no-op).
func MetricsMiddleware(fn func(CommandMetric)) Middleware {
	return func(next HandlerFunc) HandlerFunc {
		if fn == nil {
			return next
		}
		return func(ctx context.Context, cmd any) (Result, error) {
			attempts := 0
			start := time.Now()
			res, err := next(context.WithValue(ctx, attemptsKey{}, &attempts), cmd)
			if attempts == 0 {
				attempts = 1
			}
			fn(CommandMetric{Command: CommandName(cmd), Duration: time.Since(start), Attempts: attempts, Class: Classify(err)})
			return res, err
		}
	}
}

// LoggingMiddleware logs one line per command: its name, the actor's id and role, request and
// correlation ids, duration, position and the failure class. It never logs the command's fields
// (personal data) and logs error text only for internal errors, whose messages name no values.
func LoggingMiddleware(log *slog.Logger) Middleware {
	return func(next HandlerFunc) HandlerFunc {
		if log == nil {
			return next
		}
		return func(ctx context.Context, cmd any) (Result, error) {
			start := time.Now()
			res, err := next(ctx, cmd)
			a, _ := ActorFrom(ctx)
			attrs := []slog.Attr{
				slog.String("command", CommandName(cmd)), slog.String("actor", a.ID), slog.String("role", a.Role),
				slog.String("request_id", a.RequestID), slog.String("correlation_id", a.CorrelationID),
				slog.Duration("duration", time.Since(start)), slog.Uint64("position", res.Position),
			}
			level := slog.LevelInfo
			switch c := Classify(err); c {
			case ClassOK:
			case ClassInternal:
				level = slog.LevelError
				attrs = append(attrs, slog.String("outcome", "internal_error"), slog.String("error", err.Error()))
			default:
				level = slog.LevelWarn
				attrs = append(attrs, slog.String("outcome", className(c)))
				var ve *ValidationError
				if errors.As(err, &ve) {
					fields := make([]string, 0, len(ve.Fields))
					for _, f := range ve.Fields {
						fields = append(fields, f.Field+":"+f.Rule)
					}
					attrs = append(attrs, slog.Any("violations", fields))
				}
			}
			log.LogAttrs(ctx, level, "command", attrs...)
			return res, err
		}
	}
}

func className(c Class) string {
	return [...]string{"ok", "validation", "not_found", "conflict", "unavailable", "internal"}[c]
}
