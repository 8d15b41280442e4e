package eventstore

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on envelope fields; backends rely on them for column sizes.
const (
	MaxStreamLen  = 200
	MaxTypeLen    = 100
	MaxDataLen    = 1 << 20
	MaxSealedLen  = 64 << 10
	MaxEventsCall = 10000
)

// FieldError names the envelope field and the rule an invalid event broke.
// errors.Is(err, ErrInvalidEvent) holds for it.
type FieldError struct {
	Index int // index of the event in the Append call, -1 for the call itself
	Field string
	Rule  string
}

func (e *FieldError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("eventstore: invalid append: %s %s", e.Field, e.Rule)
	}
	return fmt.Sprintf("eventstore: invalid event %d: %s %s", e.Index, e.Field, e.Rule)
}

func (e *FieldError) Unwrap() error { return ErrInvalidEvent }

// PrepareAppend validates an Append call and fills defaults in place: a
// missing id becomes a new UUIDv7, schema 0 becomes 1, empty data becomes {}.
// Every backend calls it before touching storage, so a bad call writes nothing.
func PrepareAppend(stream string, expected ExpectedVersion, events []Event) error {
	switch {
	case stream == "":
		return &FieldError{Index: -1, Field: "stream", Rule: "is required"}
	case len(stream) > MaxStreamLen:
		return &FieldError{Index: -1, Field: "stream", Rule: fmt.Sprintf("must be at most %d bytes", MaxStreamLen)}
	case !utf8.ValidString(stream):
		return &FieldError{Index: -1, Field: "stream", Rule: "must be valid UTF-8"}
	case expected < StreamExists:
		return &FieldError{Index: -1, Field: "expected_version", Rule: "must be Any, NoStream, StreamExists or an exact version"}
	case len(events) == 0:
		return &FieldError{Index: -1, Field: "events", Rule: "must not be empty"}
	case len(events) > MaxEventsCall:
		return &FieldError{Index: -1, Field: "events", Rule: fmt.Sprintf("must hold at most %d events", MaxEventsCall)}
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i := range events {
		e := &events[i]
		if e.ID == uuid.Nil {
			id, err := uuid.NewV7()
			if err != nil {
				return fmt.Errorf("eventstore: new event id: %w", err)
			}
			e.ID = id
		}
		if _, dup := seen[e.ID]; dup {
			return &FieldError{Index: i, Field: "id", Rule: "must be unique within the call"}
		}
		seen[e.ID] = struct{}{}
		if e.Schema == 0 {
			e.Schema = 1
		}
		if len(e.Data) == 0 {
			e.Data = []byte("{}")
		}
		switch {
		case e.Type == "":
			return &FieldError{Index: i, Field: "type", Rule: "is required"}
		case len(e.Type) > MaxTypeLen || !utf8.ValidString(e.Type):
			return &FieldError{Index: i, Field: "type", Rule: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxTypeLen)}
		case e.Schema < 0:
			return &FieldError{Index: i, Field: "schema", Rule: "must be >= 1"}
		case len(e.Data) > MaxDataLen:
			return &FieldError{Index: i, Field: "data", Rule: fmt.Sprintf("must be at most %d bytes", MaxDataLen)}
		case !validJSON(e.Data):
			return &FieldError{Index: i, Field: "data", Rule: "must be valid JSON"}
		case len(e.Sealed) > MaxSealedLen:
			return &FieldError{Index: i, Field: "sealed", Rule: fmt.Sprintf("must be at most %d bytes", MaxSealedLen)}
		case len(e.Sealed) > 0 && e.Subject == "":
			return &FieldError{Index: i, Field: "subject", Rule: "is required when a sealed part is present"}
		case e.Subject != "" && !canonicalUUID(e.Subject):
			return &FieldError{Index: i, Field: "subject", Rule: "must be a UUID in canonical lower-case form"}
		}
		e.Stream = stream
	}
	return nil
}

// IsRepeat reports whether an incoming event with the id of a stored one is a
// harmless repeat (same stream and type: first write wins, content of the
// repeat is ignored, since a retried request may re-seal with a new nonce)
// rather than a clash.
func IsRepeat(stored, incoming *Event) bool {
	return stored.Stream == incoming.Stream && stored.Type == incoming.Type
}

// Now returns the store timestamp: UTC truncated to microseconds, the
// precision every backend keeps, so hashes recompute identically after a
// round trip through storage.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// canonicalUUID reports whether s is a UUID written as uuid.UUID.String
// writes it. Subjects are always ids; the canonical form lets a backend store
// them in 16 bytes and still give back the exact string the chain hashed.
func canonicalUUID(s string) bool {
	_, ok := parseCanonicalUUID(s)
	return ok
}

// parseCanonicalUUID parses the lower-case hyphenated form only: the vault keys
// subjects by their string, so "ABC…" and "abc…" must stay two subjects. It
// runs for every sealed event read (the key cache lookup), so it looks digits
// up in a table instead of branching on each: random hex defeats the branch
// predictor.
func parseCanonicalUUID(s string) (uuid.UUID, bool) {
	var id uuid.UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	var bad byte
	for i, o := range uuidPairs {
		hi, lo := hexNibble[s[o]], hexNibble[s[o+1]]
		bad |= hi | lo
		id[i] = hi<<4 | lo
	}
	if bad > 15 {
		return uuid.UUID{}, false
	}
	return id, true
}

// hexNibble maps a byte to its value as a lower-case hex digit, or 0xff.
var hexNibble = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// uuidPairs are the offsets of the 16 hex pairs of a canonical UUID.
var uuidPairs = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}
