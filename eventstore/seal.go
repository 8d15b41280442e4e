package eventstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// sealVersion is the first byte of every sealed part. Version 1:
//
//	0x01 | nonce (12 random bytes) | AES-256-GCM ciphertext and tag
//
// with associated data 0x01 | event id (16 bytes) | subject.
const sealVersion = 1

const (
	nonceSize   = 12
	tagSize     = 16
	sealedExtra = 1 + nonceSize + tagSize
)

// DefaultSealerCache is the cache size NewSealer uses for cacheSize <= 0.
const DefaultSealerCache = 4096

// VaultSealer implements Sealer with the subjects' data keys from a Vault.
// It keeps a bounded cache of ready AEADs (one per subject, built from the
// unwrapped DEK, whose bytes are then wiped) so a replay does not unwrap a
// key per event, and a negative cache of shredded subjects so replaying an
// erased subject does not ask the vault per event either (see aeadCache).
//
// Erasure must reach every cache: Shred purges this one; other processes
// purge theirs by calling Forget when they hear of the shred (OnShred lets
// the wiring broadcast it). It is safe for concurrent use.
type VaultSealer struct {
	vault    Vault
	cache    *aeadCache
	onShred  []func(subject string)
	shredsMu sync.Mutex
}

var _ Sealer = (*VaultSealer)(nil)

// NewSealer returns a sealer over v caching up to cacheSize subjects
// (DefaultSealerCache when cacheSize <= 0).
func NewSealer(v Vault, cacheSize int) *VaultSealer {
	if cacheSize <= 0 {
		cacheSize = DefaultSealerCache
	}
	return &VaultSealer{vault: v, cache: newAEADCache(cacheSize)}
}

// Seal implements Sealer: it creates the subject's key on first use.
func (s *VaultSealer) Seal(ctx context.Context, subject string, eventID uuid.UUID, plaintext []byte) ([]byte, error) {
	aead, err := s.aead(ctx, subject, true)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1, sealedExtra+len(plaintext))
	out[0] = sealVersion
	ad := getAD(subject, eventID)
	out = aead.Seal(out, nil, plaintext, *ad)
	adPool.Put(ad)
	return out, nil
}

// Open implements Sealer. It fails with ErrKeyShredded once the subject's key
// is destroyed and with ErrSealBroken when the sealed bytes do not
// authenticate for this event and subject.
func (s *VaultSealer) Open(ctx context.Context, subject string, eventID uuid.UUID, sealed []byte) ([]byte, error) {
	return s.OpenAppend(ctx, nil, subject, eventID, sealed)
}

// OpenAppend implements AppendOpener: Open, appending the plaintext to dst.
func (s *VaultSealer) OpenAppend(ctx context.Context, dst []byte, subject string, eventID uuid.UUID, sealed []byte) ([]byte, error) {
	if len(sealed) < sealedExtra || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: event %s: bad format", ErrSealBroken, eventID)
	}
	aead, err := s.aead(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	ad := getAD(subject, eventID)
	plain, err := aead.Open(dst, nil, sealed[1:], *ad)
	adPool.Put(ad)
	if err != nil {
		return nil, fmt.Errorf("%w: event %s", ErrSealBroken, eventID)
	}
	return plain, nil
}

// Shred destroys the subject's key in the vault, then purges it from this
// sealer's caches and calls the OnShred hooks.
func (s *VaultSealer) Shred(ctx context.Context, subject string) (ShredResult, error) {
	// Forget after the vault shred: a cache fill racing with it either sees
	// the tombstone or is dropped because Forget bumped the generation.
	res, err := s.vault.Shred(ctx, subject)
	s.Forget(subject)
	if err != nil {
		return res, err
	}
	s.shredsMu.Lock()
	hooks := append([]func(string){}, s.onShred...)
	s.shredsMu.Unlock()
	for _, fn := range hooks {
		fn(subject)
	}
	return res, nil
}

// OnShred registers fn to run after every successful Shred, e.g. to
// broadcast the shred so other processes call Forget.
func (s *VaultSealer) OnShred(fn func(subject string)) {
	s.shredsMu.Lock()
	s.onShred = append(s.onShred, fn)
	s.shredsMu.Unlock()
}

// Forget purges subject from the caches (key and negative entry).
func (s *VaultSealer) Forget(subject string) {
	s.cache.forget(keyOf(subject))
}

// Cached reports whether subject has a cached key (shredded=false) or a
// cached shred (shredded=true). For tests and metrics.
func (s *VaultSealer) Cached(subject string) (cached, shredded bool) {
	return s.cache.lookup(keyOf(subject))
}

// Len returns the number of cached subjects.
func (s *VaultSealer) Len() int { return s.cache.len() }

// aead returns the subject's cipher, from the cache or the vault (create
// selects DataKey over OpenKey).
func (s *VaultSealer) aead(ctx context.Context, subject string, create bool) (cipher.AEAD, error) {
	k := keyOf(subject)
	a, ok, gen := s.cache.get(k)
	if ok {
		if a == nil {
			return nil, fmt.Errorf("%w: subject %s", ErrKeyShredded, subject)
		}
		return a, nil
	}
	var dek DEK
	var err error
	if create {
		dek, err = s.vault.DataKey(ctx, subject)
	} else {
		dek, err = s.vault.OpenKey(ctx, subject)
	}
	switch {
	case errors.Is(err, ErrKeyShredded):
		s.cache.put(k, nil, gen)
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("eventstore: data key of subject %s: %w", subject, err)
	}
	a, err = newSealAEAD(dek.Key[:])
	clear(dek.Key[:])
	if err != nil {
		return nil, err
	}
	s.cache.put(k, a, gen)
	return a, nil
}

func newSealAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// adPool recycles associated-data buffers: Seal and Open are hot paths.
var adPool = sync.Pool{New: func() any { b := make([]byte, 0, 64); return &b }}

// getAD builds, in a pooled buffer, the associated data that binds a sealed
// part to its format, event and subject. Return it to adPool after use.
func getAD(subject string, id uuid.UUID) *[]byte {
	p := adPool.Get().(*[]byte)
	ad := append((*p)[:0], sealVersion)
	ad = append(ad, id[:]...)
	*p = append(ad, subject...)
	return p
}
