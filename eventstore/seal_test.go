package eventstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// countingVault counts the vault calls the sealer makes.
type countingVault struct {
	eventstore.Vault
	mu          sync.Mutex
	data, opens int
}

func (c *countingVault) DataKey(ctx context.Context, s string) (eventstore.DEK, error) {
	c.mu.Lock()
	c.data++
	c.mu.Unlock()
	return c.Vault.DataKey(ctx, s)
}

func (c *countingVault) OpenKey(ctx context.Context, s string) (eventstore.DEK, error) {
	c.mu.Lock()
	c.opens++
	c.mu.Unlock()
	return c.Vault.OpenKey(ctx, s)
}

func (c *countingVault) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data + c.opens
}

func newSealer(t testing.TB, size int) (*eventstore.VaultSealer, *countingVault) {
	t.Helper()
	cv := &countingVault{Vault: eventstore.NewMemVault(eventstore.NewMemKeyring())}
	return eventstore.NewSealer(cv, size), cv
}

func TestSealerRoundTrip(t *testing.T) {
	s, _ := newSealer(t, 0)
	ctx := context.Background()
	subject, id := uuid.NewString(), uuid.New()
	for _, plain := range [][]byte{[]byte(`{"email":"ada@example.com"}`), {}} {
		sealed, err := s.Seal(ctx, subject, id, plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(plain) > 0 && bytes.Contains(sealed, plain) {
			t.Fatal("sealed bytes contain the plaintext")
		}
		got, err := s.Open(ctx, subject, id, sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	a, _ := s.Seal(ctx, subject, id, []byte("same"))
	b, _ := s.Seal(ctx, subject, id, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal: the nonce is not random")
	}
}

func TestSealerRejects(t *testing.T) {
	s, _ := newSealer(t, 0)
	ctx := context.Background()
	subject, other, id := uuid.NewString(), uuid.NewString(), uuid.New()
	if _, err := s.Seal(ctx, other, id, []byte("x")); err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal(ctx, subject, id, []byte(`{"name":"Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), sealed...)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name    string
		subject string
		id      uuid.UUID
		sealed  []byte
	}{
		{"ErrOtherEvent", subject, uuid.New(), sealed},
		{"ErrOtherSubject", other, id, sealed},
		{"ErrFlippedVersion", subject, id, flip(0)},
		{"ErrFlippedNonce", subject, id, flip(3)},
		{"ErrFlippedCiphertext", subject, id, flip(len(sealed) / 2)},
		{"ErrFlippedTag", subject, id, flip(len(sealed) - 1)},
		{"ErrTruncated", subject, id, sealed[:len(sealed)-1]},
		{"ErrEmpty", subject, id, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Open(ctx, tc.subject, tc.id, tc.sealed)
			if !errors.Is(err, eventstore.ErrSealBroken) || errors.Is(err, eventstore.ErrKeyShredded) {
				t.Fatalf("got %v, want ErrSealBroken and not ErrKeyShredded", err)
			}
		})
	}
}

func TestSealerShred(t *testing.T) {
	s, cv := newSealer(t, 0)
	ctx := context.Background()
	gone, kept, id := uuid.NewString(), uuid.NewString(), uuid.New()
	sealedGone, _ := s.Seal(ctx, gone, id, []byte("gone"))
	sealedKept, _ := s.Seal(ctx, kept, id, []byte("kept"))
	if cached, _ := s.Cached(gone); !cached {
		t.Fatal("key not cached after Seal")
	}

	var heard []string
	s.OnShred(func(subject string) { heard = append(heard, subject) })
	res, err := s.Shred(ctx, gone)
	if err != nil || res.AlreadyShredded {
		t.Fatalf("Shred = %+v, %v", res, err)
	}
	if len(heard) != 1 || heard[0] != gone {
		t.Fatalf("OnShred hooks heard %v", heard)
	}
	if cached, _ := s.Cached(gone); cached {
		t.Fatal("the shredded key is still cached")
	}
	if _, err := s.Open(ctx, gone, id, sealedGone); !errors.Is(err, eventstore.ErrKeyShredded) {
		t.Fatalf("Open after Shred: %v, want ErrKeyShredded", err)
	}
	if _, err := s.Seal(ctx, gone, uuid.New(), []byte("new")); !errors.Is(err, eventstore.ErrKeyShredded) {
		t.Fatalf("Seal after Shred: %v, want ErrKeyShredded (never a new key)", err)
	}
	if _, shredded := s.Cached(gone); !shredded {
		t.Fatal("the shred is not negatively cached")
	}
	before := cv.calls()
	for range 10 {
		s.Open(ctx, gone, id, sealedGone)
	}
	if cv.calls() != before {
		t.Fatal("opening a shredded subject's events asks the vault every time")
	}
	if got, err := s.Open(ctx, kept, id, sealedKept); err != nil || string(got) != "kept" {
		t.Fatalf("another subject after Shred: %q, %v", got, err)
	}
	s.Forget(gone)
	if cached, _ := s.Cached(gone); cached {
		t.Fatal("Forget left the negative entry")
	}
}

// TestSealerForgetOtherProcess: a second sealer (another process) that had
// the key cached stops decrypting once it is told to Forget.
func TestSealerForgetOtherProcess(t *testing.T) {
	v := eventstore.NewMemVault(eventstore.NewMemKeyring())
	a, b := eventstore.NewSealer(v, 0), eventstore.NewSealer(v, 0)
	a.OnShred(b.Forget)
	ctx := context.Background()
	subject, id := uuid.NewString(), uuid.New()
	sealed, _ := a.Seal(ctx, subject, id, []byte("p"))
	if _, err := b.Open(ctx, subject, id, sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Shred(ctx, subject); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ctx, subject, id, sealed); !errors.Is(err, eventstore.ErrKeyShredded) {
		t.Fatalf("the other cache still opens after the broadcast: %v", err)
	}
}

func TestSealerCacheBounded(t *testing.T) {
	s, cv := newSealer(t, 4)
	ctx := context.Background()
	subjects := make([]string, 10)
	for i := range subjects {
		subjects[i] = uuid.NewString()
		if _, err := s.Seal(ctx, subjects[i], uuid.New(), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 4 {
		t.Fatalf("cache holds %d subjects, want 4", s.Len())
	}
	for _, sub := range subjects[:6] {
		if cached, _ := s.Cached(sub); cached {
			t.Fatalf("least recently used subject still cached")
		}
	}
	before := cv.calls()
	for range 100 {
		s.Seal(ctx, subjects[9], uuid.New(), []byte("x"))
	}
	if cv.calls() != before {
		t.Fatalf("cached subject asked the vault %d times", cv.calls()-before)
	}
}

// TestSealerConcurrentShred races seals and opens of one subject with its
// shred: afterwards nothing of it opens, in any goroutine.
func TestSealerConcurrentShred(t *testing.T) {
	s, _ := newSealer(t, 8)
	ctx := context.Background()
	for round := range 20 {
		subject, id := fmt.Sprintf("r%d", round), uuid.New()
		sealed, err := s.Seal(ctx, subject, id, []byte("p"))
		if err != nil {
			t.Fatal(err)
		}
		s.Forget(subject)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					if _, err := s.Open(ctx, subject, id, sealed); err != nil && !errors.Is(err, eventstore.ErrKeyShredded) {
						t.Errorf("Open: %v", err)
					}
				}
			})
		}
		wg.Go(func() {
			if _, err := s.Shred(ctx, subject); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if _, err := s.Open(ctx, subject, id, sealed); !errors.Is(err, eventstore.ErrKeyShredded) {
			t.Fatalf("round %d: Open after a racing Shred: %v", round, err)
		}
	}
}
