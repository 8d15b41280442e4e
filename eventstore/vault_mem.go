package eventstore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MemKeyring is an in-memory Keyring for unit tests: nothing survives the
// process.
type MemKeyring struct {
	mu      sync.Mutex
	epochs  []EpochInfo // index = epoch-1
	keks    map[int][]byte
	current int
	pepper  []byte
	signing ed25519.PrivateKey
}

var _ Keyring = (*MemKeyring)(nil)

// NewMemKeyring returns a keyring at epoch 1 with random secrets.
func NewMemKeyring() *MemKeyring {
	k := &MemKeyring{keks: map[int][]byte{}, pepper: randomKey()}
	k.signing = ed25519.NewKeyFromSeed(randomKey())
	k.add()
	return k
}

func randomKey() []byte {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand.Read does not fail on supported platforms
	}
	return b
}

func (k *MemKeyring) add() EpochInfo {
	e := EpochInfo{Epoch: len(k.epochs) + 1, CreatedAt: Now()}
	k.epochs = append(k.epochs, e)
	k.keks[e.Epoch] = randomKey()
	k.current = e.Epoch
	return e
}

// Current implements Keyring.
func (k *MemKeyring) Current() (int, []byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current, append([]byte(nil), k.keks[k.current]...), nil
}

// KEK implements Keyring.
func (k *MemKeyring) KEK(epoch int) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if epoch < 1 || epoch > len(k.epochs) {
		return nil, fmt.Errorf("%w: KEK epoch %d", ErrNotFound, epoch)
	}
	if k.epochs[epoch-1].Retired() {
		return nil, fmt.Errorf("%w: epoch %d", ErrEpochRetired, epoch)
	}
	return append([]byte(nil), k.keks[epoch]...), nil
}

// Epochs implements Keyring.
func (k *MemKeyring) Epochs() ([]EpochInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]EpochInfo(nil), k.epochs...), nil
}

// Rotate implements Keyring.
func (k *MemKeyring) Rotate() (EpochInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.add(), nil
}

// Retire implements Keyring.
func (k *MemKeyring) Retire(epoch int) (EpochInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if epoch < 1 || epoch > len(k.epochs) {
		return EpochInfo{}, fmt.Errorf("%w: KEK epoch %d", ErrNotFound, epoch)
	}
	if epoch == k.current {
		return EpochInfo{}, fmt.Errorf("eventstore: cannot retire the current KEK epoch %d", epoch)
	}
	e := &k.epochs[epoch-1]
	if !e.Retired() {
		clear(k.keks[epoch])
		delete(k.keks, epoch)
		e.RetiredAt = Now()
	}
	return *e, nil
}

// Pepper implements Keyring.
func (k *MemKeyring) Pepper() []byte { return append([]byte(nil), k.pepper...) }

// SigningKey implements Keyring.
func (k *MemKeyring) SigningKey() ed25519.PrivateKey {
	return append(ed25519.PrivateKey(nil), k.signing...)
}

type memKey struct {
	id      uuid.UUID
	epoch   int
	wrapped []byte
}

type memTombstone struct {
	id uuid.UUID
	at time.Time
}

// MemVault is an in-memory Vault for unit tests. Like the real backends it
// holds keys only wrapped.
type MemVault struct {
	kr       Keyring
	rot      sync.RWMutex // held shared while creating keys, exclusive by RewrapAll
	mu       sync.Mutex
	keys     map[string]memKey
	shredded map[string]memTombstone
	closed   bool
}

var _ Vault = (*MemVault)(nil)

// NewMemVault returns an empty in-memory vault wrapping keys with kr.
func NewMemVault(kr Keyring) *MemVault {
	return &MemVault{kr: kr, keys: map[string]memKey{}, shredded: map[string]memTombstone{}}
}

func (m *MemVault) lookup(subject string) (memKey, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return memKey{}, false, ErrClosed
	}
	if _, ok := m.shredded[subject]; ok {
		return memKey{}, false, fmt.Errorf("%w: subject %s", ErrKeyShredded, subject)
	}
	k, ok := m.keys[subject]
	k.wrapped = append([]byte(nil), k.wrapped...) // Shred wipes the stored slice
	return k, ok, nil
}

// DataKey implements Vault.
func (m *MemVault) DataKey(ctx context.Context, subject string) (DEK, error) {
	if k, ok, err := m.lookup(subject); err != nil || ok {
		if err != nil {
			return DEK{}, err
		}
		return UnwrapWith(m.kr, k.wrapped, subject, k.epoch)
	}
	m.rot.RLock()
	defer m.rot.RUnlock()
	dek, err := NewDEK()
	if err != nil {
		return DEK{}, err
	}
	wrapped, epoch, err := WrapCurrent(m.kr, subject, dek)
	if err != nil {
		return DEK{}, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return DEK{}, ErrClosed
	}
	if _, ok := m.shredded[subject]; ok {
		m.mu.Unlock()
		return DEK{}, fmt.Errorf("%w: subject %s", ErrKeyShredded, subject)
	}
	k, raced := m.keys[subject]
	k.wrapped = append([]byte(nil), k.wrapped...)
	if !raced {
		m.keys[subject] = memKey{id: dek.ID, epoch: epoch, wrapped: wrapped}
	}
	m.mu.Unlock()
	if raced {
		return UnwrapWith(m.kr, k.wrapped, subject, k.epoch)
	}
	return dek, nil
}

// OpenKey implements Vault.
func (m *MemVault) OpenKey(ctx context.Context, subject string) (DEK, error) {
	k, ok, err := m.lookup(subject)
	if err != nil {
		return DEK{}, err
	}
	if !ok {
		return DEK{}, fmt.Errorf("%w: no data key for subject %s", ErrNotFound, subject)
	}
	return UnwrapWith(m.kr, k.wrapped, subject, k.epoch)
}

// Shred implements Vault.
func (m *MemVault) Shred(ctx context.Context, subject string) (ShredResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ShredResult{}, ErrClosed
	}
	if t, ok := m.shredded[subject]; ok {
		return ShredResult{KeyID: t.id, ShreddedAt: t.at, AlreadyShredded: true}, nil
	}
	k := m.keys[subject]
	clear(k.wrapped)
	delete(m.keys, subject)
	t := memTombstone{id: k.id, at: Now()}
	m.shredded[subject] = t
	return ShredResult{KeyID: t.id, ShreddedAt: t.at}, nil
}

// RewrapAll implements Vault.
func (m *MemVault) RewrapAll(ctx context.Context, newEpoch int) (int, error) {
	m.rot.Lock()
	defer m.rot.Unlock()
	keks := NewKEKCache(m.kr)
	defer keks.Clear()
	newKEK, err := keks.Get(newEpoch)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	n := 0
	for subject, k := range m.keys {
		if k.epoch == newEpoch {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		oldKEK, err := keks.Get(k.epoch)
		if err != nil {
			return n, fmt.Errorf("subject %s: %w", subject, err)
		}
		w, err := Rewrap(oldKEK, newKEK, subject, k.epoch, newEpoch, k.wrapped)
		if err != nil {
			return n, err
		}
		m.keys[subject] = memKey{id: k.id, epoch: newEpoch, wrapped: w}
		n++
	}
	return n, nil
}

// WrappedKey implements Vault.
func (m *MemVault) WrappedKey(ctx context.Context, subject string) ([]byte, int, error) {
	k, ok, err := m.lookup(subject)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("%w: no data key for subject %s", ErrNotFound, subject)
	}
	return k.wrapped, k.epoch, nil
}

// Close implements Vault.
func (m *MemVault) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
