package commands_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
	"github.com/ledgerline/ledgerline/eventstore"
	"github.com/ledgerline/ledgerline/projections"
)

// memScanner searches every byte the in-memory store holds (public data,
// ciphertext, metadata) and any planted blobs standing for other stores
// (a log file, a backup) a real scanner would read.
type memScanner struct {
	store *eventstore.MemStore

	mu     sync.Mutex
	blobs  map[string][]byte
	scans  int
	broken error
}

func (m *memScanner) plant(name string, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[string][]byte{}
	}
	if b == nil {
		delete(m.blobs, name)
		return
	}
	m.blobs[name] = b
}

func (m *memScanner) Scan(ctx context.Context, needles [][]byte) ([]eventstore.Finding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scans++
	if m.broken != nil {
		return nil, m.broken
	}
	evs, err := m.store.ReadAll(ctx, 1, 0)
	if err != nil {
		return nil, err
	}
	places := map[string][]byte{}
	for _, ev := range evs {
		var b bytes.Buffer
		b.Write(ev.Data)
		b.Write(ev.Sealed)
		b.WriteString(ev.Meta.Actor + ev.Meta.RequestID + ev.Stream + ev.Subject)
		places["event "+ev.ID.String()] = b.Bytes()
	}
	for name, b := range m.blobs {
		places[name] = b
	}
	var out []eventstore.Finding
	for name, b := range places {
		for i, n := range needles {
			if bytes.Contains(b, n) {
				out = append(out, eventstore.Finding{Store: "memory", Location: name, Needle: i})
			}
		}
	}
	return out, nil
}

type proofFixture struct {
	*fixture
	keyring *eventstore.MemKeyring
	scanner *memScanner
	hub     *projections.Hub
}

const (
	canaryEmail = "Canary.Erasure@example.org"
	canaryName  = "Canary Q. Erasure"
	canaryKey   = "canary-laptop-key"
	canaryIP    = "198.51.100.77"
	canaryUA    = "CanaryAgent/9.1 (erasure test)"
)

func newProofFixture(t *testing.T) *proofFixture {
	t.Helper()
	reg, err := commands.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: eventstore.NewMemStore(), logs: &syncBuffer{}, now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	kr := eventstore.NewMemKeyring()
	vault := eventstore.NewMemVault(kr)
	f.sealer = eventstore.NewSealer(vault, 0)
	if f.codec, err = eventstore.NewCodec(reg, f.sealer); err != nil {
		t.Fatal(err)
	}
	if f.svc, err = commands.New(commands.Deps{Store: f.store, Codec: f.codec, Shredder: f.sealer, Pepper: pepper, Now: f.clock,
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}); err != nil {
		t.Fatal(err)
	}
	hub, err := projections.NewHub(f.store, f.codec, projections.HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = hub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; f.store.Close() })
	sc := &memScanner{store: f.store}
	if err := f.svc.SetErasureProof(&commands.ErasureProof{Keyring: kr, Vault: vault, ReadModels: hub, WaitFor: hub.WaitFor,
		Scanners:        []eventstore.StoreScanner{sc},
		NextKEKRotation: func(now time.Time) time.Time { return now.Add(7 * 24 * time.Hour) }, SoftwareVersion: "test-1"}); err != nil {
		t.Fatal(err)
	}
	return &proofFixture{fixture: f, keyring: kr, scanner: sc, hub: hub}
}

// seed registers the canary person with a named key and usage carrying an
// IP and user agent, and returns the account id.
func (f *proofFixture) seed(t *testing.T) uuid.UUID {
	t.Helper()
	acct := f.do(t, &commands.RegisterAccount{Email: canaryEmail, Name: canaryName, AgeConfirmed: true, Region: "DE",
		Jurisdiction: "EU", PolicyVersion: "2026-01"}).Data.(commands.RegisterAccountResult).AccountID
	key := f.do(t, &commands.IssueAPIKey{AccountID: acct, Name: canaryKey, Scopes: []string{"inference"}}).Data.(commands.IssueAPIKeyResult).KeyID
	u := usageCmd(key, "u-1")
	u.ClientIP, u.UserAgent = canaryIP, canaryUA
	f.do(t, u)
	f.do(t, &commands.RecordPayment{AccountID: acct, Processor: "stripe", ProcessorRef: "pi_canary_1", AmountMicros: 5_000_000, Currency: "EUR"})
	return acct
}

func (f *proofFixture) certificateEvent(t *testing.T, requestID uuid.UUID) (privacy.CertificateIssued, bool) {
	t.Helper()
	for _, d := range f.stream(t, privacy.RequestStream(requestID)) {
		if e, ok := d.Payload.(privacy.CertificateIssued); ok {
			return e, true
		}
	}
	return privacy.CertificateIssued{}, false
}

func TestErasureIssuesVerifiedCertificate(t *testing.T) {
	f := newProofFixture(t)
	acct := f.seed(t)
	req := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "erasure", Channel: "email"}).Data.(commands.PrivacyRequestResult)
	f.advance(time.Hour)
	headBefore, _ := f.store.Head(context.Background())

	res := f.do(t, &commands.ExecuteErasure{RequestID: req.RequestID})
	out := res.Data.(commands.ExecuteErasureResult)
	if out.Status != commands.RequestCompleted || out.CertificateID != commands.CertificateID(req.RequestID) || len(out.Verification) != 3 {
		t.Fatalf("result: %+v", out)
	}
	subjectEventsErased(t, f.fixture, acct)

	ev, ok := f.certificateEvent(t, req.RequestID)
	if !ok {
		t.Fatal("no privacy.certificate_issued")
	}
	pub := f.keyring.SigningKey().Public().(ed25519.PublicKey)
	c, err := certificate.Verify(ev.Certificate, pub)
	if err != nil {
		t.Fatalf("stored certificate does not verify: %v", err)
	}
	if ev.CertificateHash != certificate.Digest(ev.Certificate) || ev.CertificateID != c.ID {
		t.Fatal("event and certificate disagree")
	}
	now := f.clock()
	switch {
	case c.Request.ID != req.RequestID || c.Request.Channel != "email" || !c.Request.CompletedAt.Equal(now):
		t.Fatalf("request: %+v", c.Request)
	case c.SubjectPseudonym != commands.SubjectPseudonym(pepper, acct) || len(c.SubjectPseudonym) != 64:
		t.Fatalf("pseudonym %q", c.SubjectPseudonym)
	case !strings.Contains(c.LegalBasis, "GDPR Art. 17"):
		t.Fatalf("legal basis %q", c.LegalBasis)
	case c.Key.KeyID != out.KeyID || c.Key.KEKEpoch != 1 || !c.Key.KEKRetirementScheduled ||
		!c.Key.KEKRetiredAt.Equal(now.Add(7*24*time.Hour)):
		t.Fatalf("key: %+v", c.Key)
	case c.Operator != "staff-1" || c.SoftwareVersion != "test-1":
		t.Fatalf("operator %q version %q", c.Operator, c.SoftwareVersion)
	case c.ChainHead.Position <= headBefore.Position || c.ChainHead.Position >= res.Position:
		t.Fatalf("chain head %d (before %d, certificate at %d)", c.ChainHead.Position, headBefore.Position, res.Position)
	}
	reasons := map[certificate.Reason]bool{}
	for _, r := range c.Retained {
		reasons[r.Reason] = true
	}
	if !reasons[certificate.TaxRecords] || !reasons[certificate.FraudPrevention] {
		t.Fatalf("retained: %+v", c.Retained)
	}
	for _, ch := range c.Checks {
		if ch.Result != certificate.Passed {
			t.Fatalf("check %+v", ch)
		}
	}
	scan := c.Checks[2].Detail
	for _, cat := range []string{"email", "name", "API key name", "client ip", "user agent"} {
		if !strings.Contains(scan, cat) {
			t.Errorf("scan detail lacks %q: %s", cat, scan)
		}
	}
	// The certificate, the events and the logs never carry the plaintext.
	all := f.logs.String() + string(ev.Certificate)
	for _, e := range f.events(t) {
		all += string(e.Data)
	}
	for _, v := range []string{canaryEmail, strings.ToLower(canaryEmail), canaryName, canaryKey, canaryIP, canaryUA} {
		if strings.Contains(all, v) {
			t.Errorf("%q found in events, certificate or logs", v)
		}
	}
	// Idempotent: a repeat reports the same certificate and stores nothing.
	before := len(f.events(t))
	again := f.do(t, &commands.ExecuteErasure{RequestID: req.RequestID}).Data.(commands.ExecuteErasureResult)
	if again.CertificateID != out.CertificateID || len(f.events(t)) != before {
		t.Fatalf("repeat: %+v", again)
	}
}

func TestErasureWithPlantedLeakIsNotCertified(t *testing.T) {
	f := newProofFixture(t)
	acct := f.seed(t)
	req := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "erasure", Channel: "web_form"}).Data.(commands.PrivacyRequestResult)
	// A copy of the email escaped into some store (say an application log file).
	f.scanner.plant("app.log", []byte("2026-03-10 signup ok for "+canaryEmail+"\n"))

	_, err := f.try(&commands.ExecuteErasure{RequestID: req.RequestID})
	var nv *commands.ErasureNotVerifiedError
	if !errors.As(err, &nv) || !errors.Is(err, commands.ErrErasureNotVerified) {
		t.Fatalf("err = %v, want an ErasureNotVerifiedError", err)
	}
	wantClass(t, err, commands.ClassConflict)
	if len(nv.Failed) != 1 || nv.Failed[0].Name != certificate.CheckPlaintextScan || !strings.Contains(nv.Failed[0].Detail, "app.log") {
		t.Fatalf("failed checks: %+v", nv.Failed)
	}
	if strings.Contains(err.Error(), canaryEmail) || strings.Contains(f.logs.String(), canaryEmail) {
		t.Fatal("the failure report repeats the leaked value")
	}
	if _, ok := f.certificateEvent(t, req.RequestID); ok {
		t.Fatal("certificate issued despite the leak")
	}
	if f.countType(t, privacy.TypeCompleted) != 0 || f.countType(t, privacy.TypeErasureVerificationFailed) != 1 {
		t.Fatal("request completed, or the failure not recorded")
	}
	// The key is gone all the same (the shred is a fact).
	if f.countType(t, privacy.TypeSubjectKeyShredded) != 1 {
		t.Fatal("shred not recorded")
	}
	subjectEventsErased(t, f.fixture, acct)

	// Running it again with the leak still there fails again; once the
	// leak is cleaned up the same values are scanned for and it passes.
	if _, err := f.try(&commands.ExecuteErasure{RequestID: req.RequestID}); !errors.Is(err, commands.ErrErasureNotVerified) {
		t.Fatalf("second run: %v", err)
	}
	f.scanner.plant("app.log", nil)
	out := f.do(t, &commands.ExecuteErasure{RequestID: req.RequestID}).Data.(commands.ExecuteErasureResult)
	if out.Status != commands.RequestCompleted || out.CertificateID == uuid.Nil {
		t.Fatalf("after cleanup: %+v", out)
	}
	if f.countType(t, privacy.TypeErasureVerificationFailed) != 2 {
		t.Fatal("failures lost")
	}
}

func TestErasureScannerFailureIsNotCertified(t *testing.T) {
	f := newProofFixture(t)
	acct := f.seed(t)
	req := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "erasure", Channel: "web_form"}).Data.(commands.PrivacyRequestResult)
	f.scanner.broken = errors.New("disk unreadable")
	if _, err := f.try(&commands.ExecuteErasure{RequestID: req.RequestID}); !errors.Is(err, commands.ErrErasureNotVerified) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := f.certificateEvent(t, req.RequestID); ok {
		t.Fatal("certificate issued without a scan")
	}
}

func TestScheduledAndDeferredErasuresAreCertified(t *testing.T) {
	f := newProofFixture(t)

	// Retention: closure → scheduled erasure → sweep.
	closed := f.seed(t)
	reqID := uuid.New()
	f.do(t, &commands.ScheduleErasure{RequestID: reqID, SubjectID: closed, DueAt: f.clock().Add(time.Hour), Reason: "account_closed"})
	f.advance(2 * time.Hour)
	done, err := f.svc.RunDueErasures(context.Background(), f.clock())
	if err != nil || len(done) != 1 || done[0].Err != nil || done[0].Status != commands.RequestCompleted || done[0].CertificateID == uuid.Nil {
		t.Fatalf("sweep: %v %+v", err, done)
	}
	ev, ok := f.certificateEvent(t, reqID)
	if !ok {
		t.Fatal("no certificate for the scheduled erasure")
	}
	c, err := certificate.Verify(ev.Certificate, f.keyring.SigningKey().Public().(ed25519.PublicKey))
	if err != nil || c.Request.Channel != "account_closure" || c.Operator != "sweep:due-erasures" || !strings.Contains(c.LegalBasis, "5(1)(e)") {
		t.Fatalf("closure certificate: %v %+v", err, c)
	}
	// Transaction records stay.
	if bal, err := f.hub.Balances().Balance(context.Background(), closed); err != nil || bal.PaymentsMicros != 5_000_000 {
		t.Fatalf("balance after erasure: %v %+v", err, bal)
	}

	// A deferred erasure run by the policy when its hold is released.
	acct := f.do(t, &commands.RegisterAccount{Email: "held.person@example.org", Name: "Held Person", AgeConfirmed: true, Region: "DE",
		Jurisdiction: "EU", PolicyVersion: "2026-01"}).Data.(commands.RegisterAccountResult).AccountID
	hold := f.do(t, &commands.PlaceLegalHold{SubjectID: acct, Categories: []string{"payments", "usage"}, Basis: "litigation",
		ReviewAt: f.clock().Add(24 * time.Hour)}).Data.(commands.HoldResult)
	req := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "erasure", Channel: "email"}).Data.(commands.PrivacyRequestResult)
	if out := f.do(t, &commands.ExecuteErasure{RequestID: req.RequestID}).Data.(commands.ExecuteErasureResult); out.Status != commands.RequestDeferred {
		t.Fatalf("with a hold: %+v", out)
	}
	rel := f.do(t, &commands.ReleaseLegalHold{HoldID: hold.HoldID})
	policy, err := commands.NewEraseOnHoldReleased(f.svc)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.stream(t, privacy.HoldStream(hold.HoldID)) {
		if d.Event.Position == rel.Position {
			if err := policy.Handle(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, ok := f.certificateEvent(t, req.RequestID); !ok {
		t.Fatal("no certificate for the deferred erasure")
	}
}

func TestRecordExportCompletesAccessRequest(t *testing.T) {
	f := newProofFixture(t)
	acct := f.seed(t)
	req := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "access", Channel: "api"}).Data.(commands.PrivacyRequestResult)
	sum := strings.Repeat("ab", 32)
	exportID := uuid.New()
	out := f.do(t, &commands.RecordExport{RequestID: req.RequestID, SubjectID: acct, ExportID: exportID, SHA256: sum}).Data.(commands.PrivacyRequestResult)
	if out.Status != commands.RequestCompleted {
		t.Fatalf("status %q", out.Status)
	}
	var produced privacy.ExportProduced
	for _, d := range f.stream(t, privacy.RequestStream(req.RequestID)) {
		if e, ok := d.Payload.(privacy.ExportProduced); ok {
			produced = e
		}
	}
	if produced.ExportID != exportID || produced.SHA256 != sum {
		t.Fatalf("export_produced: %+v", produced)
	}
	// repeat: no-op
	n := len(f.events(t))
	f.do(t, &commands.RecordExport{RequestID: req.RequestID, ExportID: exportID, SHA256: sum})
	if len(f.events(t)) != n {
		t.Fatal("repeat stored events")
	}
	for name, cmd := range map[string]*commands.RecordExport{
		"ErrBadHash":      {RequestID: req.RequestID, ExportID: exportID, SHA256: "nothex"},
		"ErrOtherSubject": {RequestID: req.RequestID, SubjectID: uuid.New(), ExportID: exportID, SHA256: sum},
	} {
		if _, err := f.try(cmd); commands.Classify(err) != commands.ClassValidation {
			t.Errorf("%s: %v", name, err)
		}
	}
	erasure := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "erasure", Channel: "api"}).Data.(commands.PrivacyRequestResult)
	if _, err := f.try(&commands.RecordExport{RequestID: erasure.RequestID, ExportID: exportID, SHA256: sum}); commands.Classify(err) != commands.ClassValidation {
		t.Errorf("export for an erasure request: %v", err)
	}
}

func TestRectifyProfileCompletesRectificationRequest(t *testing.T) {
	f := newProofFixture(t)
	acct := f.seed(t)
	other := f.do(t, &commands.RegisterAccount{Email: "other.person@example.org", Name: "Other", AgeConfirmed: true, Region: "DE",
		Jurisdiction: "EU", PolicyVersion: "2026-01"}).Data.(commands.RegisterAccountResult).AccountID
	req := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "rectification", Channel: "email"}).Data.(commands.PrivacyRequestResult)
	name := "Corrected Name"
	if _, err := f.try(&commands.RectifyProfile{AccountID: other, Name: &name, RequestID: req.RequestID}); commands.Classify(err) != commands.ClassValidation {
		t.Fatalf("other account: %v", err)
	}
	f.do(t, &commands.RectifyProfile{AccountID: acct, Name: &name, RequestID: req.RequestID})
	if n := f.countType(t, privacy.TypeCompleted); n != 1 {
		t.Fatalf("%d completions", n)
	}
	if _, err := f.try(&commands.RectifyProfile{AccountID: acct, Name: &name, RequestID: req.RequestID}); commands.Classify(err) != commands.ClassConflict {
		t.Fatalf("closed request: %v", err)
	}
	access := f.do(t, &commands.ReceivePrivacyRequest{SubjectID: acct, Kind: "access", Channel: "email"}).Data.(commands.PrivacyRequestResult)
	if _, err := f.try(&commands.RectifyProfile{AccountID: acct, Name: &name, RequestID: access.RequestID}); commands.Classify(err) != commands.ClassValidation {
		t.Fatalf("access request: %v", err)
	}
}

func TestKEKRotationSchedule(t *testing.T) {
	kr := eventstore.NewMemKeyring()
	v := eventstore.NewMemVault(kr)
	if _, err := v.DataKey(context.Background(), "s1"); err != nil {
		t.Fatal(err)
	}
	rot, err := commands.NewKEKRotation(kr, v, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	epochs, _ := kr.Epochs()
	created := epochs[0].CreatedAt
	if got := rot.Next(created.Add(time.Minute)); !got.Equal(created.Add(time.Hour)) {
		t.Fatalf("next = %v, want %v", got, created.Add(time.Hour))
	}
	late := created.Add(3 * time.Hour)
	if got := rot.Next(late); !got.Equal(late) {
		t.Fatalf("overdue next = %v", got)
	}
	res, err := rot.RotateNow(context.Background())
	if err != nil || res.NewEpoch != 2 || res.Rewrapped != 1 || len(res.Retired) != 1 {
		t.Fatalf("rotate: %v %+v", err, res)
	}
	if _, err := kr.KEK(1); !errors.Is(err, eventstore.ErrEpochRetired) {
		t.Fatalf("epoch 1 not retired: %v", err)
	}
}
