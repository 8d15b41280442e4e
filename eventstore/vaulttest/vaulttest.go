// Package vaulttest is the contract suite of eventstore.Vault and
// eventstore.Keyring: every implementation runs it from its own tests. It
// must never import a backend.
package vaulttest

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

// Features describes the backend under test.
type Features struct {
	// New returns an empty vault and the keyring it wraps keys with. It
	// registers its own cleanup.
	New func(t *testing.T) (eventstore.Vault, eventstore.Keyring)
	// Reopen, when set, closes v and opens the same storage again with kr:
	// the persistence tests run only then.
	Reopen func(t *testing.T, v eventstore.Vault, kr eventstore.Keyring) eventstore.Vault
}

// Run runs the vault contract against f.
func Run(t *testing.T, f Features) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, Features)
	}{
		{"CreateOrGet", testCreateOrGet},
		{"DistinctSubjects", testDistinctSubjects},
		{"OpenKeyNotFound", testOpenKeyNotFound},
		{"StoredOnlyWrapped", testStoredOnlyWrapped},
		{"WrappedBoundToSubjectAndEpoch", testWrappedBound},
		{"Shred", testShred},
		{"ShredTwice", testShredTwice},
		{"ShredNeverCreated", testShredNeverCreated},
		{"ShredLeavesOthers", testShredLeavesOthers},
		{"RotationRetiresResidualCopies", testRotation},
		{"RotationDuringCreates", testRotationDuringCreates},
		{"ConcurrentDataKey", testConcurrentDataKey},
		{"ConcurrentShredAndCreate", testConcurrentShredAndCreate},
		{"Persistence", testPersistence},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

func subject() string { return uuid.NewString() }

func mustDataKey(t *testing.T, v eventstore.Vault, s string) eventstore.DEK {
	t.Helper()
	d, err := v.DataKey(context.Background(), s)
	if err != nil {
		t.Fatalf("DataKey(%s): %v", s, err)
	}
	if d.ID == uuid.Nil || d.Key == ([eventstore.KeySize]byte{}) {
		t.Fatalf("DataKey(%s) returned an empty key", s)
	}
	return d
}

func mustOpenKey(t *testing.T, v eventstore.Vault, s string) eventstore.DEK {
	t.Helper()
	d, err := v.OpenKey(context.Background(), s)
	if err != nil {
		t.Fatalf("OpenKey(%s): %v", s, err)
	}
	return d
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func testCreateOrGet(t *testing.T, f Features) {
	v, _ := f.New(t)
	s := subject()
	a := mustDataKey(t, v, s)
	b := mustDataKey(t, v, s)
	if a != b {
		t.Fatal("DataKey twice returned different keys")
	}
	if c := mustOpenKey(t, v, s); c != a {
		t.Fatal("OpenKey returned another key than DataKey")
	}
}

func testDistinctSubjects(t *testing.T, f Features) {
	v, _ := f.New(t)
	a, b := mustDataKey(t, v, subject()), mustDataKey(t, v, subject())
	if a.ID == b.ID || a.Key == b.Key {
		t.Fatal("two subjects share a key or key id")
	}
}

func testOpenKeyNotFound(t *testing.T, f Features) {
	v, _ := f.New(t)
	ctx := context.Background()
	_, err := v.OpenKey(ctx, subject())
	wantErr(t, "OpenKey of an unknown subject", err, eventstore.ErrNotFound)
	_, _, err = v.WrappedKey(ctx, subject())
	wantErr(t, "WrappedKey of an unknown subject", err, eventstore.ErrNotFound)
}

func testStoredOnlyWrapped(t *testing.T, f Features) {
	v, kr := f.New(t)
	s := subject()
	d := mustDataKey(t, v, s)
	w, epoch, err := v.WrappedKey(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w, d.Key[:]) {
		t.Fatal("the wrapped copy contains the plaintext key")
	}
	cur, _, _ := kr.Current()
	if epoch != cur {
		t.Fatalf("new key wrapped under epoch %d, current is %d", epoch, cur)
	}
	got, err := eventstore.UnwrapWith(kr, w, s, epoch)
	if err != nil || got != d {
		t.Fatalf("UnwrapWith of the stored copy: %v (same key: %v)", err, got == d)
	}
}

func testWrappedBound(t *testing.T, f Features) {
	v, kr := f.New(t)
	s := subject()
	mustDataKey(t, v, s)
	w, epoch, err := v.WrappedKey(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = eventstore.UnwrapWith(kr, w, subject(), epoch)
	wantErr(t, "unwrap under another subject", err, eventstore.ErrSealBroken)
	flipped := append([]byte(nil), w...)
	flipped[len(flipped)/2] ^= 1
	_, err = eventstore.UnwrapWith(kr, flipped, s, epoch)
	wantErr(t, "unwrap of an altered copy", err, eventstore.ErrSealBroken)
}

func testShred(t *testing.T, f Features) {
	v, _ := f.New(t)
	ctx := context.Background()
	s := subject()
	d := mustDataKey(t, v, s)
	res, err := v.Shred(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyID != d.ID || res.ShreddedAt.IsZero() || res.AlreadyShredded {
		t.Fatalf("Shred result %+v, want key id %s, a time, not already shredded", res, d.ID)
	}
	_, err = v.OpenKey(ctx, s)
	wantErr(t, "OpenKey after shred", err, eventstore.ErrKeyShredded)
	_, err = v.DataKey(ctx, s)
	wantErr(t, "DataKey after shred", err, eventstore.ErrKeyShredded)
	_, _, err = v.WrappedKey(ctx, s)
	wantErr(t, "WrappedKey after shred", err, eventstore.ErrKeyShredded)
}

func testShredTwice(t *testing.T, f Features) {
	v, _ := f.New(t)
	ctx := context.Background()
	s := subject()
	d := mustDataKey(t, v, s)
	first, err := v.Shred(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := v.Shred(ctx, s)
	if err != nil {
		t.Fatalf("second Shred: %v", err)
	}
	if !again.AlreadyShredded || again.KeyID != d.ID || !again.ShreddedAt.Equal(first.ShreddedAt) {
		t.Fatalf("second Shred = %+v, want AlreadyShredded with the first result %+v", again, first)
	}
}

func testShredNeverCreated(t *testing.T, f Features) {
	v, _ := f.New(t)
	ctx := context.Background()
	s := subject()
	res, err := v.Shred(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.AlreadyShredded || res.KeyID != uuid.Nil {
		t.Fatalf("Shred of a subject without key = %+v", res)
	}
	_, err = v.DataKey(ctx, s)
	wantErr(t, "DataKey after shredding a subject that had no key", err, eventstore.ErrKeyShredded)
}

func testShredLeavesOthers(t *testing.T, f Features) {
	v, _ := f.New(t)
	a, b := subject(), subject()
	mustDataKey(t, v, a)
	kb := mustDataKey(t, v, b)
	if _, err := v.Shred(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := mustOpenKey(t, v, b); got != kb {
		t.Fatal("shredding one subject changed another's key")
	}
	if got := mustDataKey(t, v, b); got != kb {
		t.Fatal("DataKey of an untouched subject changed after another's shred")
	}
}

func testRotation(t *testing.T, f Features) {
	v, kr := f.New(t)
	ctx := context.Background()
	gone, kept := subject(), subject()
	mustDataKey(t, v, gone)
	keep := mustDataKey(t, v, kept)

	// What a backup or a dead tuple keeps: the wrapped copy before the shred.
	residual, epoch, err := v.WrappedKey(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eventstore.UnwrapWith(kr, residual, gone, epoch); err != nil {
		t.Fatalf("the residual copy should open before rotation: %v", err)
	}
	if _, err := v.Shred(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := eventstore.UnwrapWith(kr, residual, gone, epoch); err != nil {
		t.Fatalf("before rotation the residual copy still opens (that is what rotation is for): %v", err)
	}

	res, err := eventstore.RotateKEK(ctx, kr, v)
	if err != nil {
		t.Fatal(err)
	}
	if res.OldEpoch != epoch || res.NewEpoch <= epoch || res.Rewrapped < 1 || res.RetiredAt.IsZero() {
		t.Fatalf("RotateKEK = %+v, old epoch should be %d", res, epoch)
	}
	_, err = eventstore.UnwrapWith(kr, residual, gone, epoch)
	wantErr(t, "unwrap of a residual copy after its epoch was retired", err, eventstore.ErrEpochRetired)

	if got := mustOpenKey(t, v, kept); got != keep {
		t.Fatal("a live key changed across rotation")
	}
	w, e, err := v.WrappedKey(ctx, kept)
	if err != nil || e != res.NewEpoch {
		t.Fatalf("live key after rotation: epoch %d, error %v; want epoch %d", e, err, res.NewEpoch)
	}
	if got, err := eventstore.UnwrapWith(kr, w, kept, e); err != nil || got != keep {
		t.Fatalf("UnwrapWith of the re-wrapped copy: %v", err)
	}
	epochs, err := kr.Epochs()
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range epochs {
		if info.Epoch == epoch && (!info.Retired() || info.RetiredAt.After(res.RetiredAt)) {
			t.Fatalf("keyring: epoch %d retired at %v, rotation reports %v", epoch, info.RetiredAt, res.RetiredAt)
		}
	}
	_, err = v.DataKey(ctx, gone)
	wantErr(t, "DataKey of the shredded subject after rotation", err, eventstore.ErrKeyShredded)
	mustDataKey(t, v, subject())

	again, err := eventstore.RotateKEK(ctx, kr, v)
	if err != nil || again.Rewrapped < 2 {
		t.Fatalf("second rotation: %+v, %v", again, err)
	}
	if got := mustOpenKey(t, v, kept); got != keep {
		t.Fatal("a live key changed across a second rotation")
	}
}

func testRotationDuringCreates(t *testing.T, f Features) {
	v, kr := f.New(t)
	ctx := context.Background()
	const workers, perWorker = 4, 25
	keys := make([][]eventstore.DEK, workers)
	subjects := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range perWorker {
				s := subject()
				d, err := v.DataKey(ctx, s)
				if err != nil {
					t.Errorf("DataKey during rotation: %v", err)
					return
				}
				subjects[w] = append(subjects[w], s)
				keys[w] = append(keys[w], d)
			}
		})
	}
	for range 3 {
		if _, err := eventstore.RotateKEK(ctx, kr, v); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for w := range workers {
		for i, s := range subjects[w] {
			got, err := v.OpenKey(ctx, s)
			if err != nil || got != keys[w][i] {
				t.Fatalf("key created during rotation lost: %v", err)
			}
		}
	}
}

func testConcurrentDataKey(t *testing.T, f Features) {
	v, _ := f.New(t)
	s := subject()
	const n = 32
	got := make([]eventstore.DEK, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = v.DataKey(context.Background(), s)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("DataKey %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("concurrent DataKey calls got different keys (%s, %s)", got[0].ID, got[i].ID)
		}
	}
	if k := mustOpenKey(t, v, s); k != got[0] {
		t.Fatal("stored key differs from the one handed out")
	}
}

// testConcurrentShredAndCreate races DataKey with Shred: afterwards the
// subject must be shredded and hold no key, whoever won.
func testConcurrentShredAndCreate(t *testing.T, f Features) {
	v, _ := f.New(t)
	ctx := context.Background()
	for i := range 10 {
		s := fmt.Sprintf("race-%d-%s", i, subject())
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				<-start
				if _, err := v.DataKey(ctx, s); err != nil && !errors.Is(err, eventstore.ErrKeyShredded) {
					t.Errorf("DataKey racing Shred: %v", err)
				}
			})
		}
		wg.Go(func() {
			<-start
			if _, err := v.Shred(ctx, s); err != nil {
				t.Errorf("Shred: %v", err)
			}
		})
		close(start)
		wg.Wait()
		_, err := v.OpenKey(ctx, s)
		wantErr(t, "OpenKey after a shred that raced creates", err, eventstore.ErrKeyShredded)
		_, _, err = v.WrappedKey(ctx, s)
		wantErr(t, "WrappedKey after a shred that raced creates", err, eventstore.ErrKeyShredded)
	}
}

func testPersistence(t *testing.T, f Features) {
	if f.Reopen == nil {
		t.Skip("backend does not persist")
	}
	v, kr := f.New(t)
	ctx := context.Background()
	live, gone := subject(), subject()
	d := mustDataKey(t, v, live)
	mustDataKey(t, v, gone)
	first, err := v.Shred(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	v = f.Reopen(t, v, kr)
	if got := mustOpenKey(t, v, live); got != d {
		t.Fatal("key changed across reopen")
	}
	_, err = v.DataKey(ctx, gone)
	wantErr(t, "DataKey of a shredded subject after reopen", err, eventstore.ErrKeyShredded)
	again, err := v.Shred(ctx, gone)
	if err != nil || !again.AlreadyShredded || again.KeyID != first.KeyID || !again.ShreddedAt.Equal(first.ShreddedAt) {
		t.Fatalf("tombstone after reopen: %+v, %v; want %+v", again, err, first)
	}
	if _, err := eventstore.RotateKEK(ctx, kr, v); err != nil {
		t.Fatal(err)
	}
	v = f.Reopen(t, v, kr)
	if got := mustOpenKey(t, v, live); got != d {
		t.Fatal("key changed across rotation and reopen")
	}
}
