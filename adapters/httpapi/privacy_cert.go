package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/domain/privacy/certificate"
	"github.com/ledgerline/ledgerline/projections"
)

// CertificateFile documents the signed certificate file served by
// GET /v1/certificates/{certificate_id}: exactly the bytes signed and stored
// in privacy.certificate_issued ({"certificate":<canonical JSON>,"signature":"<base64>"}).
type CertificateFile struct {
	Certificate certificate.Certificate `json:"certificate"`
	Signature   string                  `json:"signature"` // standard base64 Ed25519 signature over the certificate member's bytes
}

// PrivacyRequestDetail is one request with, for an erasure, its progress.
type PrivacyRequestDetail struct {
	projections.RequestView
	Erasure *ErasureProgress `json:"erasure,omitempty"`
}

// Erasure stages, in order; Stage is the furthest one reached.
const (
	StagePending            = "pending"               // received, key not destroyed yet
	StageDeferred           = "deferred"              // waiting for legal holds
	StageShredded           = "shredded"              // the subject's key is destroyed
	StageReadModelsCaughtUp = "read_models_caught_up" // every read model applied the shred
	StageVerificationFailed = "verification_failed"   // a check found personal data; no certificate
	StageCertified          = "certified"             // verified, certificate issued, request completed
)

// ErasureProgress shows how far an erasure got: shredded → read models
// caught up → verified → certificate.
type ErasureProgress struct {
	Stage              string                `json:"stage"`
	KeyShreddedAt      *time.Time            `json:"key_shredded_at,omitempty"`
	ShredPosition      uint64                `json:"shred_position,omitempty"` // log position of privacy.subject_key_shredded
	ReadModelsCaughtUp bool                  `json:"read_models_caught_up"`
	Verified           bool                  `json:"verified"`
	VerifiedAt         *time.Time            `json:"verified_at,omitempty"`
	FailedAttempts     int                   `json:"failed_verifications,omitempty"`
	LastFailure        []privacy.FailedCheck `json:"last_failure,omitempty"` // checks and places, never values
	CertificateID      *uuid.UUID            `json:"certificate_id,omitempty"`
}

func (s *Server) publicKey(w http.ResponseWriter, r *http.Request) error {
	if len(s.cfg.CertificateKey) == 0 {
		return problem(http.StatusNotFound, "not-found", "not found", "this server issues no certificates")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write([]byte(certificate.FormatPublicKey(s.cfg.CertificateKey) + "\n"))
	return err
}

// findCertificate returns the stored certificate file and its request.
func (s *Server) findCertificate(ctx context.Context, id uuid.UUID) ([]byte, projections.RequestView, error) {
	reqs, err := s.cfg.Reads.Models.Privacy().Requests(ctx, projections.RequestFilter{Kind: privacy.Erasure.String()}, s.now())
	if err != nil {
		return nil, projections.RequestView{}, err
	}
	for _, rq := range reqs {
		if rq.CertificateID == nil || *rq.CertificateID != id {
			continue
		}
		evs, err := s.cfg.Store.ReadStream(ctx, privacy.RequestStream(rq.RequestID), 1, 0)
		if err != nil {
			return nil, rq, err
		}
		for _, ev := range evs {
			if ev.Type != privacy.TypeCertificateIssued {
				continue
			}
			p, err := s.cfg.Codec.DecodePublic(ev)
			if err != nil {
				return nil, rq, err
			}
			if e, ok := p.(privacy.CertificateIssued); ok && e.CertificateID == id && len(e.Certificate) > 0 {
				return e.Certificate, rq, nil
			}
		}
	}
	return nil, projections.RequestView{}, errNotFound()
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "certificate_id")
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "html" {
		return fieldProblem(http.StatusBadRequest, "format", "certificate_format", "must be json or html")
	}
	if err := s.waitRead(r); err != nil {
		return err
	}
	file, rq, err := s.findCertificate(r.Context(), id)
	if err != nil {
		return err
	}
	if p := principalOf(r.Context()); p != nil && p.Role == operator.Customer && p.AccountID != rq.Subject {
		return errNotFound() // never confirm another person's certificate exists
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if format == "html" {
		parsed, err := certificate.Parse(file)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_, err = w.Write(certificate.RenderHTML(parsed.Certificate))
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="certificate-`+id.String()+`.json"`)
	w.Header().Set("X-Ledgerline-Certificate-SHA256", certificate.Digest(file))
	_, err = w.Write(file) // exactly as signed: any re-encoding would break the signature
	return err
}

// erasureProgress reads the request's stream for the stages of its erasure.
func (s *Server) erasureProgress(ctx context.Context, v projections.RequestView) (*ErasureProgress, error) {
	p := &ErasureProgress{Stage: StagePending}
	if v.Status == projections.ReqDeferred {
		p.Stage = StageDeferred
	}
	evs, err := s.cfg.Store.ReadStream(ctx, privacy.RequestStream(v.RequestID), 1, 0)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		payload, err := s.cfg.Codec.DecodePublic(ev)
		if err != nil {
			return nil, err
		}
		switch e := payload.(type) {
		case privacy.SubjectKeyShredded:
			at := e.ShreddedAt
			p.KeyShreddedAt, p.ShredPosition, p.Stage = &at, ev.Position, StageShredded
		case privacy.ErasureVerificationFailed:
			p.FailedAttempts++
			p.LastFailure = e.Checks
		case privacy.CertificateIssued:
			at, id := e.IssuedAt, e.CertificateID
			p.Verified, p.VerifiedAt, p.CertificateID = true, &at, &id
			p.LastFailure = nil
		}
	}
	if p.ShredPosition > 0 {
		// a cancelled context: answer from the read models' current position, never wait
		done, cancel := context.WithCancel(ctx)
		cancel()
		err := s.cfg.Reads.WaitFor(done, p.ShredPosition)
		switch {
		case err == nil:
			p.ReadModelsCaughtUp = true
			p.Stage = StageReadModelsCaughtUp
		case !errors.Is(err, projections.ErrNotCaughtUp) && !errors.Is(err, context.Canceled):
			return nil, err
		}
	}
	switch {
	case p.Verified:
		p.Stage = StageCertified
	case p.FailedAttempts > 0:
		p.Stage = StageVerificationFailed
	}
	return p, nil
}
