// Package keyring keeps Ledgerline's key-encryption keys, fraud-hash pepper
// and certificate signing key in a local file (an eventstore.Keyring).
//
// The file holds secrets in plaintext, so it must be readable and writable by
// its owner only (mode 0600): Open refuses anything wider. Every change is
// written to a temporary file, synced and renamed over the old one, so a
// crash leaves either the old or the new keyring, never a torn one. A
// retired KEK is removed from the file, never just marked. The package must
// never log or return a secret in an error.
package keyring

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/ledgerline/ledgerline/eventstore"
)

// FileName is the keyring's file name in the data directory.
const FileName = "keyring.json"

// EnvPath is the environment variable that overrides the keyring path.
const EnvPath = "LEDGERLINE_KEYRING"

// formatVersion is the "version" field of the file.
const formatVersion = 1

// DefaultPath is the keyring's path inside dataDir.
func DefaultPath(dataDir string) string { return filepath.Join(dataDir, FileName) }

// ErrPermissions: the keyring file can be read or written by group or others.
var ErrPermissions = errors.New("keyring: file permissions too open")

// File is a keyring kept in a JSON file. It is safe for concurrent use
// within one process; two processes must not rotate one file at once.
type File struct {
	path string
	mu   sync.Mutex
	st   state
}

var _ eventstore.Keyring = (*File)(nil)

// state is the file's content.
type state struct {
	Version     int     `json:"version"`
	Current     int     `json:"current"`
	Epochs      []epoch `json:"epochs"`
	Pepper      secret  `json:"pepper"`
	SigningSeed secret  `json:"signing_seed"`
}

type epoch struct {
	Epoch     int        `json:"epoch"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	Key       secret     `json:"key,omitempty"` // absent once retired
}

// secret is a byte string encoded as standard base64.
type secret []byte

func (s secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.StdEncoding.EncodeToString(s))
}

func (s *secret) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return errors.New("secret is not a string")
	}
	d, err := base64.StdEncoding.Strict().DecodeString(str)
	if err != nil {
		return errors.New("secret is not base64")
	}
	*s = d
	return nil
}

// Open loads the keyring at path, creating it (directory included) on first
// run with a fresh epoch-1 KEK, pepper and signing key.
func Open(path string) (*File, error) {
	st, err := read(path)
	if errors.Is(err, fs.ErrNotExist) {
		if st, err = create(path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return &File{path: path, st: st}, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

func read(path string) (state, error) {
	file, err := os.Open(path)
	if err != nil {
		return state{}, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return state{}, fmt.Errorf("keyring: %w", err)
	}
	if !info.Mode().IsRegular() {
		return state{}, fmt.Errorf("keyring: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return state{}, fmt.Errorf("%w: %s has mode %04o (group or others may read or write it); fix with: chmod 600 %s",
			ErrPermissions, path, info.Mode().Perm(), path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(file); err != nil {
		return state{}, fmt.Errorf("keyring: read %s: %w", path, err)
	}
	st, err := load(buf.Bytes())
	if err != nil {
		return state{}, fmt.Errorf("keyring: %s: %w", path, err)
	}
	return st, nil
}

// load parses and validates the file content. It never panics, whatever
// the input (see FuzzLoad).
func load(data []byte) (state, error) {
	var st state
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return state{}, fmt.Errorf("garbled content: %v", err)
	}
	if dec.More() {
		return state{}, errors.New("garbled content: trailing data")
	}
	return st, st.validate()
}

func (st *state) validate() error {
	if st.Version != formatVersion {
		return fmt.Errorf("unsupported version %d (want %d)", st.Version, formatVersion)
	}
	if len(st.Pepper) != eventstore.KeySize || len(st.SigningSeed) != ed25519.SeedSize {
		return errors.New("pepper and signing_seed must be 32 bytes each")
	}
	if len(st.Epochs) == 0 {
		return errors.New("no KEK epochs")
	}
	for i, e := range st.Epochs {
		switch {
		case e.Epoch != i+1:
			return fmt.Errorf("epoch %d listed at place %d: epochs must be 1, 2, 3... in order", e.Epoch, i+1)
		case e.CreatedAt.IsZero():
			return fmt.Errorf("epoch %d has no created_at", e.Epoch)
		case e.RetiredAt != nil && len(e.Key) != 0:
			return fmt.Errorf("epoch %d is retired but still has a key", e.Epoch)
		case e.RetiredAt == nil && len(e.Key) != eventstore.KeySize:
			return fmt.Errorf("epoch %d: key must be 32 bytes", e.Epoch)
		}
	}
	if st.Current < 1 || st.Current > len(st.Epochs) || st.Epochs[st.Current-1].RetiredAt != nil {
		return fmt.Errorf("current epoch %d is missing or retired", st.Current)
	}
	return nil
}

func create(path string) (state, error) {
	pepper, err := random()
	if err != nil {
		return state{}, err
	}
	seed, err := random()
	if err != nil {
		return state{}, err
	}
	kek, err := random()
	if err != nil {
		return state{}, err
	}
	st := state{
		Version: formatVersion, Current: 1, Pepper: pepper, SigningSeed: seed,
		Epochs: []epoch{{Epoch: 1, CreatedAt: eventstore.Now(), Key: kek}},
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return state{}, fmt.Errorf("keyring: %w", err)
	}
	// Link fails if another process created the file meanwhile: then use
	// theirs, so two first runs never end with two keyrings.
	if err := write(path, st, os.Link); errors.Is(err, fs.ErrExist) {
		return read(path)
	} else if err != nil {
		return state{}, err
	}
	return st, nil
}

func random() (secret, error) {
	b := make(secret, eventstore.KeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("keyring: random: %w", err)
	}
	return b, nil
}

// write stores st at path atomically: a synced temporary file in the same
// directory, put in place by place (os.Rename to replace, os.Link to create
// only if absent), then the directory synced.
func write(path string, st state, place func(oldpath, newpath string) error) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyring-*.tmp")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer clear(data)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := place(tmp.Name(), path); err != nil {
		return fmt.Errorf("keyring: install %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("keyring: sync %s: %w", dir, err)
	}
	return nil
}

// clone deep-copies st so a failed write leaves the in-memory keyring as it
// was.
func (st state) clone() state {
	out := st
	out.Epochs = make([]epoch, len(st.Epochs))
	for i, e := range st.Epochs {
		e.Key = append(secret(nil), e.Key...)
		if e.RetiredAt != nil {
			t := *e.RetiredAt
			e.RetiredAt = &t
		}
		out.Epochs[i] = e
	}
	return out
}

func (e epoch) info() eventstore.EpochInfo {
	out := eventstore.EpochInfo{Epoch: e.Epoch, CreatedAt: e.CreatedAt}
	if e.RetiredAt != nil {
		out.RetiredAt = *e.RetiredAt
	}
	return out
}

// Current implements eventstore.Keyring.
func (f *File) Current() (int, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Current, append([]byte(nil), f.st.Epochs[f.st.Current-1].Key...), nil
}

// KEK implements eventstore.Keyring.
func (f *File) KEK(n int) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 1 || n > len(f.st.Epochs) {
		return nil, fmt.Errorf("%w: KEK epoch %d", eventstore.ErrNotFound, n)
	}
	e := f.st.Epochs[n-1]
	if e.RetiredAt != nil {
		return nil, fmt.Errorf("%w: epoch %d (retired %s)", eventstore.ErrEpochRetired, n, e.RetiredAt.Format(time.RFC3339))
	}
	return append([]byte(nil), e.Key...), nil
}

// Epochs implements eventstore.Keyring.
func (f *File) Epochs() ([]eventstore.EpochInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]eventstore.EpochInfo, len(f.st.Epochs))
	for i, e := range f.st.Epochs {
		out[i] = e.info()
	}
	return out, nil
}

// Rotate implements eventstore.Keyring.
func (f *File) Rotate() (eventstore.EpochInfo, error) {
	kek, err := random()
	if err != nil {
		return eventstore.EpochInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	next := f.st.clone()
	e := epoch{Epoch: len(next.Epochs) + 1, CreatedAt: eventstore.Now(), Key: kek}
	next.Epochs = append(next.Epochs, e)
	next.Current = e.Epoch
	if err := write(f.path, next, os.Rename); err != nil {
		return eventstore.EpochInfo{}, err
	}
	f.st = next
	return e.info(), nil
}

// Retire implements eventstore.Keyring: the KEK's bytes leave the file.
func (f *File) Retire(n int) (eventstore.EpochInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 1 || n > len(f.st.Epochs) {
		return eventstore.EpochInfo{}, fmt.Errorf("%w: KEK epoch %d", eventstore.ErrNotFound, n)
	}
	if n == f.st.Current {
		return eventstore.EpochInfo{}, fmt.Errorf("keyring: cannot retire the current KEK epoch %d", n)
	}
	if e := f.st.Epochs[n-1]; e.RetiredAt != nil {
		return e.info(), nil
	}
	next := f.st.clone()
	now := eventstore.Now()
	e := &next.Epochs[n-1]
	clear(e.Key)
	e.Key, e.RetiredAt = nil, &now
	if err := write(f.path, next, os.Rename); err != nil {
		return eventstore.EpochInfo{}, err
	}
	clear(f.st.Epochs[n-1].Key)
	f.st = next
	return e.info(), nil
}

// Pepper implements eventstore.Keyring.
func (f *File) Pepper() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.st.Pepper...)
}

// SigningKey implements eventstore.Keyring.
func (f *File) SigningKey() ed25519.PrivateKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return ed25519.NewKeyFromSeed(f.st.SigningSeed)
}
