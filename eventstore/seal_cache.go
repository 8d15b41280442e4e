package eventstore

import (
	"crypto/cipher"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

// aeadCache is VaultSealer's bounded cache of ready AEADs by subject (nil
// for a shredded subject). A replay looks a subject up for every event, with
// thousands of subjects in turn, so the hit path is made of what stays in
// the processor's cache: a subject that is a canonical UUID (all of them,
// in practice) is keyed by its 16 bytes in a map of its own (a 16-byte key
// hashes and compares in one step; the string case needs a second map),
// read with a branch-free parser (a digit-by-digit one mispredicted on
// random hex and cost as much as the lookup); the entry holds the AEAD
// itself; recency is one bit in a dense array, set under a shared lock.
// Following a string key and a list node per event cost more than the
// decryption.
//
// Eviction is second-chance (CLOCK), an approximation of least recently
// used: the hand clears set bits and evicts the first entry whose bit is
// clear.
type aeadCache struct {
	mu    sync.RWMutex
	cap   int
	byID  map[uuid.UUID]cacheEntry // subjects that are canonical UUIDs
	byStr map[string]cacheEntry    // any other subject
	keys  []sealKey                // by slot
	used  []uint32                 // by slot: hit since the hand last passed (atomic under the read lock)
	free  []int32                  // slots of forgotten entries
	hand  int
	gen   uint64 // bumped by forget; a fill started before it is dropped
}

type cacheEntry struct {
	aead cipher.AEAD // nil: shredded
	slot int32
}

// sealKey is a subject: the bytes of a canonical UUID, or else the string.
type sealKey struct {
	id     uuid.UUID
	str    string
	isUUID bool
}

func keyOf(subject string) sealKey {
	if id, ok := parseCanonicalUUID(subject); ok {
		return sealKey{id: id, isUUID: true}
	}
	return sealKey{str: subject}
}

// newAEADCache returns an empty cache. Its maps grow with their contents
// rather than being sized for capacity up front: a table sized for 4096
// subjects and holding 1000 spread every lookup over four times the memory.
func newAEADCache(capacity int) *aeadCache {
	return &aeadCache{cap: capacity, byID: map[uuid.UUID]cacheEntry{}, byStr: map[string]cacheEntry{}}
}

// entry returns k's entry (caller holds mu).
func (c *aeadCache) entry(k sealKey) (cacheEntry, bool) {
	if k.isUUID {
		e, ok := c.byID[k.id]
		return e, ok
	}
	e, ok := c.byStr[k.str]
	return e, ok
}

// set stores k's entry (caller holds mu for writing).
func (c *aeadCache) set(k sealKey, e cacheEntry) {
	if k.isUUID {
		c.byID[k.id] = e
	} else {
		c.byStr[k.str] = e
	}
}

// remove deletes k's entry (caller holds mu for writing).
func (c *aeadCache) remove(k sealKey) {
	if k.isUUID {
		delete(c.byID, k.id)
	} else {
		delete(c.byStr, k.str)
	}
}

// get returns the cached AEAD of k (nil when shredded), or ok=false with
// the generation a fill must pass to put.
func (c *aeadCache) get(k sealKey) (a cipher.AEAD, ok bool, gen uint64) {
	c.mu.RLock()
	e, ok := c.entry(k)
	if ok {
		if u := &c.used[e.slot]; atomic.LoadUint32(u) == 0 { // a load first: no write per hit
			atomic.StoreUint32(u, 1)
		}
	}
	gen = c.gen
	c.mu.RUnlock()
	return e.aead, ok, gen
}

// put caches a fill unless a forget ran since the fill started.
func (c *aeadCache) put(k sealKey, a cipher.AEAD, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if e, ok := c.entry(k); ok {
		e.aead = a
		c.set(k, e)
		return
	}
	var slot int32
	switch {
	case len(c.free) > 0:
		slot = c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
	case len(c.keys) < c.cap:
		slot = int32(len(c.keys))
		c.keys = append(c.keys, sealKey{})
		c.used = append(c.used, 0)
	default: // full: every slot is taken
		for {
			if c.hand >= len(c.keys) {
				c.hand = 0
			}
			if c.used[c.hand] != 0 {
				c.used[c.hand] = 0
				c.hand++
				continue
			}
			c.remove(c.keys[c.hand])
			slot = int32(c.hand)
			c.hand++
			break
		}
	}
	c.keys[slot] = k
	c.used[slot] = 0
	c.set(k, cacheEntry{aead: a, slot: slot})
}

// forget removes k (key and negative entry) and drops fills in flight.
func (c *aeadCache) forget(k sealKey) {
	c.mu.Lock()
	c.gen++
	if e, ok := c.entry(k); ok {
		c.remove(k)
		c.keys[e.slot] = sealKey{}
		c.used[e.slot] = 0
		c.free = append(c.free, e.slot)
	}
	c.mu.Unlock()
}

// lookup reports whether k is cached, and whether as shredded.
func (c *aeadCache) lookup(k sealKey) (cached, shredded bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entry(k)
	return ok, ok && e.aead == nil
}

func (c *aeadCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byID) + len(c.byStr)
}
