package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
	"github.com/ledgerline/ledgerline/eventstore"
)

// storeScanner searches every byte of the in-memory log, plus planted blobs
// standing for other places a copy could escape to.
type storeScanner struct {
	store *eventstore.MemStore
	mu    sync.Mutex
	blobs map[string][]byte
}

func (s *storeScanner) plant(name string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobs == nil {
		s.blobs = map[string][]byte{}
	}
	if b == nil {
		delete(s.blobs, name)
	} else {
		s.blobs[name] = b
	}
}

func (s *storeScanner) Scan(ctx context.Context, needles [][]byte) ([]eventstore.Finding, error) {
	evs, err := s.store.ReadAll(ctx, 1, 0)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []eventstore.Finding
	check := func(where string, b []byte) {
		for i, n := range needles {
			if bytes.Contains(b, n) {
				out = append(out, eventstore.Finding{Store: "memory", Location: where, Needle: i})
			}
		}
	}
	for _, ev := range evs {
		check("event", append(append([]byte(nil), ev.Data...), ev.Sealed...))
	}
	for name, b := range s.blobs {
		check(name, b)
	}
	return out, nil
}

type erasureView struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
	Erasure   *struct {
		Stage              string     `json:"stage"`
		ShredPosition      uint64     `json:"shred_position"`
		ReadModelsCaughtUp bool       `json:"read_models_caught_up"`
		Verified           bool       `json:"verified"`
		FailedAttempts     int        `json:"failed_verifications"`
		CertificateID      *uuid.UUID `json:"certificate_id"`
		LastFailure        []struct {
			Name   string `json:"name"`
			Detail string `json:"detail"`
		} `json:"last_failure"`
	} `json:"erasure"`
}

func TestCertificateRoutes(t *testing.T) {
	h := newHarness(t)
	email, name := "cert.canary@example.org", "Certificate Canary"
	acct := h.register(email, name)
	h.tokens["customer"] = h.customerToken(acct)
	other := h.register("someone.else@example.org", "Someone Else")
	h.tokens["other"] = h.customerToken(other)

	var req struct {
		RequestID string `json:"request_id"`
	}
	h.mustDo("customer", "POST", "/v1/privacy/requests", map[string]any{"kind": "erasure", "channel": "web_form"}, 201, &req)
	var erased struct {
		Status        string    `json:"status"`
		CertificateID uuid.UUID `json:"certificate_id"`
		Verification  []struct {
			Name   string `json:"name"`
			Result string `json:"result"`
		} `json:"verification"`
		Position uint64 `json:"position"`
	}
	h.mustDo("compliance", "POST", "/v1/privacy/requests/"+req.RequestID+"/erase", nil, 200, &erased)
	if erased.Status != "completed" || erased.CertificateID == uuid.Nil || len(erased.Verification) != 3 {
		t.Fatalf("erase: %+v", erased)
	}
	after := "?after=" + itoa(erased.Position)

	// progress
	var pv erasureView
	h.mustDo("compliance", "GET", "/v1/privacy/requests/"+req.RequestID+after, nil, 200, &pv)
	if pv.Erasure == nil || pv.Erasure.Stage != StageCertified || !pv.Erasure.ReadModelsCaughtUp || !pv.Erasure.Verified ||
		pv.Erasure.CertificateID == nil || *pv.Erasure.CertificateID != erased.CertificateID || pv.Erasure.ShredPosition == 0 {
		t.Fatalf("progress: %+v", pv.Erasure)
	}

	// the public key needs no token
	keyResp := h.mustDo("", "GET", "/v1/certificates/public-key", nil, 200, nil)
	if ct := keyResp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("public key content type %q", ct)
	}
	pub, err := certificate.ParsePublicKey(string(keyResp.body))
	if err != nil {
		t.Fatal(err)
	}

	path := "/v1/certificates/" + erased.CertificateID.String()
	file := h.mustDo("auditor", "GET", path+after, nil, 200, nil)
	c, err := certificate.Verify(file.body, pub)
	if err != nil {
		t.Fatalf("served certificate does not verify: %v", err)
	}
	if c.ID != erased.CertificateID || c.Request.ID.String() != req.RequestID || c.Request.Channel != "web_form" {
		t.Fatalf("certificate: %+v", c)
	}
	if sum := sha256.Sum256(file.body); file.header.Get("X-Ledgerline-Certificate-SHA256") != hex.EncodeToString(sum[:]) {
		t.Fatal("digest header does not match the body")
	}
	if bytes.Contains(file.body, []byte(email)) || bytes.Contains(file.body, []byte(name)) || bytes.Contains(file.body, []byte(acct.String())) {
		t.Fatal("certificate names the person")
	}
	for _, who := range []string{"admin", "compliance", "customer"} {
		if r := h.mustDo(who, "GET", path, nil, 200, nil); !bytes.Equal(r.body, file.body) {
			t.Fatalf("%s got other bytes", who)
		}
	}
	h.mustDo("other", "GET", path, nil, 404, nil)
	h.mustDo("gateway", "GET", path, nil, 403, nil)
	h.mustDo("compliance", "GET", "/v1/certificates/"+uuid.NewString(), nil, 404, nil)
	h.mustDo("compliance", "GET", path+"?format=pdf", nil, 400, nil)
	page := h.mustDo("compliance", "GET", path+"?format=html", nil, 200, nil)
	if !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") || !bytes.Contains(page.body, []byte("Certificate of erasure")) ||
		!bytes.Contains(page.body, []byte(erased.CertificateID.String())) {
		t.Fatalf("html: %.300s", page.body)
	}
}

func TestErasureLeakReturnsConflict(t *testing.T) {
	h := newHarness(t)
	email := "leaky.canary@example.org"
	acct := h.register(email, "Leaky Canary")
	var req struct {
		RequestID string `json:"request_id"`
	}
	h.mustDo("compliance", "POST", "/v1/privacy/requests", map[string]any{"subject_id": acct, "kind": "erasure", "channel": "email"}, 201, &req)
	h.scanner.plant("backup.tar", []byte("...."+email+"...."))
	r := h.mustDo("compliance", "POST", "/v1/privacy/requests/"+req.RequestID+"/erase", nil, 409, nil)
	if bytes.Contains(r.body, []byte(email)) || strings.Contains(h.logs.String(), email) {
		t.Fatal("the failure repeats the leaked value")
	}
	var pv erasureView
	h.mustDo("compliance", "GET", "/v1/privacy/requests/"+req.RequestID, nil, 200, &pv)
	if pv.Status == "completed" || pv.Erasure == nil || pv.Erasure.Stage != StageVerificationFailed || pv.Erasure.FailedAttempts != 1 ||
		pv.Erasure.CertificateID != nil || len(pv.Erasure.LastFailure) != 1 || !strings.Contains(pv.Erasure.LastFailure[0].Detail, "backup.tar") {
		t.Fatalf("after a leak: %+v %+v", pv, pv.Erasure)
	}
	h.scanner.plant("backup.tar", nil)
	var ok struct {
		Status        string    `json:"status"`
		CertificateID uuid.UUID `json:"certificate_id"`
	}
	h.mustDo("compliance", "POST", "/v1/privacy/requests/"+req.RequestID+"/erase", nil, 200, &ok)
	if ok.Status != "completed" || ok.CertificateID == uuid.Nil {
		t.Fatalf("after cleanup: %+v", ok)
	}
}

func TestExportAnswersAccessRequest(t *testing.T) {
	h := newHarness(t)
	acct := h.register("export.canary@example.org", "Export Canary")
	h.tokens["customer"] = h.customerToken(acct)
	var req struct {
		RequestID string `json:"request_id"`
		Position  uint64 `json:"position"`
	}
	h.mustDo("customer", "POST", "/v1/privacy/requests", map[string]any{"kind": "access", "channel": "api"}, 201, &req)
	var erasure struct {
		RequestID string `json:"request_id"`
	}
	h.mustDo("compliance", "POST", "/v1/privacy/requests", map[string]any{"subject_id": acct, "kind": "rectification", "channel": "email"}, 201, &erasure)

	base := "/v1/accounts/" + acct.String() + "/export?reason=access+request&after=" + itoa(req.Position)
	h.mustDo("compliance", "POST", base+"&request_id="+erasure.RequestID, nil, 422, nil)
	r := h.mustDo("compliance", "POST", base+"&request_id="+req.RequestID, nil, 200, nil)
	sum := sha256.Sum256(r.body)
	if r.header.Get(ExportSHA256Header) != hex.EncodeToString(sum[:]) || r.header.Get(ExportIDHeader) == "" ||
		!bytes.Contains(r.body, []byte(r.header.Get(ExportIDHeader))) {
		t.Fatalf("export headers %v", r.header)
	}
	var status struct {
		Status   string  `json:"status"`
		ExportID *string `json:"export_id"`
	}
	h.mustDo("compliance", "GET", "/v1/privacy/requests/"+req.RequestID+"?after="+r.header.Get(PositionHeader), nil, 200, &status)
	if status.Status != "completed" || status.ExportID == nil || *status.ExportID != r.header.Get(ExportIDHeader) {
		t.Fatalf("access request after export: %+v", status)
	}

	// rectification with the request id completes it
	var rect struct {
		Position uint64 `json:"position"`
	}
	h.mustDo("compliance", "POST", "/v1/accounts/"+acct.String()+"/rectify", map[string]any{"name": "Export Canary II", "request_id": erasure.RequestID}, 200, &rect)
	h.mustDo("compliance", "GET", "/v1/privacy/requests/"+erasure.RequestID+"?after="+itoa(rect.Position), nil, 200, &status)
	if status.Status != "completed" {
		t.Fatalf("rectification request: %+v", status)
	}
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
