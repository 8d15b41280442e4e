package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Hash is a SHA-256 link of the chain.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the empty hash (before position 1).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes h as lower-case hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes lower-case hex.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("hash: want 64 hex characters, got %d", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// HashFromBytes copies a stored 32-byte hash; any other length is an error.
func HashFromBytes(b []byte) (Hash, error) {
	var h Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("hash: want 32 bytes, got %d", len(b))
	}
	copy(h[:], b)
	return h, nil
}

// canonicalVersion prefixes the canonical encoding so it can evolve.
const canonicalVersion = "ledgerline/envelope/v1\x00"

// AppendCanonical appends the canonical bytes of e (every field but the hashes,
// the sealed ciphertext included) to buf. Length prefixes make the encoding
// unambiguous; it is what the chain hashes, so it must never change for v1.
func AppendCanonical(buf []byte, e *Event) []byte {
	buf = append(buf, canonicalVersion...)
	buf = binary.BigEndian.AppendUint64(buf, e.Position)
	buf = append(buf, e.ID[:]...)
	buf = appendBytes(buf, []byte(e.Stream))
	buf = binary.BigEndian.AppendUint64(buf, e.Version)
	buf = appendBytes(buf, []byte(e.Type))
	buf = binary.BigEndian.AppendUint32(buf, uint32(e.Schema))
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.RecordedAt.UnixMicro()))
	buf = appendBytes(buf, e.Data)
	buf = appendBytes(buf, []byte(e.Subject))
	buf = appendBytes(buf, e.Sealed)
	for _, s := range [...]string{e.Meta.CorrelationID, e.Meta.CausationID, e.Meta.Actor, e.Meta.ActorRole, e.Meta.RequestID} {
		buf = appendBytes(buf, []byte(s))
	}
	return buf
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
	return append(buf, b...)
}

// ComputeHash returns SHA-256(prev || canonical(e)). scratch is reused when
// large enough, to keep appends allocation-light.
func ComputeHash(prev Hash, e *Event, scratch []byte) (Hash, []byte) {
	scratch = append(scratch[:0], prev[:]...)
	scratch = AppendCanonical(scratch, e)
	return sha256.Sum256(scratch), scratch
}

// Link sets e.PrevHash to prev and e.Hash to the chained hash. Backends call
// it under their append lock, once Position, Version and RecordedAt are set.
func Link(e *Event, prev Hash, scratch []byte) []byte {
	e.PrevHash = prev
	e.Hash, scratch = ComputeHash(prev, e, scratch)
	return scratch
}

// VerifyResult summarises a chain verification.
type VerifyResult struct {
	Events uint64
	Head   Head
}

// VerifyChain reads the whole log from position 1 and checks positions are
// gapless, each PrevHash matches the previous Hash, and each Hash matches the
// recomputed one. It never needs to decrypt anything. The first break is
// returned as a *ChainError naming its position. progress, if not nil, is
// called after each page with the last position checked.
func VerifyChain(ctx context.Context, s Store, progress func(pos uint64)) (VerifyResult, error) {
	var (
		res     VerifyResult
		prev    Hash
		next    uint64 = 1
		scratch []byte
	)
	for {
		page, err := s.ReadAll(ctx, next, 4096)
		if err != nil {
			return res, err
		}
		for i := range page {
			e := &page[i]
			if e.Position != next {
				return res, &ChainError{Position: next, Reason: fmt.Sprintf("position %d missing (next stored is %d)", next, e.Position)}
			}
			if e.PrevHash != prev {
				return res, &ChainError{Position: e.Position, Reason: "previous-hash link does not match"}
			}
			var h Hash
			h, scratch = ComputeHash(prev, e, scratch)
			if h != e.Hash {
				return res, &ChainError{Position: e.Position, Reason: "stored content does not match its hash"}
			}
			prev = e.Hash
			res.Events++
			res.Head = Head{Position: e.Position, Hash: e.Hash}
			next++
		}
		if progress != nil && len(page) > 0 {
			progress(next - 1)
		}
		if len(page) < 4096 {
			return res, nil
		}
	}
}
