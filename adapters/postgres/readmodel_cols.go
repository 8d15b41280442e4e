package postgres

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// cols gathers row values column by column for an unnest statement. Each
// column is a typed slice (uuids as pgtype.UUID, nullable values as pgtype
// wrappers), so pgx encodes an array with one plan for all its elements; a
// []any column costs a plan lookup per element and sends uuid.UUID through
// its driver.Valuer string, which made encoding the projector's largest
// client-side cost.
type cols struct {
	c []column
	n int
}

// column is one typed column; its type is chosen by the first value added
// (a typed nil pointer still names the type).
type column interface {
	add(v any)
	value() any
}

func (c *cols) add(vals ...any) {
	if c.c == nil {
		c.c = make([]column, len(vals))
		for i, v := range vals {
			c.c[i] = newColumn(v)
		}
	}
	for i, v := range vals {
		c.c[i].add(v)
	}
	c.n++
}

func (c *cols) col(i int) any { return c.c[i].value() }

func (c *cols) args() []any {
	out := make([]any, len(c.c))
	for i := range c.c {
		out[i] = c.c[i].value()
	}
	return out
}

func newColumn(v any) column {
	switch v.(type) {
	case uuid.UUID, *uuid.UUID:
		return &uuidCol{}
	case string:
		return &plainCol[string]{}
	case *string:
		return &textCol{}
	case int64:
		return &plainCol[int64]{}
	case int32:
		return &plainCol[int32]{}
	case bool:
		return &plainCol[bool]{}
	case time.Time:
		return &plainCol[time.Time]{}
	case *time.Time:
		return &tsCol{}
	case []byte:
		return &plainCol[[]byte]{} // a nil slice is NULL
	}
	panic(fmt.Sprintf("postgres: no read-model column type for %T", v))
}

type plainCol[T any] struct{ v []T }

func (c *plainCol[T]) add(v any)  { c.v = append(c.v, v.(T)) }
func (c *plainCol[T]) value() any { return c.v }

type uuidCol struct{ v []pgtype.UUID }

func (c *uuidCol) add(v any) {
	switch x := v.(type) {
	case uuid.UUID:
		c.v = append(c.v, pgtype.UUID{Bytes: x, Valid: true})
	case *uuid.UUID:
		if x == nil {
			c.v = append(c.v, pgtype.UUID{})
		} else {
			c.v = append(c.v, pgtype.UUID{Bytes: *x, Valid: true})
		}
	default:
		panic(fmt.Sprintf("postgres: %T in a uuid column", v))
	}
}
func (c *uuidCol) value() any { return c.v }

type textCol struct{ v []pgtype.Text }

func (c *textCol) add(v any) {
	if x := v.(*string); x != nil {
		c.v = append(c.v, pgtype.Text{String: *x, Valid: true})
	} else {
		c.v = append(c.v, pgtype.Text{})
	}
}
func (c *textCol) value() any { return c.v }

type tsCol struct{ v []pgtype.Timestamptz }

func (c *tsCol) add(v any) {
	if x := v.(*time.Time); x != nil {
		c.v = append(c.v, pgtype.Timestamptz{Time: *x, Valid: true})
	} else {
		c.v = append(c.v, pgtype.Timestamptz{})
	}
}
func (c *tsCol) value() any { return c.v }

// pgUUIDs converts ids for a uuid[] parameter.
func pgUUIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}
