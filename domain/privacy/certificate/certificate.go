// Package certificate is the proof of deletion: the content of a signed
// erasure certificate, its canonical encoding, Ed25519 signing and offline
// verification, and a readable HTML rendering for people who are not
// engineers.
//
// It must never do I/O, read a clock or hold personal data: the caller passes
// every time in, and the subject appears only as a pseudonym the caller
// computed (e.g. hex HMAC of the subject id). It imports only the standard
// library and uuid.
//
// # File format
//
// A certificate file is exactly
//
//	{"certificate":<C>,"signature":"<S>"}\n
//
// where C is the canonical encoding of the Certificate and S is the standard
// (padded) base64 of the Ed25519 signature over the bytes of C exactly as they
// appear in the file. C names the signature algorithm and the signing key's id
// (Signer), so neither can be swapped without breaking the signature. No other
// whitespace, member, order or escaping is accepted: Verify rebuilds the file
// from its parts and compares bytes, so any altered byte fails.
//
// # Canonical encoding
//
// C is encoding/json's output for the Certificate struct with HTML escaping
// off, no indentation and no trailing newline: members appear in struct field
// order, times are RFC 3339 in UTC with trailing zero fractions dropped, ids
// are lower-case UUIDs, empty lists are [] and optional empty members are
// left out. Parse re-encodes what it decoded and rejects C unless it is
// byte-for-byte that encoding (which also rules out unknown or duplicate
// members). C carries "format":"ledgerline/deletion-certificate/v1", which
// also separates certificate signatures from any other document signed with
// the same key.
//
// To check a certificate without Ledgerline: take the bytes between
// `{"certificate":` and `,"signature":"`, and verify S over them with the
// Ed25519 public key (the 32 bytes after "ledgerline-ed25519:" in base64).
package certificate

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Format is the value of Certificate.Format this package writes and accepts.
const Format = "ledgerline/deletion-certificate/v1"

// Algorithm is the only signature algorithm: Ed25519 (RFC 8032), pure.
const Algorithm = "Ed25519"

// PublicKeyPrefix starts the text form of a public key.
const PublicKeyPrefix = "ledgerline-ed25519:"

// MaxFileSize bounds a certificate file; larger input is rejected unread.
const MaxFileSize = 1 << 20

// Limits on the content, so a certificate stays readable and bounded.
const (
	maxText  = 2000 // runes in any free-text field
	maxItems = 200  // entries in any list
)

// Errors. Verify and Parse wrap one of them; check with errors.Is.
var (
	// ErrMalformed: the file is not a certificate in canonical form.
	ErrMalformed = errors.New("certificate: malformed")
	// ErrInvalid: a field breaks a rule (a *FieldError tells which).
	ErrInvalid = errors.New("certificate: invalid content")
	// ErrWrongKey: the certificate names another signing key than the one given.
	ErrWrongKey = errors.New("certificate: signed by another key")
	// ErrSignature: the signature does not match the content.
	ErrSignature = errors.New("certificate: signature does not verify")
	// ErrPublicKey: a public key's text form is not valid.
	ErrPublicKey = errors.New("certificate: bad public key")
)

// FieldError names the field of an invalid certificate and what is wrong.
// errors.Is(err, ErrInvalid) holds for it.
type FieldError struct {
	Field   string // JSON path, e.g. "erased[2].method"
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("certificate: %s %s", e.Field, e.Problem)
}

func (e *FieldError) Unwrap() error { return ErrInvalid }

// Certificate is the content of a proof of deletion. Sign fills Format and
// Signer; the caller fills the rest. Field order is part of the canonical
// encoding: never reorder, only add fields under a new Format.
type Certificate struct {
	Format string    `json:"format"`
	ID     uuid.UUID `json:"certificate_id"`
	// IssuedAt is when the certificate was made (at or after CompletedAt).
	IssuedAt time.Time `json:"issued_at"`
	Request  Request   `json:"request"`
	// SubjectPseudonym stands for the person (e.g. hex HMAC of the subject
	// id); never the id, email or name itself.
	SubjectPseudonym string `json:"subject_pseudonym"`
	// LegalBasis of the erasure, e.g. "GDPR Art. 17(1)(a)".
	LegalBasis string         `json:"legal_basis"`
	Erased     []Erasure      `json:"erased"`
	Key        KeyDestruction `json:"key_destruction"`
	Retained   []Retention    `json:"retained"`
	Checks     []Check        `json:"verification"`
	ChainHead  ChainHead      `json:"chain_head"`
	// Operator who ran the erasure (a staff id or service name, not an email).
	Operator        string `json:"operator"`
	SoftwareVersion string `json:"software_version"`
	Signer          Signer `json:"signer"`
}

// Request is the data-subject request the erasure answered.
type Request struct {
	ID          uuid.UUID `json:"id"`
	Channel     string    `json:"channel"` // how it arrived: web_form, email, api, support, account_closure...
	ReceivedAt  time.Time `json:"received_at"`
	DueAt       time.Time `json:"due_at"` // legal deadline
	CompletedAt time.Time `json:"completed_at"`
}

// Erasure is one data category erased from one store, and how.
type Erasure struct {
	Category string `json:"category"` // e.g. "email, name"
	Store    string `json:"store"`    // e.g. "event log (sealed personal parts)"
	Method   Method `json:"method"`
	Detail   string `json:"detail,omitempty"`
}

// KeyDestruction records the destroyed data key and when residual copies of
// it (database dead rows, WAL, backups) become unreadable.
type KeyDestruction struct {
	KeyID       string    `json:"key_id"` // the subject's data-key id, not key material
	DestroyedAt time.Time `json:"destroyed_at"`
	// KEKEpoch is the key-encryption-key epoch that wrapped the data key.
	KEKEpoch int `json:"kek_epoch"`
	// KEKRetiredAt is when that epoch's KEK is (or, if KEKRetirementScheduled,
	// will be) destroyed, making residual wrapped copies unreadable.
	KEKRetiredAt           time.Time `json:"kek_retired_at"`
	KEKRetirementScheduled bool      `json:"kek_retirement_scheduled"`
}

// Retention is a data category kept despite the erasure, and why.
type Retention struct {
	Category string `json:"category"`
	Reason   Reason `json:"reason"`
	Basis    string `json:"basis"` // the law or agreement that requires keeping it
	// Reference, e.g. the legal hold or dispute id.
	Reference string `json:"reference,omitempty"`
	// ReviewAt is when the retention is reviewed or ends; required for holds.
	ReviewAt time.Time `json:"review_at,omitzero"`
}

// Check is one verification performed after the erasure.
type Check struct {
	Name   string `json:"name"` // one of the Check* constants, or another check
	Result Result `json:"result"`
	Detail string `json:"detail,omitempty"`
}

// The checks every certificate must report, all passed.
const (
	// CheckEventsUndecryptable: every event of the subject fails to decrypt.
	CheckEventsUndecryptable = "events_undecryptable"
	// CheckReadModelsClean: no read model returns the subject's personal data.
	CheckReadModelsClean = "read_models_clean"
	// CheckPlaintextScan: a scan of the stores for the subject's plaintext
	// values, taken before erasure, finds nothing.
	CheckPlaintextScan = "plaintext_scan"
)

// RequiredChecks lists the checks Sign and Parse insist on.
func RequiredChecks() []string {
	return []string{CheckEventsUndecryptable, CheckReadModelsClean, CheckPlaintextScan}
}

// ChainHead is the end of the hash-chained log when the erasure completed.
type ChainHead struct {
	Position uint64 `json:"position"`
	Hash     string `json:"hash"` // 64 lower-case hex digits
}

// Signer names how the certificate is signed. Sign sets it.
type Signer struct {
	Algorithm   string `json:"algorithm"`
	PublicKeyID string `json:"public_key_id"`
}

// Method is how a category was erased. Callers cannot invent values.
type Method struct{ s string }

// The fixed erasure methods.
var (
	// CryptoShredding: the subject's data key was destroyed; ciphertext stays
	// (so the hash chain still verifies) but can never be decrypted.
	CryptoShredding = Method{"crypto_shredding"}
	// Deletion: the rows or files were removed.
	Deletion = Method{"deletion"}
)

func (m Method) String() string { return m.s }

// MarshalText implements encoding.TextMarshaler.
func (m Method) MarshalText() ([]byte, error) { return []byte(m.s), nil }

// UnmarshalText accepts only the fixed values.
func (m *Method) UnmarshalText(b []byte) error {
	v, err := parseEnum(string(b), CryptoShredding, Deletion)
	*m = v
	return err
}

// Reason is why a category is retained. Callers cannot invent values.
type Reason struct{ s string }

// The fixed retention reasons.
var (
	TaxRecords      = Reason{"tax_records"}      // transaction records, without personal data
	FraudPrevention = Reason{"fraud_prevention"} // the keyed hash of the email
	LegalHold       = Reason{"legal_hold"}       // open dispute, chargeback, litigation
)

func (r Reason) String() string { return r.s }

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.s), nil }

// UnmarshalText accepts only the fixed values.
func (r *Reason) UnmarshalText(b []byte) error {
	v, err := parseEnum(string(b), TaxRecords, FraudPrevention, LegalHold)
	*r = v
	return err
}

// Result is a check's outcome. Callers cannot invent values.
type Result struct{ s string }

// The fixed check results.
var (
	Passed = Result{"passed"}
	Failed = Result{"failed"}
)

func (r Result) String() string { return r.s }

// MarshalText implements encoding.TextMarshaler.
func (r Result) MarshalText() ([]byte, error) { return []byte(r.s), nil }

// UnmarshalText accepts only the fixed values.
func (r *Result) UnmarshalText(b []byte) error {
	v, err := parseEnum(string(b), Passed, Failed)
	*r = v
	return err
}

func parseEnum[T interface {
	comparable
	String() string
}](s string, all ...T) (T, error) {
	for _, v := range all {
		if v.String() == s {
			return v, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("unknown value %q", truncate(s, 40))
}

// Signed is a signed certificate.
type Signed struct {
	Certificate Certificate
	// Canonical is the exact byte string the signature covers.
	Canonical []byte
	Signature []byte
}

// Bytes returns the certificate file.
func (s Signed) Bytes() []byte {
	return fileBytes(s.Canonical, base64.StdEncoding.EncodeToString(s.Signature))
}

// Digest returns the hex SHA-256 of the certificate file, as recorded in the
// privacy.certificate_issued event.
func (s Signed) Digest() string { return Digest(s.Bytes()) }

// Digest returns the hex SHA-256 of a certificate file's bytes.
func Digest(file []byte) string {
	sum := sha256.Sum256(file)
	return hex.EncodeToString(sum[:])
}

const (
	fileHead = `{"certificate":`
	fileMid  = `,"signature":"`
	fileTail = "\"}\n"
)

func fileBytes(canonical []byte, sig string) []byte {
	b := make([]byte, 0, len(fileHead)+len(canonical)+len(fileMid)+len(sig)+len(fileTail))
	b = append(b, fileHead...)
	b = append(b, canonical...)
	b = append(b, fileMid...)
	b = append(b, sig...)
	return append(b, fileTail...)
}

// Sign validates c, sets its Format and Signer, normalises its times to UTC
// and nil lists to empty ones, and signs its canonical encoding.
func Sign(c Certificate, priv ed25519.PrivateKey) (Signed, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Signed{}, errors.New("certificate: signing key must be an Ed25519 private key")
	}
	pub, ok := priv.Public().(ed25519.PublicKey)
	if !ok {
		return Signed{}, errors.New("certificate: signing key has no Ed25519 public key")
	}
	c.Format = Format
	c.Signer = Signer{Algorithm: Algorithm, PublicKeyID: KeyID(pub)}
	c = normalise(c)
	if err := c.Validate(); err != nil {
		return Signed{}, err
	}
	canonical, err := Canonical(c)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Certificate: c, Canonical: canonical, Signature: ed25519.Sign(priv, canonical)}, nil
}

// normalise makes equal certificates encode equally: UTC times and empty,
// not nil, lists. It copies the lists it changes.
func normalise(c Certificate) Certificate {
	c.IssuedAt = c.IssuedAt.UTC()
	c.Request.ReceivedAt = c.Request.ReceivedAt.UTC()
	c.Request.DueAt = c.Request.DueAt.UTC()
	c.Request.CompletedAt = c.Request.CompletedAt.UTC()
	c.Key.DestroyedAt = c.Key.DestroyedAt.UTC()
	c.Key.KEKRetiredAt = c.Key.KEKRetiredAt.UTC()
	c.Erased = append([]Erasure{}, c.Erased...)
	c.Checks = append([]Check{}, c.Checks...)
	c.Retained = append([]Retention{}, c.Retained...)
	for i := range c.Retained {
		if !c.Retained[i].ReviewAt.IsZero() {
			c.Retained[i].ReviewAt = c.Retained[i].ReviewAt.UTC()
		}
	}
	return c
}

// Canonical returns the canonical encoding of c (see the package comment).
// It does not validate c.
func Canonical(c Certificate) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Parsed is a certificate file taken apart, signature not yet checked.
type Parsed struct {
	Certificate Certificate
	Canonical   []byte // the signed bytes, as they appear in the file
	Signature   []byte
}

// Parse takes a certificate file apart and checks its form and content but
// not its signature: use it to show a certificate, and Verify to trust one.
// It never panics, whatever data holds.
func Parse(data []byte) (Parsed, error) {
	if len(data) > MaxFileSize {
		return Parsed{}, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxFileSize)
	}
	var outer struct {
		Certificate json.RawMessage `json:"certificate"`
		Signature   string          `json:"signature"`
	}
	if err := decodeStrict(data, &outer); err != nil {
		return Parsed{}, err
	}
	if len(outer.Certificate) == 0 || outer.Certificate[0] != '{' {
		return Parsed{}, fmt.Errorf("%w: certificate member is not an object", ErrMalformed)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(outer.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Parsed{}, fmt.Errorf("%w: signature is not %d bytes of base64", ErrMalformed, ed25519.SignatureSize)
	}
	if !bytes.Equal(data, fileBytes(outer.Certificate, outer.Signature)) {
		return Parsed{}, fmt.Errorf("%w: file layout is not canonical (extra whitespace, members or escapes)", ErrMalformed)
	}
	if err := checkDuplicateKeys(outer.Certificate); err != nil {
		return Parsed{}, err
	}
	var c Certificate
	if err := decodeStrict(outer.Certificate, &c); err != nil {
		return Parsed{}, err
	}
	again, err := Canonical(c)
	if err != nil {
		return Parsed{}, err
	}
	if !bytes.Equal(again, outer.Certificate) {
		return Parsed{}, fmt.Errorf("%w: certificate member is not in canonical form", ErrMalformed)
	}
	if err := c.Validate(); err != nil {
		return Parsed{}, err
	}
	return Parsed{Certificate: c, Canonical: []byte(outer.Certificate), Signature: sig}, nil
}

// Verify checks a certificate file offline against the issuer's public key
// and returns its content. It fails on any altered byte, on a key other than
// the one the certificate names, and on malformed or invalid content.
func Verify(data []byte, pub ed25519.PublicKey) (Certificate, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Certificate{}, fmt.Errorf("%w: want %d bytes", ErrPublicKey, ed25519.PublicKeySize)
	}
	p, err := Parse(data)
	if err != nil {
		return Certificate{}, err
	}
	if id := KeyID(pub); p.Certificate.Signer.PublicKeyID != id {
		return Certificate{}, fmt.Errorf("%w: the certificate names key %s, the given key is %s",
			ErrWrongKey, p.Certificate.Signer.PublicKeyID, id)
	}
	if !ed25519.Verify(pub, p.Canonical, p.Signature) {
		return Certificate{}, ErrSignature
	}
	return p.Certificate, nil
}

// decodeStrict decodes exactly one JSON value into v, rejecting unknown
// members and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrMalformed)
	}
	return nil
}

// maxDepth bounds nesting in checkDuplicateKeys (the format nests 3 deep).
const maxDepth = 16

// checkDuplicateKeys rejects an object holding the same member twice at any
// depth: encoding/json would silently keep the last one.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		keys     map[string]bool
		isObject bool
		wantKey  bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.isObject {
					top.wantKey = true
				}
				if len(stack) >= maxDepth {
					return fmt.Errorf("%w: nested deeper than %d", ErrMalformed, maxDepth)
				}
				stack = append(stack, frame{keys: map[string]bool{}, isObject: d == '{', wantKey: d == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil || !top.isObject {
			continue
		}
		if top.wantKey {
			k, _ := tok.(string)
			if top.keys[k] {
				return fmt.Errorf("%w: member %q appears twice", ErrMalformed, truncate(k, 40))
			}
			top.keys[k] = true
			top.wantKey = false
		} else {
			top.wantKey = true
		}
	}
}

// Validate checks the content rules Sign and Parse enforce. The error is a
// *FieldError naming the first broken rule.
func (c Certificate) Validate() error {
	bad := func(field, problem string) error { return &FieldError{Field: field, Problem: problem} }
	if c.Format != Format {
		return bad("format", fmt.Sprintf("must be %q", Format))
	}
	if c.ID == uuid.Nil {
		return bad("certificate_id", "is required")
	}
	if c.Request.ID == uuid.Nil {
		return bad("request.id", "is required")
	}
	texts := []struct {
		field, value string
		required     bool
	}{
		{"request.channel", c.Request.Channel, true},
		{"subject_pseudonym", c.SubjectPseudonym, true},
		{"legal_basis", c.LegalBasis, true},
		{"key_destruction.key_id", c.Key.KeyID, true},
		{"operator", c.Operator, true},
		{"software_version", c.SoftwareVersion, true},
		{"signer.public_key_id", c.Signer.PublicKeyID, true},
	}
	for _, t := range texts {
		if err := checkText(t.field, t.value, t.required); err != nil {
			return err
		}
	}
	if c.Signer.Algorithm != Algorithm {
		return bad("signer.algorithm", fmt.Sprintf("must be %q", Algorithm))
	}
	times := []struct {
		field string
		t     time.Time
	}{
		{"issued_at", c.IssuedAt},
		{"request.received_at", c.Request.ReceivedAt},
		{"request.due_at", c.Request.DueAt},
		{"request.completed_at", c.Request.CompletedAt},
		{"key_destruction.destroyed_at", c.Key.DestroyedAt},
		{"key_destruction.kek_retired_at", c.Key.KEKRetiredAt},
	}
	for _, t := range times {
		if t.t.IsZero() {
			return bad(t.field, "is required")
		}
	}
	switch {
	case c.Request.DueAt.Before(c.Request.ReceivedAt):
		return bad("request.due_at", "must not be before received_at")
	case c.Request.CompletedAt.Before(c.Request.ReceivedAt):
		return bad("request.completed_at", "must not be before received_at")
	case c.Key.DestroyedAt.Before(c.Request.ReceivedAt):
		return bad("key_destruction.destroyed_at", "must not be before request.received_at")
	case c.Request.CompletedAt.Before(c.Key.DestroyedAt):
		return bad("request.completed_at", "must not be before key_destruction.destroyed_at")
	case c.IssuedAt.Before(c.Request.CompletedAt):
		return bad("issued_at", "must not be before request.completed_at")
	case c.Key.KEKRetiredAt.Before(c.Key.DestroyedAt):
		return bad("key_destruction.kek_retired_at", "must not be before destroyed_at")
	case c.Key.KEKEpoch < 1:
		return bad("key_destruction.kek_epoch", "must be >= 1")
	}
	if len(c.Erased) == 0 {
		return bad("erased", "must list at least one erased category")
	}
	if len(c.Erased) > maxItems || len(c.Retained) > maxItems || len(c.Checks) > maxItems {
		return bad("erased, retained, verification", fmt.Sprintf("must hold at most %d entries each", maxItems))
	}
	for i, e := range c.Erased {
		f := fmt.Sprintf("erased[%d].", i)
		for _, err := range []error{checkText(f+"category", e.Category, true), checkText(f+"store", e.Store, true),
			checkText(f+"detail", e.Detail, false)} {
			if err != nil {
				return err
			}
		}
		if e.Method == (Method{}) {
			return bad(f+"method", "is required")
		}
	}
	for i, r := range c.Retained {
		f := fmt.Sprintf("retained[%d].", i)
		for _, err := range []error{checkText(f+"category", r.Category, true), checkText(f+"basis", r.Basis, true),
			checkText(f+"reference", r.Reference, false)} {
			if err != nil {
				return err
			}
		}
		switch {
		case r.Reason == (Reason{}):
			return bad(f+"reason", "is required")
		case r.Reason == LegalHold && r.ReviewAt.IsZero():
			return bad(f+"review_at", "is required for a legal hold")
		}
	}
	seen := map[string]bool{}
	for i, ch := range c.Checks {
		f := fmt.Sprintf("verification[%d].", i)
		if err := checkText(f+"name", ch.Name, true); err != nil {
			return err
		}
		if err := checkText(f+"detail", ch.Detail, false); err != nil {
			return err
		}
		switch {
		case seen[ch.Name]:
			return bad(f+"name", fmt.Sprintf("%q is listed twice", ch.Name))
		case ch.Result == (Result{}):
			return bad(f+"result", "is required")
		case ch.Result != Passed:
			return bad(f+"result", fmt.Sprintf("check %q did not pass: no proof of deletion can be issued", ch.Name))
		}
		seen[ch.Name] = true
	}
	for _, name := range RequiredChecks() {
		if !seen[name] {
			return bad("verification", fmt.Sprintf("must include the check %q", name))
		}
	}
	if !isLowerHex(c.ChainHead.Hash, 64) {
		return bad("chain_head.hash", "must be 64 lower-case hex digits")
	}
	if c.ChainHead.Position < 1 {
		return bad("chain_head.position", "must be >= 1")
	}
	return nil
}

func checkText(field, s string, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return &FieldError{Field: field, Problem: "is required"}
	case !utf8.ValidString(s):
		return &FieldError{Field: field, Problem: "must be valid UTF-8"}
	case utf8.RuneCountInString(s) > maxText:
		return &FieldError{Field: field, Problem: fmt.Sprintf("must be at most %d characters", maxText)}
	case strings.ContainsFunc(s, unicode.IsControl):
		return &FieldError{Field: field, Problem: "must not contain control characters"}
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	return len(s) == n && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f')
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// KeyID identifies a public key: the first 16 bytes of its SHA-256, hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:16])
}

// FormatPublicKey returns the text form "ledgerline-ed25519:<base64>".
func FormatPublicKey(pub ed25519.PublicKey) string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads the text form written by FormatPublicKey; surrounding
// white space is ignored.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), PublicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: want %s<base64>", ErrPublicKey, PublicKeyPrefix)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(rest)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: want %d bytes of standard base64 after %s", ErrPublicKey, ed25519.PublicKeySize, PublicKeyPrefix)
	}
	return ed25519.PublicKey(b), nil
}
