package httpapi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A value its own type refuses (a UUID, a time) is named with its path and
// a rule, at any depth; encoding/json alone says only that something failed.
func TestDecodeJSONNamesBadFormats(t *testing.T) {
	type item struct {
		KeyID uuid.UUID  `json:"key_id"`
		At    *time.Time `json:"occurred_at,omitempty"`
	}
	type embedded struct {
		Owner uuid.UUID `json:"owner"`
	}
	type body struct {
		embedded
		ID      uuid.UUID            `json:"id"`
		Records []item               `json:"records"`
		Tags    map[string]uuid.UUID `json:"tags"`
	}
	id := uuid.NewString()
	cases := []struct {
		name, body, field, rule string
	}{
		{"TopUUID", `{"id":"nope"}`, "id", "uuid"},
		{"TopUUIDOtherCase", `{"ID":"nope"}`, "id", "uuid"},
		{"EmbeddedUUID", `{"owner":"x"}`, "owner", "uuid"},
		{"UUIDInArray", `{"records":[{"key_id":"` + id + `"},{"key_id":"` + id + `x"}]}`, "records[1].key_id", "uuid"},
		{"TimeInArray", `{"records":[{"key_id":"` + id + `","occurred_at":"yesterday"}]}`, "records[0].occurred_at", "rfc3339"},
		{"TimeNotString", `{"records":[{"occurred_at":12}]}`, "records[0].occurred_at", "rfc3339"},
		{"MapValueNotKey", `{"tags":{"secret-name":"nope"}}`, "tags.(value)", "uuid"},
		{"TypeErrorStaysTypeError", `{"records":[{"key_id":12}]}`, "records.key_id", "type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v body
			err := decodeBodyString(c.body, &v)
			var p *Problem
			if !errors.As(err, &p) || len(p.Errors) != 1 {
				t.Fatalf("want one field problem, got %v", err)
			}
			if got := p.Errors[0]; got.Field != c.field || got.Rule != c.rule {
				t.Fatalf("problem names %q / %q, want %q / %q", got.Field, got.Rule, c.field, c.rule)
			}
			if strings.Contains(p.Errors[0].Message, "nope") || strings.Contains(p.Errors[0].Field, "secret") {
				t.Fatal("the problem echoes what was sent")
			}
		})
	}
}
