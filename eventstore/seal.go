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
// It keeps a bounded LRU cache of ready AEADs (one per subject, built from
// the unwrapped DEK, whose bytes are then wiped) so a replay does not unwrap
// a key per event, and a negative cache of shredded subjects so replaying an
// erased subject does not ask the vault per event either.
//
// Erasure must reach every cache: Shred purges this one; other processes
// purge theirs by calling Forget when they hear of the shred (OnShred lets
// the wiring broadcast it). It is safe for concurrent use.
type VaultSealer struct {
	vault Vault

	mu       sync.Mutex
	cap      int
	items    map[string]*lruNode
	head     lruNode // sentinel: head.next is the most recent
	gen      uint64  // bumped by Forget; a fill started before it is dropped
	onShred  []func(subject string)
	shredsMu sync.Mutex
}

var _ Sealer = (*VaultSealer)(nil)

type lruNode struct {
	prev, next *lruNode
	subject    string
	aead       cipher.AEAD // nil for a shredded subject
}

// NewSealer returns a sealer over v caching up to cacheSize subjects
// (DefaultSealerCache when cacheSize <= 0).
func NewSealer(v Vault, cacheSize int) *VaultSealer {
	if cacheSize <= 0 {
		cacheSize = DefaultSealerCache
	}
	s := &VaultSealer{vault: v, cap: cacheSize, items: make(map[string]*lruNode, cacheSize)}
	s.head.next, s.head.prev = &s.head, &s.head
	return s
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
	if len(sealed) < sealedExtra || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: event %s: bad format", ErrSealBroken, eventID)
	}
	aead, err := s.aead(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	ad := getAD(subject, eventID)
	plain, err := aead.Open(nil, nil, sealed[1:], *ad)
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
	s.mu.Lock()
	s.gen++
	if n, ok := s.items[subject]; ok {
		s.unlink(n)
	}
	s.mu.Unlock()
}

// Cached reports whether subject has a cached key (shredded=false) or a
// cached shred (shredded=true). For tests and metrics.
func (s *VaultSealer) Cached(subject string) (cached, shredded bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.items[subject]
	return ok, ok && n.aead == nil
}

// Len returns the number of cached subjects.
func (s *VaultSealer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// aead returns the subject's cipher, from the cache or the vault (create
// selects DataKey over OpenKey).
func (s *VaultSealer) aead(ctx context.Context, subject string, create bool) (cipher.AEAD, error) {
	s.mu.Lock()
	if n, ok := s.items[subject]; ok {
		s.moveFront(n)
		a := n.aead
		s.mu.Unlock()
		if a == nil {
			return nil, fmt.Errorf("%w: subject %s", ErrKeyShredded, subject)
		}
		return a, nil
	}
	gen := s.gen
	s.mu.Unlock()

	var dek DEK
	var err error
	if create {
		dek, err = s.vault.DataKey(ctx, subject)
	} else {
		dek, err = s.vault.OpenKey(ctx, subject)
	}
	var a cipher.AEAD
	switch {
	case errors.Is(err, ErrKeyShredded):
		s.put(subject, nil, gen)
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("eventstore: data key of subject %s: %w", subject, err)
	}
	a, err = newSealAEAD(dek.Key[:])
	clear(dek.Key[:])
	if err != nil {
		return nil, err
	}
	s.put(subject, a, gen)
	return a, nil
}

func newSealAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// put caches a fill unless a Forget ran since the fill started.
func (s *VaultSealer) put(subject string, a cipher.AEAD, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if n, ok := s.items[subject]; ok {
		n.aead = a
		s.moveFront(n)
		return
	}
	n := &lruNode{subject: subject, aead: a}
	s.items[subject] = n
	s.pushFront(n)
	if len(s.items) > s.cap {
		s.unlink(s.head.prev)
	}
}

func (s *VaultSealer) pushFront(n *lruNode) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}

func (s *VaultSealer) moveFront(n *lruNode) {
	if s.head.next == n {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	s.pushFront(n)
}

func (s *VaultSealer) unlink(n *lruNode) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next, n.aead = nil, nil, nil
	delete(s.items, n.subject)
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
