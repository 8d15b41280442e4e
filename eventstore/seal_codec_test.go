package eventstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

type signedUp struct {
	Account   uuid.UUID      `json:"account"`
	Plan      string         `json:"plan"`
	EmailHash string         `json:"email_hash"`
	Personal  signedUpPerson `json:"-"`
}

type signedUpPerson struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

func (signedUp) EventType() string        { return "test.signed_up" }
func (e signedUp) SubjectID() uuid.UUID   { return e.Account }
func (e plainSignedUp) EventType() string { return "test.plain_signed_up" }

// plainSignedUp carries the same fields all public: the baseline of the
// benchmarks.
type plainSignedUp struct {
	Account   uuid.UUID `json:"account"`
	Plan      string    `json:"plan"`
	EmailHash string    `json:"email_hash"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
}

func newCodec(t testing.TB, s eventstore.Sealer) *eventstore.Codec {
	t.Helper()
	c, err := eventstore.NewCodec(eventstore.NewRegistry().MustRegister(signedUp{}, plainSignedUp{}), s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestErasureEndToEnd: events sealed through the codec read back after a
// shred with their public data and the erased marker; the other subject's
// events still decrypt, and no stored byte holds the plaintext.
func TestErasureEndToEnd(t *testing.T) {
	ctx := context.Background()
	kr := eventstore.NewMemKeyring()
	vault := eventstore.NewMemVault(kr)
	sealer := eventstore.NewSealer(vault, 0)
	codec := newCodec(t, sealer)
	store := eventstore.NewMemStore()

	people := map[uuid.UUID]signedUpPerson{
		uuid.New(): {Email: "canary-erased@example.com", Name: "Canary Erased"},
		uuid.New(): {Email: "canary-kept@example.com", Name: "Canary Kept"},
	}
	var gone uuid.UUID
	for id, p := range people {
		if p.Name == "Canary Erased" {
			gone = id
		}
		for i := range 3 {
			ev, err := codec.Encode(ctx, signedUp{Account: id, Plan: fmt.Sprint("plan-", i),
				EmailHash: eventstore.EmailHash(kr.Pepper(), p.Email), Personal: p}, eventstore.Metadata{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.Append(ctx, "account-"+id.String(), eventstore.Any, ev); err != nil {
				t.Fatal(err)
			}
		}
	}

	events, err := store.ReadAll(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		for _, p := range people {
			for _, canary := range []string{p.Email, p.Name} {
				if bytes.Contains(ev.Data, []byte(canary)) || bytes.Contains(ev.Sealed, []byte(canary)) {
					t.Fatalf("stored event %d holds plaintext %q", ev.Position, canary)
				}
			}
		}
	}

	if _, err := sealer.Shred(ctx, gone.String()); err != nil {
		t.Fatal(err)
	}
	// A fresh sealer, as after a restart: nothing cached.
	for name, c := range map[string]*eventstore.Codec{"same process": codec, "restarted": newCodec(t, eventstore.NewSealer(vault, 0))} {
		t.Run(name, func(t *testing.T) {
			for _, ev := range events {
				d, err := c.Decode(ctx, ev)
				if err != nil {
					t.Fatalf("decode position %d: %v", ev.Position, err)
				}
				got := d.Payload.(signedUp)
				want := people[got.Account]
				if got.Plan == "" || got.EmailHash != eventstore.EmailHash(kr.Pepper(), want.Email) {
					t.Fatalf("public data lost at position %d: %+v", ev.Position, got)
				}
				switch got.Account {
				case gone:
					if !d.Erased || got.Personal != (signedUpPerson{}) {
						t.Fatalf("erased subject's event %d: Erased=%v, Personal=%+v", ev.Position, d.Erased, got.Personal)
					}
				default:
					if d.Erased || got.Personal != want {
						t.Fatalf("other subject's event %d: Erased=%v, Personal=%+v", ev.Position, d.Erased, got.Personal)
					}
				}
			}
		})
	}

	// A tampered personal part is an error, not an erasure.
	bad := events[0]
	for _, ev := range events {
		if ev.Subject != gone.String() {
			bad = ev
			break
		}
	}
	bad.Sealed = append([]byte(nil), bad.Sealed...)
	bad.Sealed[len(bad.Sealed)/2] ^= 1
	if _, err := codec.Decode(ctx, bad); !errors.Is(err, eventstore.ErrSealBroken) {
		t.Fatalf("decode of a tampered personal part: %v, want ErrSealBroken", err)
	}
}
