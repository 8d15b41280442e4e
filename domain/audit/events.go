package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
)

// Stable event type names.
const TypeChainCheckpointSigned = "audit.chain_checkpoint_signed"

// CheckpointsStream holds every signed chain checkpoint, in signing order.
const CheckpointsStream = "audit-checkpoints"

// CheckpointFormat names (and domain-separates) the signed statement. It is
// the format of `ledgerline audit checkpoint` files too, so an in-log
// checkpoint and a checkpoint file sign the same bytes for the same head.
const CheckpointFormat = "ledgerline/checkpoint/v1"

// Events returns one zero value of every event type of this package, for the registry.
func Events() []any { return []any{ChainCheckpointSigned{}} }

// ChainCheckpointSigned: the head of the log at Position had chain hash Hash
// when it was signed at SignedAt. Signature is the base64 Ed25519 signature
// of Statement's canonical bytes by the key PublicKeyID names.
type ChainCheckpointSigned struct {
	Position    uint64    `json:"position"`
	Hash        string    `json:"hash"` // lower-case hex of the 32-byte chain hash
	SignedAt    time.Time `json:"signed_at"`
	Algorithm   string    `json:"algorithm"`
	PublicKeyID string    `json:"public_key_id"`
	Signature   string    `json:"signature"`
}

func (ChainCheckpointSigned) EventType() string { return TypeChainCheckpointSigned }

// Statement is what a checkpoint signs. Its canonical form is compact JSON
// in this field order, without HTML escaping.
type Statement struct {
	Format      string    `json:"format"`
	Position    uint64    `json:"position"`
	Hash        string    `json:"hash"`
	Time        time.Time `json:"time"`
	Algorithm   string    `json:"algorithm"`
	PublicKeyID string    `json:"public_key_id"`
}

// Canonical returns the exact bytes that are signed.
func (s Statement) Canonical() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Statement returns the statement the event claims to have signed.
func (e ChainCheckpointSigned) Statement() Statement {
	return Statement{Format: CheckpointFormat, Position: e.Position, Hash: e.Hash, Time: e.SignedAt,
		Algorithm: e.Algorithm, PublicKeyID: e.PublicKeyID}
}

// ErrCheckpoint marks a checkpoint that is malformed or whose signature does
// not verify.
var ErrCheckpoint = errors.New("audit: checkpoint does not verify")

// SignCheckpoint signs the head {position, hash} at the time at (stored in
// UTC) with priv.
func SignCheckpoint(position uint64, hash [32]byte, at time.Time, priv ed25519.PrivateKey) (ChainCheckpointSigned, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return ChainCheckpointSigned{}, errors.New("audit: signing key is not Ed25519")
	}
	if position < 1 {
		return ChainCheckpointSigned{}, errors.New("audit: nothing to sign: the log is empty")
	}
	pub := priv.Public().(ed25519.PublicKey)
	e := ChainCheckpointSigned{Position: position, Hash: hex.EncodeToString(hash[:]), SignedAt: at.UTC(),
		Algorithm: certificate.Algorithm, PublicKeyID: certificate.KeyID(pub)}
	msg, err := e.Statement().Canonical()
	if err != nil {
		return ChainCheckpointSigned{}, fmt.Errorf("audit: %w", err)
	}
	e.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg))
	return e, nil
}

// Verify checks the event's signature with pub and returns the signed hash.
// Errors match ErrCheckpoint.
func (e ChainCheckpointSigned) Verify(pub ed25519.PublicKey) ([32]byte, error) {
	var h [32]byte
	fail := func(format string, args ...any) ([32]byte, error) {
		return [32]byte{}, fmt.Errorf("%w: "+format, append([]any{ErrCheckpoint}, args...)...)
	}
	switch {
	case len(pub) != ed25519.PublicKeySize:
		return fail("the public key is not Ed25519")
	case e.Algorithm != certificate.Algorithm:
		return fail("algorithm is %q, want %s", e.Algorithm, certificate.Algorithm)
	case e.PublicKeyID != certificate.KeyID(pub):
		return fail("signed by key %s, the given key is %s", e.PublicKeyID, certificate.KeyID(pub))
	case e.Position < 1:
		return fail("position must be >= 1")
	case len(e.Hash) != 64:
		return fail("hash must be 64 hex characters")
	}
	if _, err := hex.Decode(h[:], []byte(e.Hash)); err != nil || hex.EncodeToString(h[:]) != e.Hash {
		return fail("hash must be lower-case hex")
	}
	msg, err := e.Statement().Canonical()
	if err != nil {
		return fail("%v", err)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(e.Signature)
	if err != nil || !ed25519.Verify(pub, msg, sig) {
		return fail("signature does not verify")
	}
	return h, nil
}
