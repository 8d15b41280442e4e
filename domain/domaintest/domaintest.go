// Package domaintest holds the given-events / when-command / then-events helper and the event
// convention check shared by the domain packages' tests. It is imported only from tests and,
// like the rest of domain/, does no I/O.
package domaintest

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// Case is one row of a given-when-then table: the aggregate is rebuilt from Given, When runs one
// command, and then either Changes() equals Then or the error matches Err (errors.Is).
type Case[A any] struct {
	Name  string
	Given []any
	When  func(A) error
	Then  []any
	Err   error
}

// Recorder is what every aggregate offers to the helper.
type Recorder interface {
	Changes() []any
}

// Run runs the table; load rebuilds the aggregate from history.
func Run[A Recorder](t *testing.T, load func(history []any) A, cases []Case[A]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Helper()
			a := load(c.Given)
			err := c.When(a)
			if c.Err != nil {
				if !errors.Is(err, c.Err) {
					t.Fatalf("error = %v, want %v", err, c.Err)
				}
				if got := a.Changes(); len(got) != 0 {
					t.Fatalf("failed command recorded %d events: %#v", len(got), got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := a.Changes(); !reflect.DeepEqual(got, c.Then) && !(len(got) == 0 && len(c.Then) == 0) {
				t.Fatalf("changes\n got: %#v\nwant: %#v", got, c.Then)
			}
		})
	}
}

var typeName = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)

type eventTyper interface{ EventType() string }
type subjecter interface{ SubjectID() uuid.UUID }

// CheckEvents enforces the event conventions the codec relies on: a unique dotted EventType,
// JSON tags on every public field, personal data only in a field named Personal of a named
// struct type tagged json:"-" (with tagged fields), SubjectID exactly on events with a Personal
// part, and a lossless JSON round trip of the public part.
func CheckEvents(t *testing.T, events []any) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range events {
		rt := reflect.TypeOf(e)
		if rt.Kind() != reflect.Struct {
			t.Errorf("%v: events must be struct values", rt)
			continue
		}
		et, ok := e.(eventTyper)
		if !ok {
			t.Errorf("%v: no EventType method", rt)
			continue
		}
		name := et.EventType()
		if !typeName.MatchString(name) {
			t.Errorf("%v: event type %q is not a dotted name", rt, name)
		}
		if seen[name] {
			t.Errorf("%v: event type %q declared twice", rt, name)
		}
		seen[name] = true
		hasPersonal := false
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if !f.IsExported() {
				t.Errorf("%v.%s: events hold only exported fields", rt, f.Name)
				continue
			}
			tag := f.Tag.Get("json")
			if f.Name == "Personal" {
				hasPersonal = true
				if tag != "-" {
					t.Errorf("%v.Personal must be tagged json:\"-\"", rt)
				}
				if f.Type.Kind() != reflect.Struct || f.Type.Name() == "" {
					t.Errorf("%v.Personal must be a named struct type", rt)
				}
				for j := 0; j < f.Type.NumField(); j++ {
					if pf := f.Type.Field(j); pf.Tag.Get("json") == "" {
						t.Errorf("%v.Personal.%s has no json tag", rt, pf.Name)
					}
				}
				continue
			}
			if tag == "" || tag == "-" || strings.HasPrefix(tag, ",") {
				t.Errorf("%v.%s needs a json name tag", rt, f.Name)
			}
		}
		_, hasSubject := e.(subjecter)
		if hasPersonal != hasSubject {
			t.Errorf("%v: has Personal=%v but SubjectID=%v", rt, hasPersonal, hasSubject)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Errorf("%v: marshal: %v", rt, err)
			continue
		}
		back := reflect.New(rt)
		if err := json.Unmarshal(b, back.Interface()); err != nil {
			t.Errorf("%v: unmarshal: %v", rt, err)
		}
	}
}

// RoundTrip marshals e's public part and decodes it into a fresh value of the same type; tests
// use it to show that public fields survive the codec while Personal does not travel with them.
func RoundTrip(t *testing.T, e any) any {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	v := reflect.New(reflect.TypeOf(e))
	if err := json.Unmarshal(b, v.Interface()); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return v.Elem().Interface()
}
