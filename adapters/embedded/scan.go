package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/ledgerline/ledgerline/eventstore"
)

// DirScanner searches every regular file under a data directory (the event
// log, the vault, the keyring and anything else written there) byte by byte,
// whatever the application's queries would return: free pages and old
// copies inside the bbolt files are read too.
type DirScanner struct {
	Dir string
}

var _ eventstore.StoreScanner = DirScanner{}

// scanChunk is the read size of DirScanner.
const scanChunk = 1 << 20

// Scan implements eventstore.StoreScanner.
func (d DirScanner) Scan(ctx context.Context, needles [][]byte) ([]eventstore.Finding, error) {
	if d.Dir == "" {
		return nil, errors.New("embedded: DirScanner needs a directory")
	}
	var out []eventstore.Finding
	buf := make([]byte, scanChunk)
	err := filepath.WalkDir(d.Dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		m := eventstore.NewChunkMatcher(needles)
		for {
			n, err := f.Read(buf)
			m.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("embedded: scan %s: %w", filepath.Base(path), err)
			}
		}
		rel, _ := filepath.Rel(d.Dir, path)
		found := m.Found()
		idx := make([]int, 0, len(found))
		for i := range found {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			out = append(out, eventstore.Finding{Store: "embedded data directory", Location: fmt.Sprintf("%s at byte %d", rel, found[i]), Needle: i})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: scan data directory: %w", err)
	}
	return out, nil
}
