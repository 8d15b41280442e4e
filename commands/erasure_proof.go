package commands

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// ErasureProof configures what follows the destruction of a subject's key:
// the verification (every event of the subject fails to decrypt; no read
// model returns personal data; a scan of the stores for the subject's
// plaintext values, taken before the shred, finds nothing) and the signed
// certificate. Without it (Service.SetErasureProof never called) an erasure
// completes right after the shred and no certificate is issued.
type ErasureProof struct {
	// Keyring signs certificates (SigningKey) and tells KEK epochs apart. Required.
	Keyring eventstore.Keyring
	// Vault, when set, tells which KEK epoch wrapped the subject's key before it
	// was destroyed; otherwise the current epoch is assumed (the later one).
	Vault eventstore.Vault
	// ReadModels are checked for the subject's personal data once WaitFor says
	// they applied the shred. Both required.
	ReadModels projections.ReadModels
	WaitFor    func(ctx context.Context, position uint64) error
	// Scanners search the raw stores (files, tables) for the captured values.
	// At least one is required.
	Scanners []eventstore.StoreScanner
	// NextKEKRotation returns by when the current KEK epoch will have been
	// retired (the rotation schedule, see KEKRotation.RetiredBy). Required.
	NextKEKRotation func(now time.Time) time.Time
	// SoftwareVersion goes into certificates (default "dev").
	SoftwareVersion string
}

func (p *ErasureProof) validate() error {
	switch {
	case p == nil:
		return errors.New("commands: ErasureProof is nil")
	case p.Keyring == nil:
		return errors.New("commands: ErasureProof.Keyring is required")
	case p.ReadModels == nil || p.WaitFor == nil:
		return errors.New("commands: ErasureProof.ReadModels and WaitFor are required")
	case len(p.Scanners) == 0 || slices.Contains(p.Scanners, nil):
		return errors.New("commands: ErasureProof needs at least one store scanner")
	case p.NextKEKRotation == nil:
		return errors.New("commands: ErasureProof.NextKEKRotation is required")
	}
	return nil
}

// SetErasureProof turns on verification and certificates for every erasure
// (commands, policies and the retention sweep alike). Call it while wiring,
// before commands run.
func (s *Service) SetErasureProof(p *ErasureProof) error {
	if err := p.validate(); err != nil {
		return err
	}
	cp := *p
	if cp.SoftwareVersion == "" {
		cp.SoftwareVersion = "dev"
	}
	s.proof.Store(&cp)
	return nil
}

// ErrErasureNotVerified is matched by the error of an erasure whose
// verification failed: the key is destroyed, privacy.erasure_verification_failed
// is recorded, the request stays open and no certificate is issued. Running
// the erasure again re-runs the verification. It is a state conflict (409).
var ErrErasureNotVerified = domain.StateError("erasure not verified: personal data of the subject was still found, or a check could not run; " +
	"the request stays open and no certificate was issued")

// ErasureNotVerifiedError lists the checks that failed. It never holds a
// personal value: details name checks, categories and places.
type ErasureNotVerifiedError struct {
	RequestID uuid.UUID
	Failed    []privacy.FailedCheck
}

func (e *ErasureNotVerifiedError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for _, f := range e.Failed {
		parts = append(parts, f.Name+": "+f.Detail)
	}
	return fmt.Sprintf("commands: erasure %s not verified (%s)", e.RequestID, strings.Join(parts, "; "))
}

// Unwrap lets errors.Is match ErrErasureNotVerified (and so ErrConflict).
func (e *ErasureNotVerifiedError) Unwrap() error { return ErrErasureNotVerified }

// SubjectPseudonym is how certificates name a person: hex HMAC-SHA-256 under
// the pepper of "subject:" and the subject id. It cannot be reversed without
// the pepper, and stays the same for every certificate of that subject.
func SubjectPseudonym(pepper []byte, subject uuid.UUID) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("subject:" + subject.String()))
	return hex.EncodeToString(m.Sum(nil))
}

// CertificateID is the id of the certificate of an erasure request.
func CertificateID(requestID uuid.UUID) uuid.UUID {
	return derivedID("certificate", requestID.String())
}

// minNeedle is the shortest value the plaintext scan searches for: shorter
// ones match random bytes of binary files.
const minNeedle = 5

// captured is what was read of a subject before its key was destroyed. It
// lives only in memory (never logged, never stored) until the erasure is
// certified.
type captured struct {
	values     [][]byte // the needles
	categories []string // category of each needle
	skipped    int      // values too short or not distinctive
	epoch      int      // KEK epoch of the subject's key, 0 when unknown
	present    []string // personal categories the subject had, sorted
}

// pendingProofs holds captures of erasures not certified yet, so a retry in
// this process (after a failed verification) scans for the same values.
type pendingProofs struct{ m sync.Map } // uuid.UUID request id -> *captured

// capture decrypts every event of subject and keeps its personal string values.
func (s *Service) capture(ctx context.Context, p *ErasureProof, subject uuid.UUID) (*captured, error) {
	c := &captured{}
	if p.Vault != nil {
		if _, epoch, err := p.Vault.WrappedKey(ctx, subject.String()); err == nil {
			c.epoch = epoch
		}
	}
	var public [][]byte
	seen := map[string]bool{}
	present := map[string]bool{}
	err := eventstore.ForEachSubjectEvent(ctx, s.store, subject.String(), func(ev eventstore.Event) error {
		public = append(public, ev.Data)
		if len(ev.Sealed) == 0 {
			return nil
		}
		d, err := s.codec.Decode(ctx, ev)
		if err != nil {
			return fmt.Errorf("commands: capture: %w", err)
		}
		if d.Erased {
			return nil
		}
		pv := reflect.ValueOf(d.Payload).FieldByName("Personal")
		if !pv.IsValid() || pv.Kind() != reflect.Struct {
			return nil
		}
		for i := 0; i < pv.NumField(); i++ {
			f := pv.Type().Field(i)
			if f.Type.Kind() != reflect.String {
				continue
			}
			v := strings.TrimSpace(pv.Field(i).String())
			if v == "" {
				continue
			}
			cat := personalCategory(ev.Type, f)
			present[cat] = true
			for _, variant := range needleVariants(v) {
				if seen[variant] {
					continue
				}
				seen[variant] = true
				c.values = append(c.values, []byte(variant))
				c.categories = append(c.categories, cat)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Values that also occur in the subject's public data (a key named like
	// a scope) or are very short would match where they are not personal.
	keep := 0
	for i, v := range c.values {
		if len(v) < minNeedle || slices.ContainsFunc(public, func(b []byte) bool { return bytes.Contains(b, v) }) {
			c.skipped++
			continue
		}
		c.values[keep], c.categories[keep] = v, c.categories[i]
		keep++
	}
	c.values, c.categories = c.values[:keep], c.categories[:keep]
	for cat := range present {
		c.present = append(c.present, cat)
	}
	sort.Strings(c.present)
	return c, nil
}

// needleVariants are the forms a value may take in storage: as written,
// lower-cased (emails are compared so), and JSON-escaped.
func needleVariants(v string) []string {
	out := []string{v}
	if l := strings.ToLower(v); l != v && strings.Contains(v, "@") {
		out = append(out, l)
	}
	if b, err := json.Marshal(v); err == nil {
		if esc := string(b[1 : len(b)-1]); esc != v {
			out = append(out, esc)
		}
	}
	return out
}

// personalCategory names a personal field for certificates and failure
// reports: its JSON name, with the owning event's domain where it helps.
func personalCategory(eventType string, f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		name = strings.ToLower(f.Name)
	}
	domainName, _, _ := strings.Cut(eventType, ".")
	switch {
	case domainName == "apikey" && name == "name":
		return "API key name"
	case domainName == "privacy" && name == "details":
		return "request details"
	case domainName == "usage" && name == "detail":
		return "error report detail"
	}
	return strings.ReplaceAll(name, "_", " ")
}

// verification is the outcome of the checks after a shred.
type verification struct {
	checks []certificate.Check
	failed []privacy.FailedCheck
}

func (v *verification) add(name string, err error, detail string) {
	if err != nil {
		v.checks = append(v.checks, certificate.Check{Name: name, Result: certificate.Failed, Detail: err.Error()})
		v.failed = append(v.failed, privacy.FailedCheck{Name: name, Detail: err.Error()})
		return
	}
	v.checks = append(v.checks, certificate.Check{Name: name, Result: certificate.Passed, Detail: detail})
}

// verify runs the three checks of DESIGN.md after the shred recorded at
// shredPos. c is nil when the values could not be captured (the key was
// already destroyed when this run began).
func (s *Service) verify(ctx context.Context, p *ErasureProof, subject uuid.UUID, shredPos uint64, c *captured, priorFailures int) verification {
	var v verification
	n, err := s.checkEventsUndecryptable(ctx, subject)
	v.add(certificate.CheckEventsUndecryptable, err, fmt.Sprintf("%d sealed events of the subject read back with their personal part erased", n))

	err = s.checkReadModels(ctx, p, subject, shredPos, c)
	v.add(certificate.CheckReadModelsClean, err, "after the read models applied the shred (log position "+
		fmt.Sprint(shredPos)+"): profile erased, key names absent, requests without details, no captured value in any view")

	detail, err := s.checkPlaintextScan(ctx, p, c, priorFailures)
	v.add(certificate.CheckPlaintextScan, err, detail)
	return v
}

func (s *Service) checkEventsUndecryptable(ctx context.Context, subject uuid.UUID) (int, error) {
	n, open := 0, 0
	err := eventstore.ForEachSubjectEvent(ctx, s.store, subject.String(), func(ev eventstore.Event) error {
		if len(ev.Sealed) == 0 {
			return nil
		}
		n++
		d, err := s.codec.Decode(ctx, ev)
		if err != nil {
			return fmt.Errorf("event at position %d: %w", ev.Position, err)
		}
		if !d.Erased {
			open++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("could not read the subject's events: %w", err)
	}
	if open > 0 {
		return n, fmt.Errorf("%d of %d sealed events of the subject still decrypt", open, n)
	}
	return n, nil
}

func (s *Service) checkReadModels(ctx context.Context, p *ErasureProof, subject uuid.UUID, shredPos uint64, c *captured) error {
	if err := p.WaitFor(ctx, shredPos); err != nil {
		return fmt.Errorf("the read models did not apply the shred (position %d) in time: %v", shredPos, err)
	}
	m := p.ReadModels
	var problems []string
	var views []any
	acc, err := m.Accounts().Account(ctx, subject)
	switch {
	case errors.Is(err, projections.ErrNotFound):
	case err != nil:
		return fmt.Errorf("accounts read model: %v", err)
	default:
		if !acc.Erased || acc.Email != "" || acc.Name != "" {
			problems = append(problems, "the accounts read model still returns the profile's email or name")
		}
		views = append(views, acc)
	}
	keys, err := m.Keys().KeysByAccount(ctx, subject)
	if err != nil {
		return fmt.Errorf("keys read model: %v", err)
	}
	for _, k := range keys {
		if k.Name != "" {
			problems = append(problems, "the keys read model still returns a key name")
			break
		}
	}
	views = append(views, keys)
	reqs, err := m.Privacy().Requests(ctx, projections.RequestFilter{Subject: subject}, s.clock())
	if err != nil {
		return fmt.Errorf("privacy read model: %v", err)
	}
	for _, rq := range reqs {
		full, err := m.Privacy().Request(ctx, rq.RequestID, s.clock())
		if err != nil {
			return fmt.Errorf("privacy read model: %v", err)
		}
		if full.Details != "" {
			problems = append(problems, "the privacy read model still returns a request's details")
			break
		}
		views = append(views, full)
	}
	// Everything else an access export would return, searched for the values.
	if u, err := m.Usage().Usage(ctx, projections.UsageFilter{AccountID: subject, GroupBy: []projections.UsageDimension{
		projections.ByDay, projections.ByKey, projections.ByProvider, projections.ByModel}}); err == nil {
		views = append(views, u)
	}
	if b, err := m.Balances().Balance(ctx, subject); err == nil {
		views = append(views, b)
	}
	if tx, err := m.Balances().Transactions(ctx, projections.TxFilter{AccountID: subject, Limit: 1000}); err == nil {
		views = append(views, tx)
	}
	if d, err := m.Balances().Disputes(ctx, subject); err == nil {
		views = append(views, d)
	}
	if h, err := m.Consent().ConsentHistory(ctx, subject); err == nil {
		views = append(views, h)
	}
	if h, err := m.Privacy().Holds(ctx, subject, false); err == nil {
		views = append(views, h)
	}
	if c != nil && len(c.values) > 0 {
		doc, err := json.Marshal(views)
		if err != nil {
			return fmt.Errorf("encode read-model views: %v", err)
		}
		var cats []string
		for i, v := range c.values {
			if bytes.Contains(doc, v) && !slices.Contains(cats, c.categories[i]) {
				cats = append(cats, c.categories[i])
			}
		}
		if len(cats) > 0 {
			problems = append(problems, "a read-model view still holds the subject's "+strings.Join(cats, ", "))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func (s *Service) checkPlaintextScan(ctx context.Context, p *ErasureProof, c *captured, priorFailures int) (string, error) {
	if c == nil {
		if priorFailures > 0 {
			return "", errors.New("the values captured before the shred are no longer held (the process restarted after a failed verification), " +
				"so the scan cannot be repeated")
		}
		return "the subject's key was already destroyed when this run began (an interrupted earlier run), " +
			"so no plaintext value could be captured; 0 values scanned", nil
	}
	var findings []eventstore.Finding
	for _, sc := range p.Scanners {
		f, err := sc.Scan(ctx, c.values)
		if err != nil {
			return "", fmt.Errorf("a store scan could not run: %v", err)
		}
		findings = append(findings, f...)
	}
	if len(findings) > 0 {
		parts := make([]string, 0, len(findings))
		for _, f := range findings {
			cat := "a value"
			if f.Needle >= 0 && f.Needle < len(c.categories) {
				cat = c.categories[f.Needle]
			}
			parts = append(parts, fmt.Sprintf("%s in %s (%s)", cat, f.Store, f.Location))
			if len(parts) == 20 {
				parts = append(parts, fmt.Sprintf("and %d more", len(findings)-20))
				break
			}
		}
		return "", errors.New("plaintext found: " + strings.Join(parts, "; "))
	}
	cats := slices.Compact(slices.Sorted(slices.Values(c.categories)))
	detail := fmt.Sprintf("%d values captured before erasure (%s) searched byte for byte in every file and table of the stores; none found",
		len(c.values), strings.Join(cats, ", "))
	if len(cats) == 0 {
		detail = fmt.Sprintf("%d values captured before erasure searched in every file and table of the stores; none found", len(c.values))
	}
	if c.skipped > 0 {
		detail += fmt.Sprintf("; %d values shorter than %d bytes or also present in public data were not searched", c.skipped, minNeedle)
	}
	return detail, nil
}

// legalBasis names the ground of an erasure for its certificate.
func legalBasis(r *privacy.Request) string {
	closure := r.Channel() == privacy.AccountClosure.String()
	switch {
	case r.Law() == privacy.CCPA && closure:
		return "CCPA Cal. Civ. Code §1798.100(a)(3) (retention limit after account closure)"
	case r.Law() == privacy.CCPA:
		return "CCPA Cal. Civ. Code §1798.105 (right to delete)"
	case closure:
		return "GDPR Art. 5(1)(e) and Art. 17(1)(a) (storage limitation: personal data no longer necessary after account closure)"
	}
	return "GDPR Art. 17(1) (right to erasure)"
}

// buildCertificate assembles the certificate of a verified erasure.
func (s *Service) buildCertificate(ctx context.Context, p *ErasureProof, r *privacy.Request, c *captured, v verification, now time.Time) (certificate.Certificate, error) {
	subject := r.Subject()
	epoch := 0
	if c != nil {
		epoch = c.epoch
	}
	if epoch == 0 {
		cur, _, err := p.Keyring.Current()
		if err != nil {
			return certificate.Certificate{}, fmt.Errorf("commands: keyring: %w", err)
		}
		epoch = cur
	}
	retiredAt, scheduled := time.Time{}, true
	if epochs, err := p.Keyring.Epochs(); err == nil {
		for _, e := range epochs {
			if e.Epoch == epoch && e.Retired() {
				retiredAt, scheduled = e.RetiredAt.UTC(), false
			}
		}
	}
	if scheduled {
		retiredAt = p.NextKEKRotation(now).UTC()
	}
	if destroyed := r.ShreddedAt(); retiredAt.Before(destroyed) {
		retiredAt = destroyed
	}

	erased := []certificate.Erasure{{
		Category: "all personal data of the subject: " + strings.Join(orDefaultList(categoriesOf(c), "email, name"), ", "),
		Store:    "event log (sealed personal parts of every event of the subject)", Method: certificate.CryptoShredding,
		Detail: "the ciphertext stays so the hash chain still verifies; without the key it can never be decrypted",
	}, {
		Category: "the same personal data as served by read models", Store: "read models (accounts, keys, privacy requests, exports)",
		Method: certificate.CryptoShredding, Detail: "read models hold sealed references and decrypt on read; they react to the shred",
	}, {
		Category: "the subject's data-encryption key", Store: "key vault", Method: certificate.Deletion,
		Detail: "key material removed; a tombstone (subject, key id, time) keeps it from being recreated",
	}, {
		Category: "cached copies of the subject's key", Store: "in-process key caches on every node", Method: certificate.Deletion,
		Detail: "purged on shred and broadcast to every node",
	}}

	retained := []certificate.Retention{{
		Category: "transaction and usage records (amounts, currencies, token counts, processor references) without personal data",
		Reason:   certificate.TaxRecords, Basis: "statutory tax and accounting record keeping",
	}, {
		Category: "keyed hash (HMAC-SHA-256 under a secret pepper) of the normalised email address",
		Reason:   certificate.FraudPrevention, Basis: "legitimate interest in preventing repeated new-user credit claims, as stated in the privacy policy",
	}}
	ix, err := s.loadSubjectIndex(ctx, subject)
	if err != nil {
		return certificate.Certificate{}, err
	}
	for _, id := range ix.holds {
		h, err := s.loadHold(ctx, id)
		if err != nil {
			return certificate.Certificate{}, err
		}
		if !h.Active() {
			continue
		}
		cats := make([]string, 0, len(h.Categories()))
		for _, c := range h.Categories() {
			cats = append(cats, c.String())
		}
		retained = append(retained, certificate.Retention{Category: strings.Join(cats, ", "), Reason: certificate.LegalHold,
			Basis: h.Basis().String(), Reference: id.String(), ReviewAt: h.ReviewAt()})
	}

	head, err := s.store.Head(ctx)
	if err != nil {
		return certificate.Certificate{}, fmt.Errorf("commands: read the log head: %w", err)
	}
	operator := metaFrom(ctx).Actor
	if operator == "" {
		operator = "system"
	}
	return certificate.Certificate{
		ID:       CertificateID(r.ID()),
		IssuedAt: now,
		Request: certificate.Request{ID: r.ID(), Channel: r.Channel(), ReceivedAt: r.ReceivedAt(), DueAt: r.DueAt(),
			CompletedAt: now},
		SubjectPseudonym: SubjectPseudonym(s.pepper, subject),
		LegalBasis:       legalBasis(r),
		Erased:           erased,
		Key: certificate.KeyDestruction{KeyID: r.KeyID(), DestroyedAt: r.ShreddedAt(), KEKEpoch: epoch,
			KEKRetiredAt: retiredAt, KEKRetirementScheduled: scheduled},
		Retained:        retained,
		Checks:          v.checks,
		ChainHead:       certificate.ChainHead{Position: head.Position, Hash: hex.EncodeToString(head.Hash[:])},
		Operator:        operator,
		SoftwareVersion: p.SoftwareVersion,
	}, nil
}

func categoriesOf(c *captured) []string {
	if c == nil {
		return nil
	}
	return c.present
}

func orDefaultList(xs []string, def string) []string {
	if len(xs) == 0 {
		return []string{def}
	}
	return xs
}
