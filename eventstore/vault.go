package eventstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Errors of the vault and the keyring; check with errors.Is.
var (
	// ErrEpochRetired: the KEK of that epoch was destroyed, so nothing wrapped
	// under it can be unwrapped any more.
	ErrEpochRetired = errors.New("eventstore: KEK epoch retired")
	// ErrSealBroken: a sealed part or a wrapped key failed authentication
	// (tampered, truncated, or moved to another event or subject). It never
	// matches ErrKeyShredded: a broken seal is an integrity failure, not an
	// erasure.
	ErrSealBroken = errors.New("eventstore: sealed data does not authenticate")
)

// KeySize is the size of KEKs and DEKs: AES-256.
const KeySize = 32

// EpochInfo describes one KEK epoch. RetiredAt is zero while the epoch's KEK
// exists.
type EpochInfo struct {
	Epoch     int
	CreatedAt time.Time
	RetiredAt time.Time
}

// Retired reports whether the epoch's KEK has been destroyed.
func (e EpochInfo) Retired() bool { return !e.RetiredAt.IsZero() }

// Keyring holds the key-encryption keys (KEKs), organised in epochs, and the
// other long-lived secrets: the fraud-hash pepper and the Ed25519 key that
// signs deletion certificates. A file (adapters/keyring) or an external KMS
// implements it.
//
// Implementations must be safe for concurrent use. Rotate and Retire are
// durable before they return. A retired epoch's KEK is destroyed for good:
// KEK fails with an error matching ErrEpochRetired from then on, and no copy
// of it may remain in the keyring's storage. The current epoch can never be
// retired. Returned slices are copies the caller may keep.
type Keyring interface {
	// Current returns the epoch new keys are wrapped under and its KEK.
	Current() (epoch int, kek []byte, err error)
	// KEK returns the key of an epoch: ErrEpochRetired once destroyed,
	// ErrNotFound for an epoch that never existed.
	KEK(epoch int) ([]byte, error)
	// Epochs lists every epoch, live and retired, oldest first.
	Epochs() ([]EpochInfo, error)
	// Rotate creates a new epoch with a fresh KEK and makes it current.
	Rotate() (EpochInfo, error)
	// Retire destroys the KEK of a non-current epoch. Retiring an already
	// retired epoch returns its record unchanged.
	Retire(epoch int) (EpochInfo, error)
	// Pepper is the HMAC secret of fraud hashes (see EmailHash). It must never
	// be written to the event store.
	Pepper() []byte
	// SigningKey signs deletion certificates.
	SigningKey() ed25519.PrivateKey
}

// DEK is a subject's data-encryption key. It exists in plaintext only in
// memory; storage holds it wrapped by a KEK.
type DEK struct {
	ID  uuid.UUID
	Key [KeySize]byte
}

// NewDEK returns a fresh random data key with a random id.
func NewDEK() (DEK, error) {
	d := DEK{ID: uuid.New()}
	if _, err := rand.Read(d.Key[:]); err != nil {
		return DEK{}, fmt.Errorf("eventstore: new data key: %w", err)
	}
	return d, nil
}

// ShredResult records the destruction of a subject's key.
type ShredResult struct {
	KeyID           uuid.UUID // uuid.Nil when the subject never had a key
	ShreddedAt      time.Time // UTC, microsecond precision; the first shred's time on repeats
	AlreadyShredded bool
}

// Vault keeps one DEK per data subject, stored only wrapped under the
// keyring's KEK (AES-256-GCM, subject and epoch bound as associated data).
// Implementations must keep this contract (checked by eventstore/vaulttest):
//
//   - DataKey is create-or-get: concurrent calls for one subject, from any
//     number of goroutines or processes, all get the same key.
//   - A shredded subject keeps a tombstone (subject, key id, time) and no key
//     material; DataKey and OpenKey then fail with ErrKeyShredded, so a
//     shredded subject never silently gets a new key. Shredding a subject
//     that never had a key records the tombstone all the same.
//   - Shred is idempotent; repeats report AlreadyShredded and the first time.
//   - RewrapAll re-wraps every live DEK under newEpoch (normally the
//     keyring's current epoch) so older epochs can be retired. Keys created
//     concurrently with a rotation end up under the new epoch too.
//   - Every method is safe for concurrent use.
type Vault interface {
	DataKey(ctx context.Context, subject string) (DEK, error)
	// OpenKey returns an existing key: ErrKeyShredded when shredded,
	// ErrNotFound when never created.
	OpenKey(ctx context.Context, subject string) (DEK, error)
	Shred(ctx context.Context, subject string) (ShredResult, error)
	RewrapAll(ctx context.Context, newEpoch int) (int, error)
	// WrappedKey returns the stored wrapped copy and its epoch: what a backup
	// or a dead tuple would keep. For tests and verification.
	WrappedKey(ctx context.Context, subject string) ([]byte, int, error)
	Close() error
}

// wrapVersion is the first byte of a wrapped DEK, so the format can evolve.
const wrapVersion = 1

// wrapAD is the associated data of a wrapped key: format, epoch and subject,
// so a wrapped key copied onto another subject or epoch fails to open.
func wrapAD(subject string, epoch int) []byte {
	ad := make([]byte, 0, 32+len(subject))
	ad = append(ad, "ledgerline/dek/v1\x00"...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(epoch))
	return append(ad, subject...)
}

func kekAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("eventstore: KEK must be %d bytes, got %d", KeySize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// WrapDEK encrypts dek (its id and key) under kek for subject at epoch.
// Backends store only its output.
func WrapDEK(kek []byte, subject string, epoch int, dek DEK) ([]byte, error) {
	aead, err := kekAEAD(kek)
	if err != nil {
		return nil, err
	}
	var plain [16 + KeySize]byte
	copy(plain[:16], dek.ID[:])
	copy(plain[16:], dek.Key[:])
	out := make([]byte, 1, 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = wrapVersion
	out = aead.Seal(out, nil, plain[:], wrapAD(subject, epoch))
	clear(plain[:])
	return out, nil
}

// UnwrapDEK reverses WrapDEK. A wrapped key that does not authenticate (wrong
// KEK, subject or epoch; altered bytes) fails with ErrSealBroken.
func UnwrapDEK(kek []byte, subject string, epoch int, wrapped []byte) (DEK, error) {
	aead, err := kekAEAD(kek)
	if err != nil {
		return DEK{}, err
	}
	if len(wrapped) < 1+aead.NonceSize()+aead.Overhead() || wrapped[0] != wrapVersion {
		return DEK{}, fmt.Errorf("%w: wrapped key of subject %q has a bad format", ErrSealBroken, subject)
	}
	plain, err := aead.Open(nil, nil, wrapped[1:], wrapAD(subject, epoch))
	if err != nil || len(plain) != 16+KeySize {
		return DEK{}, fmt.Errorf("%w: wrapped key of subject %q at epoch %d", ErrSealBroken, subject, epoch)
	}
	var d DEK
	copy(d.ID[:], plain[:16])
	copy(d.Key[:], plain[16:])
	clear(plain)
	return d, nil
}

// UnwrapWith unwraps a stored copy of a DEK with the keyring's KEK for epoch:
// it fails with ErrEpochRetired once that epoch is retired, which is what
// makes residual copies (dead tuples, WAL, backups) useless.
func UnwrapWith(kr Keyring, wrapped []byte, subject string, epoch int) (DEK, error) {
	kek, err := kr.KEK(epoch)
	if err != nil {
		return DEK{}, err
	}
	defer clear(kek)
	return UnwrapDEK(kek, subject, epoch, wrapped)
}

// WrapCurrent wraps dek under the keyring's current epoch.
func WrapCurrent(kr Keyring, subject string, dek DEK) (wrapped []byte, epoch int, err error) {
	epoch, kek, err := kr.Current()
	if err != nil {
		return nil, 0, err
	}
	defer clear(kek)
	wrapped, err = WrapDEK(kek, subject, epoch, dek)
	return wrapped, epoch, err
}

// Rewrap moves a wrapped key from epoch from to epoch to, given both KEKs.
func Rewrap(oldKEK, newKEK []byte, subject string, from, to int, wrapped []byte) ([]byte, error) {
	d, err := UnwrapDEK(oldKEK, subject, from, wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(d.Key[:])
	return WrapDEK(newKEK, subject, to, d)
}

// KEKCache fetches KEKs from a keyring once per RewrapAll call.
type KEKCache struct {
	kr   Keyring
	keys map[int][]byte
}

// NewKEKCache returns an empty cache over kr; call Clear when done.
func NewKEKCache(kr Keyring) *KEKCache { return &KEKCache{kr: kr, keys: map[int][]byte{}} }

// Get returns the KEK of epoch.
func (c *KEKCache) Get(epoch int) ([]byte, error) {
	if k, ok := c.keys[epoch]; ok {
		return k, nil
	}
	k, err := c.kr.KEK(epoch)
	if err != nil {
		return nil, err
	}
	c.keys[epoch] = k
	return k, nil
}

// Clear wipes the cached keys.
func (c *KEKCache) Clear() {
	for _, k := range c.keys {
		clear(k)
	}
	c.keys = map[int][]byte{}
}

// RotationResult records a KEK rotation.
type RotationResult struct {
	OldEpoch  int
	NewEpoch  int
	Rewrapped int
	// Retired lists every epoch destroyed by this rotation (OldEpoch and any
	// older epoch still live, e.g. left by an interrupted rotation).
	Retired   []int
	RetiredAt time.Time // from this moment residual copies are unreadable
}

// RotateKEK makes residual copies of wrapped keys useless: it rotates the
// keyring, re-wraps every live DEK of v under the new epoch, then retires
// (destroys) every older epoch. If re-wrapping fails nothing is retired, so a
// failed rotation loses no key; running it again finishes the job.
func RotateKEK(ctx context.Context, kr Keyring, v Vault) (RotationResult, error) {
	old, _, err := kr.Current()
	if err != nil {
		return RotationResult{}, err
	}
	next, err := kr.Rotate()
	if err != nil {
		return RotationResult{}, fmt.Errorf("eventstore: rotate keyring: %w", err)
	}
	res := RotationResult{OldEpoch: old, NewEpoch: next.Epoch}
	if res.Rewrapped, err = v.RewrapAll(ctx, next.Epoch); err != nil {
		return res, fmt.Errorf("eventstore: re-wrap keys under epoch %d: %w", next.Epoch, err)
	}
	epochs, err := kr.Epochs()
	if err != nil {
		return res, err
	}
	for _, e := range epochs {
		if e.Epoch == next.Epoch || e.Retired() {
			continue
		}
		info, err := kr.Retire(e.Epoch)
		if err != nil {
			return res, fmt.Errorf("eventstore: retire epoch %d: %w", e.Epoch, err)
		}
		res.Retired = append(res.Retired, e.Epoch)
		if info.RetiredAt.After(res.RetiredAt) {
			res.RetiredAt = info.RetiredAt
		}
	}
	return res, nil
}
