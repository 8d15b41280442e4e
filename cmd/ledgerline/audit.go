package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"

	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
	"github.com/ledgerline/ledgerline/eventstore"
)

// stderr receives progress and summaries that must not mix with data on
// standard output. A variable so tests can capture it.
var stderr io.Writer = os.Stderr

// runAudit dispatches `ledgerline audit verify|export|checkpoint`. None of
// them ever decrypts personal data: they need no vault, only the log (and the
// keyring's signing key for checkpoints).
func runAudit(ctx context.Context, args []string, out io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer) error{
		"verify":     runAuditVerify,
		"export":     runAuditExport,
		"checkpoint": runAuditCheckpoint,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, `Usage: ledgerline audit <command> [flags]  (every command takes --help)

Commands:
  verify      check the whole hash chain and the signed checkpoints recorded in the log; with --checkpoint
              also that a signed checkpoint file is still in the log
  export      write the log as JSON Lines (sealed personal data stays encrypted)
  checkpoint  verify the chain and sign its head with the keyring's key

All read the embedded store (--data-dir) or PostgreSQL (--database-url). The embedded store is
locked while a server runs on it: stop the server, or use the HTTP audit endpoints.
`)
		if len(args) == 0 {
			return errors.New("audit needs a command: verify | export | checkpoint")
		}
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("unknown audit command %q (want verify, export or checkpoint)", args[0])
	}
	return run(ctx, args[1:], out)
}

func runAuditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit verify", "audit verify [--data-dir D | --database-url URL] [--public-key KEY] [--checkpoint F]\n\n"+
		"Reads the whole log and checks the hash chain (gapless positions, every link, every hash)\n"+
		"without decrypting anything. Exits non-zero and names the first broken position if any.\n"+
		"It also checks every signed checkpoint recorded in the log (serve --chain-checkpoint-interval):\n"+
		"its signature (--public-key, else the keyring's key; neither: hashes only) and that the log's\n"+
		"content up to its position still hashes to what it signed; a rewritten history names the checkpoint.\n"+
		"With --checkpoint (and --public-key) it also checks the log still holds a signed checkpoint\n"+
		"file's position with the same hash (nothing before it was rewritten or truncated).")
	sf := addStoreFlags(fs)
	pf := addPublicKeyFlags(fs)
	kf := addKeyringFlag(fs)
	cpFile := fs.String("checkpoint", "", "signed checkpoint `FILE` (from ledgerline audit checkpoint)")
	quiet := fs.Bool("quiet", false, "no progress on standard error")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	var cp *checkpoint
	if *cpFile != "" {
		pub, err := pf.load()
		if err != nil {
			return fmt.Errorf("--checkpoint: %w", err)
		}
		data, err := readLimited(*cpFile, maxCheckpointSize)
		if err != nil {
			return err
		}
		c, err := verifyCheckpoint(data, pub)
		if err != nil {
			return fmt.Errorf("checkpoint %s does NOT verify: %w", *cpFile, err)
		}
		cp = &c
	}
	s, err := sf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	logged, err := readCheckpoints(ctx, s, 1)
	if err != nil {
		fmt.Fprintf(out, "BROKEN: %v\n", err)
		return fmt.Errorf("audit verify: %w", err)
	}
	var pub ed25519.PublicKey
	if len(logged) > 0 {
		if pub, err = checkpointKey(sf, pf, kf); err != nil {
			return fmt.Errorf("audit verify: the log holds %d signed checkpoints: %w", len(logged), err)
		}
	}
	signed := map[uint64]eventstore.Hash{} // checkpoint position → the content's hash there, filled by the walk
	for _, c := range logged {
		signed[c.Position] = eventstore.Hash{}
	}
	head, err := s.Head(ctx)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	p := newProgress("verifying hash chain", head.Position, *quiet)
	res, last, err := walkChain(ctx, s, signed, p.set)
	p.done(res.Events)
	var ce *eventstore.ChainError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(out, "BROKEN: hash chain broken at position %d: %s (%d events before it verified)\n", ce.Position, ce.Reason, res.Events)
	case err != nil:
		return fmt.Errorf("audit verify: %w", err)
	default:
		fmt.Fprintf(out, "OK: hash chain verified: %d events, head position %d hash %s\n", res.Events, res.Head.Position, res.Head.Hash)
	}
	if len(logged) > 0 && pub == nil {
		fmt.Fprintf(out, "NOTE: no --public-key and no keyring: the %d in-log checkpoints are checked against the log, not their signatures\n", len(logged))
	}
	var failed []string
	for _, c := range logged {
		at := fmt.Sprintf("signed checkpoint at position %d (recorded at position %d, signed %s)", c.Position, c.EventPosition, c.SignedAt.Format(time.RFC3339))
		var h [32]byte
		var verr error
		if pub != nil {
			h, verr = c.Verify(pub)
		} else {
			var eh eventstore.Hash
			verr = eh.UnmarshalText([]byte(c.Hash))
			h = eh
		}
		switch {
		case verr != nil:
			fmt.Fprintf(out, "BROKEN: %s: %v\n", at, verr)
			failed = append(failed, fmt.Sprintf("checkpoint at position %d does not verify", c.Position))
		case c.Position > last:
			fmt.Fprintf(out, "BROKEN: %s: the log ends at position %d\n", at, last)
			failed = append(failed, fmt.Sprintf("checkpoint at position %d is beyond the log's end: events were removed", c.Position))
		case signed[c.Position] != eventstore.Hash(h):
			fmt.Fprintf(out, "BROKEN: %s: the log up to it now hashes to %s, the checkpoint signed %s\n", at, signed[c.Position], eventstore.Hash(h))
			failed = append(failed, fmt.Sprintf("checkpoint at position %d no longer matches the log: history up to it was rewritten", c.Position))
		}
	}
	if len(logged) > 0 && len(failed) == 0 {
		l, what := logged[len(logged)-1], "verified"
		if pub == nil {
			what = "match the log (signatures not checked)"
		}
		fmt.Fprintf(out, "OK: %d signed checkpoints in the log %s (latest: position %d, signed %s, key %s)\n",
			len(logged), what, l.Position, l.SignedAt.Format(time.RFC3339), l.PublicKeyID)
	}
	switch {
	case ce != nil && len(failed) > 0:
		return fmt.Errorf("audit verify: hash chain broken at position %d: %s; %s", ce.Position, ce.Reason, strings.Join(failed, "; "))
	case ce != nil:
		return fmt.Errorf("audit verify: hash chain broken at position %d: %s", ce.Position, ce.Reason)
	case len(failed) > 0:
		return fmt.Errorf("audit verify: %s", strings.Join(failed, "; "))
	}
	if cp == nil {
		return nil
	}
	if cp.Position > res.Head.Position {
		fmt.Fprintf(out, "BROKEN: checkpoint position %d is beyond the log's head %d\n", cp.Position, res.Head.Position)
		return fmt.Errorf("audit verify: the log ends at position %d but checkpoint %s signed position %d: events were removed",
			res.Head.Position, *cpFile, cp.Position)
	}
	evs, err := s.ReadAll(ctx, cp.Position, 1)
	if err != nil {
		return fmt.Errorf("audit verify: read position %d: %w", cp.Position, err)
	}
	if len(evs) == 0 || evs[0].Position != cp.Position || evs[0].Hash != cp.Hash {
		got := "nothing"
		if len(evs) > 0 {
			got = evs[0].Hash.String()
		}
		fmt.Fprintf(out, "BROKEN: position %d has hash %s, checkpoint says %s\n", cp.Position, got, cp.Hash)
		return fmt.Errorf("audit verify: position %d no longer has the hash checkpoint %s signed: history up to it was rewritten",
			cp.Position, *cpFile)
	}
	_, err = fmt.Fprintf(out, "OK: checkpoint of %s (position %d, hash %s) is still in the log\n",
		cp.Time.Format(time.RFC3339), cp.Position, cp.Hash)
	return err
}

// checkpointKey is the public key in-log checkpoints are checked with:
// --public-key(-file) when given, else the keyring's signing key; nil when
// neither is at hand (an auditor's copy of the log without the keyring).
func checkpointKey(sf *storageFlags, pf *publicKeyFlags, kf *keyringFlag) (ed25519.PublicKey, error) {
	if pf.given() {
		return pf.load()
	}
	dataDir := *sf.dataDir
	path := kf.path
	if path == "" {
		path = envDefault(keyring.EnvPath, keyring.DefaultPath(dataDir))
	}
	if _, err := os.Stat(path); errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	kr, err := kf.openExisting(dataDir)
	if err != nil {
		return nil, fmt.Errorf("give the signer's --public-key, or the keyring: %w", err)
	}
	pub, ok := kr.SigningKey().Public().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("the keyring's signing key is not Ed25519")
	}
	return pub, nil
}

// walkChain checks the chain like eventstore.VerifyChain (res and the first
// break are what it would return) but reads on past a break, recomputing the
// chain from the stored content, and fills at[p] with the hash the content
// up to p chains to: what a checkpoint of p must have signed. It returns the
// last position stored.
func walkChain(ctx context.Context, s eventstore.Store, at map[uint64]eventstore.Hash, progress func(uint64)) (eventstore.VerifyResult, uint64, error) {
	var (
		res         eventstore.VerifyResult
		broken      *eventstore.ChainError
		prevStored  eventstore.Hash
		prevContent eventstore.Hash
		next        uint64 = 1
		last        uint64
		scratch     []byte
	)
	breakAt := func(pos uint64, reason string) {
		if broken == nil {
			broken = &eventstore.ChainError{Position: pos, Reason: reason}
		}
	}
	for {
		page, err := s.ReadAll(ctx, next, 4096)
		if err != nil {
			return res, last, err
		}
		for i := range page {
			e := &page[i]
			if e.Position != next {
				breakAt(next, fmt.Sprintf("position %d missing (next stored is %d)", next, e.Position))
			}
			if e.PrevHash != prevStored {
				breakAt(e.Position, "previous-hash link does not match")
			}
			var h eventstore.Hash
			h, scratch = eventstore.ComputeHash(prevContent, e, scratch)
			if h != e.Hash {
				breakAt(e.Position, "stored content does not match its hash")
			}
			if _, ok := at[e.Position]; ok {
				at[e.Position] = h
			}
			if broken == nil {
				res.Events++
				res.Head = eventstore.Head{Position: e.Position, Hash: e.Hash}
			}
			prevStored, prevContent, last, next = e.Hash, h, e.Position, e.Position+1
		}
		if progress != nil && len(page) > 0 {
			progress(next - 1)
		}
		if len(page) < 4096 {
			if broken != nil {
				return res, last, broken
			}
			return res, last, nil
		}
	}
}

// verifyWithProgress runs eventstore.VerifyChain with a progress line on
// standard error.
func verifyWithProgress(ctx context.Context, s eventstore.Store, quiet bool) (eventstore.VerifyResult, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return eventstore.VerifyResult{}, err
	}
	p := newProgress("verifying hash chain", head.Position, quiet)
	res, err := eventstore.VerifyChain(ctx, s, p.set)
	p.done(res.Events)
	return res, err
}

// exportEvent is one line of `audit export`: every envelope field. The sealed
// personal part stays ciphertext (base64). data is the public payload as JSON;
// data_base64 holds the exact stored bytes whenever data does not reproduce
// them byte for byte (not valid JSON, not compact, or not UTF-8 — e.g. after
// tampering), so hashes can always be recomputed from an export.
type exportEvent struct {
	Position   uint64              `json:"position"`
	ID         uuid.UUID           `json:"id"`
	Stream     string              `json:"stream"`
	Version    uint64              `json:"version"`
	Type       string              `json:"type"`
	Schema     int                 `json:"schema"`
	RecordedAt time.Time           `json:"recorded_at"`
	Data       json.RawMessage     `json:"data,omitempty"`
	DataBase64 []byte              `json:"data_base64,omitempty"`
	Subject    string              `json:"subject,omitempty"`
	Sealed     []byte              `json:"sealed,omitempty"`
	Meta       eventstore.Metadata `json:"meta"`
	PrevHash   eventstore.Hash     `json:"prev_hash"`
	Hash       eventstore.Hash     `json:"hash"`
}

func toExport(e eventstore.Event) exportEvent {
	x := exportEvent{Position: e.Position, ID: e.ID, Stream: e.Stream, Version: e.Version, Type: e.Type,
		Schema: e.Schema, RecordedAt: e.RecordedAt.UTC(), Subject: e.Subject, Sealed: e.Sealed, Meta: e.Meta,
		PrevHash: e.PrevHash, Hash: e.Hash}
	if json.Valid(e.Data) && utf8.Valid(e.Data) {
		x.Data = json.RawMessage(e.Data)
		var compact bytes.Buffer
		if json.Compact(&compact, e.Data) != nil || !bytes.Equal(compact.Bytes(), e.Data) {
			x.DataBase64 = e.Data
		}
	} else {
		x.DataBase64 = e.Data
	}
	return x
}

// exportPage is how many events one read fetches.
const exportPage = 1000

func runAuditExport(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit export", "audit export [--from N] [--out FILE] [--data-dir D | --database-url URL]\n\n"+
		"Writes the log as JSON Lines, one envelope per line in position order, up to the head at\n"+
		"the start of the export. Personal data stays sealed (base64 ciphertext): nothing is decrypted.")
	sf := addStoreFlags(fs)
	from := fs.Uint64("from", 1, "first `POSITION` to export")
	outFile := fs.String("out", "", "write to `FILE` (atomically) instead of standard output")
	quiet := fs.Bool("quiet", false, "no progress on standard error")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *from < 1 {
		return errors.New("--from must be >= 1")
	}
	s, err := sf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	head, err := s.Head(ctx)
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}

	w := out
	var tmp *os.File
	if *outFile != "" {
		tmp, err = os.CreateTemp(filepath.Dir(*outFile), "."+filepath.Base(*outFile)+".*.tmp")
		if err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		defer os.Remove(tmp.Name()) // no-op once renamed
		defer tmp.Close()
		w = tmp
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)

	var total uint64
	if head.Position >= *from {
		total = head.Position - *from + 1
	}
	p := newProgress("exporting", total, *quiet)
	var n, first, last uint64
	for next := *from; next <= head.Position; {
		page, err := s.ReadAll(ctx, next, exportPage)
		if err != nil {
			p.done(n)
			return fmt.Errorf("audit export: read from position %d: %w", next, err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.Position > head.Position {
				break
			}
			if err := enc.Encode(toExport(e)); err != nil {
				p.done(n)
				return fmt.Errorf("audit export: position %d: %w", e.Position, err)
			}
			if n == 0 {
				first = e.Position
			}
			n, last = n+1, e.Position
		}
		p.set(n)
		next = page[len(page)-1].Position + 1
	}
	p.done(n)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	summary := fmt.Sprintf("exported %d events (positions %d-%d) of a log whose head is %d %s", n, first, last, head.Position, head.Hash)
	if n == 0 {
		summary = fmt.Sprintf("exported 0 events: the log's head is %d", head.Position)
	}
	if tmp == nil {
		_, err = fmt.Fprintln(stderr, summary)
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	if err := os.Rename(tmp.Name(), *outFile); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	_, err = fmt.Fprintf(out, "%s to %s\n", summary, *outFile)
	return err
}

func runAuditCheckpoint(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit checkpoint", "audit checkpoint [--out FILE] [--keyring F] [--data-dir D | --database-url URL]\n\n"+
		"Verifies the hash chain, then signs its head {position, hash, time} with the keyring's\n"+
		"Ed25519 key and prints the signed checkpoint. Keep it elsewhere; later\n"+
		"`audit verify --checkpoint FILE --public-key KEY` proves nothing up to it was rewritten.")
	sf := addStoreFlags(fs)
	kf := addKeyringFlag(fs)
	outFile := fs.String("out", "", "write the checkpoint to `FILE` instead of standard output")
	quiet := fs.Bool("quiet", false, "no progress on standard error")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	kr, err := kf.openExisting(*sf.dataDir)
	if err != nil {
		return err
	}
	s, err := sf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := verifyWithProgress(ctx, s, *quiet)
	if err != nil {
		return fmt.Errorf("audit checkpoint: refusing to sign: %w", err)
	}
	if res.Head.Position == 0 {
		return errors.New("audit checkpoint: the log is empty; nothing to sign")
	}
	data, err := signCheckpoint(checkpoint{Position: res.Head.Position, Hash: res.Head.Hash, Time: eventstore.Now()}, kr.SigningKey())
	if err != nil {
		return err
	}
	if *outFile == "" {
		_, err = out.Write(data)
		return err
	}
	if err := os.WriteFile(*outFile, data, 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "wrote checkpoint of position %d (%s) to %s\n", res.Head.Position, res.Head.Hash, *outFile)
	return err
}

// checkpointFormat names (and domain-separates) signed checkpoints.
const checkpointFormat = "ledgerline/checkpoint/v1"

const maxCheckpointSize = 4096

// checkpoint is a signed statement "the log's head was at Position with Hash
// at Time". Its file has the certificate's layout:
// {"checkpoint":<canonical JSON>,"signature":"<base64 Ed25519 over it>"}\n
type checkpoint struct {
	Format      string          `json:"format"`
	Position    uint64          `json:"position"`
	Hash        eventstore.Hash `json:"hash"`
	Time        time.Time       `json:"time"`
	Algorithm   string          `json:"algorithm"`
	PublicKeyID string          `json:"public_key_id"`
}

func checkpointCanonical(c checkpoint) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func checkpointFile(canonical []byte, sig string) []byte {
	return []byte(`{"checkpoint":` + string(canonical) + `,"signature":"` + sig + "\"}\n")
}

func signCheckpoint(c checkpoint, priv ed25519.PrivateKey) ([]byte, error) {
	pub, ok := priv.Public().(ed25519.PublicKey)
	if !ok || len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("checkpoint: signing key is not Ed25519")
	}
	c.Format, c.Algorithm, c.PublicKeyID, c.Time = checkpointFormat, certificate.Algorithm, certificate.KeyID(pub), c.Time.UTC()
	canonical, err := checkpointCanonical(c)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return checkpointFile(canonical, base64.StdEncoding.EncodeToString(ed25519.Sign(priv, canonical))), nil
}

// verifyCheckpoint checks a checkpoint file's exact bytes and signature.
func verifyCheckpoint(data []byte, pub ed25519.PublicKey) (checkpoint, error) {
	var outer struct {
		Checkpoint json.RawMessage `json:"checkpoint"`
		Signature  string          `json:"signature"`
	}
	if err := decodeOne(data, &outer); err != nil {
		return checkpoint{}, err
	}
	if !bytes.Equal(data, checkpointFile(outer.Checkpoint, outer.Signature)) {
		return checkpoint{}, errors.New("file layout is not canonical (altered or re-formatted)")
	}
	var c checkpoint
	if err := decodeOne(outer.Checkpoint, &c); err != nil {
		return checkpoint{}, err
	}
	if again, err := checkpointCanonical(c); err != nil || !bytes.Equal(again, outer.Checkpoint) {
		return checkpoint{}, errors.New("checkpoint member is not in canonical form")
	}
	switch {
	case c.Format != checkpointFormat:
		return checkpoint{}, fmt.Errorf("format is %s, want %s", strconv.Quote(c.Format), checkpointFormat)
	case c.Algorithm != certificate.Algorithm:
		return checkpoint{}, fmt.Errorf("algorithm is %s, want %s", strconv.Quote(c.Algorithm), certificate.Algorithm)
	case c.PublicKeyID != certificate.KeyID(pub):
		return checkpoint{}, fmt.Errorf("signed by key %s, the given key is %s", c.PublicKeyID, certificate.KeyID(pub))
	case c.Position < 1:
		return checkpoint{}, errors.New("position must be >= 1")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(outer.Signature)
	if err != nil || !ed25519.Verify(pub, outer.Checkpoint, sig) {
		return checkpoint{}, errors.New("signature does not verify")
	}
	return c, nil
}

// decodeOne decodes exactly one JSON value, refusing unknown members and
// trailing data.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("malformed: trailing data")
	}
	return nil
}

// progress shows long work on standard error: a bar on a terminal, a plain
// line every few seconds otherwise, nothing when quiet.
type progress struct {
	desc  string
	total uint64
	bar   *progressbar.ProgressBar
	plain bool
	last  time.Time
}

func newProgress(desc string, total uint64, quiet bool) *progress {
	p := &progress{desc: desc, total: total, last: time.Now()}
	if quiet {
		return p
	}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		p.bar = progressbar.NewOptions64(int64(total),
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return p
	}
	p.plain = true
	return p
}

// set reports how many events are done (VerifyChain's last position checked
// is that count, since it starts at 1).
func (p *progress) set(n uint64) {
	switch {
	case p.bar != nil:
		_ = p.bar.Set64(int64(min(n, p.total)))
	case p.plain && time.Since(p.last) >= 2*time.Second:
		p.last = time.Now()
		fmt.Fprintf(stderr, "%s: %d of %d events\n", p.desc, n, p.total)
	}
}

func (p *progress) done(n uint64) {
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	if p.plain {
		fmt.Fprintf(stderr, "%s: %d events done\n", p.desc, n)
	}
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
