package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/eventstore/vaulttest"
)

func open(t *testing.T, path string) *File {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestContract(t *testing.T) {
	vaulttest.RunKeyring(t, vaulttest.KeyringFeatures{
		New: func(t *testing.T) eventstore.Keyring { return open(t, DefaultPath(t.TempDir())) },
		Reopen: func(t *testing.T, kr eventstore.Keyring) eventstore.Keyring {
			return open(t, kr.(*File).Path())
		},
	})
}

func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := DefaultPath(dir)
	f := open(t, path)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("new keyring has mode %04o, want 0600", info.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("data directory holds %d entries, want only the keyring (no temporary files)", len(entries))
	}
	again := open(t, path)
	_, k1, _ := f.Current()
	_, k2, _ := again.Current()
	if !bytes.Equal(k1, k2) || !bytes.Equal(f.Pepper(), again.Pepper()) {
		t.Fatal("reopening the keyring created new secrets")
	}
}

// TestConcurrentFirstRun: processes starting together end with one keyring.
func TestConcurrentFirstRun(t *testing.T) {
	path := DefaultPath(t.TempDir())
	const n = 8
	peppers := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			f, err := Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			peppers[i] = f.Pepper()
		})
	}
	wg.Wait()
	for i := range n {
		if !bytes.Equal(peppers[i], peppers[0]) {
			t.Fatal("concurrent first runs created different keyrings")
		}
	}
}

func TestRefusesOpenPermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o660, 0o604, 0o602} {
		t.Run(mode.String(), func(t *testing.T) {
			path := DefaultPath(t.TempDir())
			open(t, path)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if !errors.Is(err, ErrPermissions) {
				t.Fatalf("Open of a %04o keyring: %v, want ErrPermissions", mode, err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "chmod 600 "+path) {
				t.Fatalf("error %q should name the path and the fix", msg)
			}
		})
	}
	t.Run("0400", func(t *testing.T) {
		path := DefaultPath(t.TempDir())
		open(t, path)
		os.Chmod(path, 0o400)
		if _, err := Open(path); err != nil {
			t.Fatalf("an owner-read-only keyring should open: %v", err)
		}
	})
}

func TestRejectsGarbled(t *testing.T) {
	path := DefaultPath(t.TempDir())
	open(t, path)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
	}{
		{"ErrEmpty", ""},
		{"ErrNotJSON", "not json"},
		{"ErrTruncated", string(good[:len(good)/2])},
		{"ErrTrailing", string(good) + "{}"},
		{"ErrUnknownField", strings.Replace(string(good), `"version"`, `"extra":1,"version"`, 1)},
		{"ErrVersion", strings.Replace(string(good), `"version": 1`, `"version": 2`, 1)},
		{"ErrCurrent", strings.Replace(string(good), `"current": 1`, `"current": 2`, 1)},
		{"ErrBadBase64", strings.Replace(string(good), `"pepper": "`, `"pepper": "!`, 1)},
		{"ErrNoEpochs", `{"version":1,"current":1,"epochs":[],"pepper":"","signing_seed":""}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if err == nil {
				t.Fatal("garbled keyring accepted")
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

// TestRetireRemovesKey: once retired, the KEK's bytes are gone from the file.
func TestRetireRemovesKey(t *testing.T) {
	path := DefaultPath(t.TempDir())
	f := open(t, path)
	_, old, _ := f.Current()
	if _, err := f.Rotate(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	encoded := []byte(base64.StdEncoding.EncodeToString(old))
	if !bytes.Contains(raw, encoded) {
		t.Fatal("test is blind: the live old KEK is not found in the file before retirement")
	}
	if _, err := f.Retire(1); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(path)
	if bytes.Contains(raw, encoded) || bytes.Contains(raw, old) {
		t.Fatal("the retired KEK is still in the keyring file")
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("rewritten keyring has mode %04o", info.Mode().Perm())
	}
}

// TestFailedWriteKeepsState: a rotation that cannot be written changes
// nothing, in memory or on disk.
func TestFailedWriteKeepsState(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	f := open(t, DefaultPath(dir))
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if _, err := f.Rotate(); err == nil {
		t.Fatal("rotation succeeded in a read-only directory")
	}
	if cur, _, _ := f.Current(); cur != 1 {
		t.Fatalf("failed rotation moved the current epoch to %d", cur)
	}
}

func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzLoad/*")
	if len(seeds) == 0 {
		f.Fatal("no seed corpus under testdata/fuzz/FuzzLoad")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := load(data)
		if err != nil {
			return
		}
		// Whatever loads must survive a write/read round trip unchanged.
		path := filepath.Join(t.TempDir(), FileName)
		if err := write(path, st, os.Link); err != nil {
			t.Fatal(err)
		}
		back, err := read(path)
		if err != nil {
			t.Fatalf("a valid keyring did not load back: %v", err)
		}
		if back.Current != st.Current || len(back.Epochs) != len(st.Epochs) || !bytes.Equal(back.Pepper, st.Pepper) {
			t.Fatal("round trip changed the keyring")
		}
	})
}
