package eventstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// The cache keys a subject by its UUID bytes only when the string is the
// canonical form, so two spellings of one UUID stay two vault subjects.
func TestParseCanonicalUUID(t *testing.T) {
	id := uuid.New()
	for _, tc := range []struct {
		name string
		s    string
		ok   bool
	}{
		{"OK", id.String(), true},
		{"OKNil", uuid.Nil.String(), true},
		{"ErrUpperCase", strings.ToUpper(id.String()), false},
		{"ErrBraces", "{" + id.String() + "}", false},
		{"ErrNoHyphens", strings.ReplaceAll(id.String(), "-", ""), false},
		{"ErrURN", "urn:uuid:" + id.String(), false},
		{"ErrHyphenMoved", id.String()[:7] + "-" + id.String()[7:8] + id.String()[9:], false},
		{"ErrNotHex", "g" + id.String()[1:], false},
		{"ErrEmpty", "", false},
		{"ErrName", "r1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseCanonicalUUID(tc.s)
			if ok != tc.ok || (ok && got.String() != tc.s) {
				t.Fatalf("parseCanonicalUUID(%q) = %s, %v; want ok=%v", tc.s, got, ok, tc.ok)
			}
			// the definition: what uuid.UUID.String writes
			u, err := uuid.Parse(tc.s)
			if want := err == nil && u.String() == tc.s; ok != want || canonicalUUID(tc.s) != want {
				t.Fatalf("parseCanonicalUUID(%q) ok=%v, canonicalUUID %v; uuid.Parse+String says %v", tc.s, ok, canonicalUUID(tc.s), want)
			}
		})
	}
	if keyOf(id.String()) == keyOf(strings.ToUpper(id.String())) {
		t.Fatal("two spellings of one UUID share a cache entry")
	}
	if keyOf("") == keyOf(uuid.Nil.String()) {
		t.Fatal("the empty subject and the nil UUID share a cache entry")
	}
}

// Every byte value at every position of a few strings: parseCanonicalUUID
// agrees with the definition (uuid.Parse, then String gives the input back).
func TestParseCanonicalUUIDEveryByte(t *testing.T) {
	ids := []string{uuid.NewString(), uuid.Nil.String(), "ffffffff-ffff-ffff-ffff-ffffffffffff", "", "r1"}
	check := func(m string) {
		got, ok := parseCanonicalUUID(m)
		u, err := uuid.Parse(m)
		want := err == nil && u.String() == m
		if ok != want || (ok && got != u) {
			t.Fatalf("parseCanonicalUUID(%q) = %s, %v; the definition says %v", m, got, ok, want)
		}
	}
	for _, s := range ids {
		for i := range len(s) {
			for c := range 256 {
				check(s[:i] + string([]byte{byte(c)}) + s[i+1:])
			}
		}
		check(s)
	}
}

// Second chance: an entry hit since the hand last passed survives an
// eviction; forgotten slots are reused before anything is evicted.
func TestAEADCacheSecondChance(t *testing.T) {
	c := newAEADCache(3)
	a, _ := newSealAEAD(make([]byte, KeySize))
	k := func(i int) sealKey { return keyOf(fmt.Sprintf("s%d", i)) }
	for i := range 3 {
		_, _, gen := c.get(k(i))
		c.put(k(i), a, gen)
	}
	c.get(k(0)) // hit: s0 gets a second chance
	_, _, gen := c.get(k(3))
	c.put(k(3), a, gen)
	if cached, _ := c.lookup(k(0)); !cached {
		t.Fatal("the entry hit since the last eviction was evicted")
	}
	if cached, _ := c.lookup(k(1)); cached {
		t.Fatal("the oldest unused entry survived")
	}
	c.forget(k(2))
	_, _, gen = c.get(k(4))
	c.put(k(4), a, gen)
	if c.len() != 3 {
		t.Fatalf("cache holds %d, want 3", c.len())
	}
	for _, i := range []int{0, 3, 4} {
		if cached, _ := c.lookup(k(i)); !cached {
			t.Fatalf("s%d evicted although a forgotten slot was free", i)
		}
	}
	// a fill that started before a forget is dropped
	_, _, gen = c.get(k(5))
	c.forget(k(5))
	c.put(k(5), a, gen)
	if cached, _ := c.lookup(k(5)); cached {
		t.Fatal("a fill older than a forget was cached")
	}
}

type sharedPersonal struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Note  string `json:"note"`
}

// Values decoded from a recycled, wiped plaintext buffer stay intact, and
// the shared-allocation decoder agrees with the plain one.
func TestDecodePersonalShared(t *testing.T) {
	layout := personalLayout(reflect.TypeOf(sharedPersonal{}))
	for _, p := range []sharedPersonal{
		{Email: "a@example.org", Name: "Ann", Note: "x"},
		{Email: "b@example.org"},
		{},
		{Name: strings.Repeat("long ", 100)},
	} {
		plain, err := encodePersonal(layout, reflect.ValueOf(p))
		if err != nil {
			t.Fatal(err)
		}
		buf := append([]byte(nil), plain...)
		var got, want sharedPersonal
		if err := decodePersonalShared(layout, buf, reflect.ValueOf(&got).Elem()); err != nil {
			t.Fatal(err)
		}
		clear(buf) // what the codec does before recycling the buffer
		if err := decodePersonal(layout, plain, reflect.ValueOf(&want).Elem()); err != nil {
			t.Fatal(err)
		}
		if got != p || want != p {
			t.Fatalf("shared %+v, plain %+v, want %+v", got, want, p)
		}
	}
	layout = personalLayout(reflect.TypeOf(sharedPersonal{}))
	var dst sharedPersonal
	if err := decodePersonalShared(layout, []byte{personalBinary, 5, 'e'}, reflect.ValueOf(&dst).Elem()); err == nil {
		t.Fatal("a garbled personal part decoded")
	}
}

// Hand-built binary forms (unknown names, repeated names, empty values)
// decode as decodePersonal decodes them.
func TestDecodePersonalSharedAgrees(t *testing.T) {
	layout := personalLayout(reflect.TypeOf(sharedPersonal{}))
	form := func(kv ...string) []byte {
		b := []byte{personalBinary}
		for _, s := range kv {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		return b
	}
	for name, plain := range map[string][]byte{
		"OK":            form("email", "a@example.org", "name", "Ann"),
		"OKUnknownName": form("phone", "555", "email", "a@example.org"),
		"OKRepeated":    form("email", "old@example.org", "name", "Ann", "email", "new@example.org"),
		"OKRepeatEmpty": form("email", "old@example.org", "email", ""),
		"OKEmptyValues": form("email", "", "name", ""),
		"OKNone":        form(),
	} {
		t.Run(name, func(t *testing.T) {
			var got, want sharedPersonal
			if err := decodePersonal(layout, plain, reflect.ValueOf(&want).Elem()); err != nil {
				t.Fatal(err)
			}
			buf := append([]byte(nil), plain...)
			if err := decodePersonalShared(layout, buf, reflect.ValueOf(&got).Elem()); err != nil {
				t.Fatal(err)
			}
			clear(buf)
			if got != want {
				t.Fatalf("shared %+v, plain %+v", got, want)
			}
		})
	}
}

// OpenAppend appends to what dst holds; a codec over a VaultSealer uses it.
func TestOpenAppend(t *testing.T) {
	s := NewSealer(NewMemVault(NewMemKeyring()), 0)
	codec, err := NewCodec(NewRegistry(), s)
	if err != nil {
		t.Fatal(err)
	}
	if codec.appender == nil {
		t.Fatal("the vault sealer is not used as an AppendOpener")
	}
	ctx := context.Background()
	subject, id := uuid.NewString(), uuid.New()
	buf := make([]byte, 0, 4)
	for i := range 3 {
		want := fmt.Sprintf("plaintext-%d", i)
		sealed, err := s.Seal(ctx, subject, id, []byte(want))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.OpenAppend(ctx, buf[:0], subject, id, sealed)
		if err != nil || string(got) != want {
			t.Fatalf("OpenAppend = %q, %v", got, err)
		}
		buf = got
		prefixed, err := s.OpenAppend(ctx, []byte("x:"), subject, id, sealed)
		if err != nil || string(prefixed) != "x:"+want {
			t.Fatalf("OpenAppend after a prefix = %q, %v", prefixed, err)
		}
	}
	if _, err := s.OpenAppend(ctx, nil, subject, uuid.New(), []byte{sealVersion}); err == nil {
		t.Fatal("a truncated sealed part opened")
	}
}
