package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

// AuditEvent is a stored envelope as auditors see it: the public payload as
// JSON, the sealed personal part as base64 (never decrypted), and the chain.
type AuditEvent struct {
	ID         uuid.UUID           `json:"id"`
	Stream     string              `json:"stream"`
	Version    uint64              `json:"version"`
	Position   uint64              `json:"position"`
	Type       string              `json:"type"`
	Schema     int                 `json:"schema"`
	RecordedAt time.Time           `json:"recorded_at"`
	Data       json.RawMessage     `json:"data"`
	Subject    string              `json:"subject,omitempty"`
	Sealed     []byte              `json:"sealed,omitempty"` // base64 in JSON
	Meta       eventstore.Metadata `json:"meta"`
	PrevHash   eventstore.Hash     `json:"prev_hash"`
	Hash       eventstore.Hash     `json:"hash"`
}

func auditEvent(e eventstore.Event) AuditEvent {
	return AuditEvent{ID: e.ID, Stream: e.Stream, Version: e.Version, Position: e.Position, Type: e.Type,
		Schema: e.Schema, RecordedAt: e.RecordedAt, Data: json.RawMessage(e.Data), Subject: e.Subject,
		Sealed: e.Sealed, Meta: e.Meta, PrevHash: e.PrevHash, Hash: e.Hash}
}

// AuditPage is a page of the log; Next is the position to ask for next (0 at the end).
type AuditPage struct {
	Events []AuditEvent `json:"events"`
	Next   uint64       `json:"next,omitempty"`
}

// HeadView is the end of the log.
type HeadView struct {
	Position uint64          `json:"position"`
	Hash     eventstore.Hash `json:"hash"`
}

// VerifyView is the outcome of a chain verification.
type VerifyView struct {
	OK       bool     `json:"ok"`
	Events   uint64   `json:"events"`
	Head     HeadView `json:"head"`
	BrokenAt uint64   `json:"broken_at,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	TookMs   int64    `json:"took_ms"`
}

func pageOf(evs []eventstore.Event, limit int, next func(last eventstore.Event) uint64) AuditPage {
	p := AuditPage{Events: make([]AuditEvent, 0, len(evs))}
	for _, e := range evs {
		p.Events = append(p.Events, auditEvent(e))
	}
	if len(evs) == limit && limit > 0 {
		p.Next = next(evs[len(evs)-1])
	}
	return p
}

func (s *Server) auditEvents(w http.ResponseWriter, r *http.Request) error {
	from, err := queryInt(r, "from", 1, 1, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	evs, err := s.cfg.Store.ReadAll(r.Context(), uint64(from), int(limit))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(evs, int(limit), func(l eventstore.Event) uint64 { return l.Position + 1 }))
	return nil
}

func (s *Server) auditStream(w http.ResponseWriter, r *http.Request) error {
	stream := r.PathValue("stream")
	if stream == "" || len(stream) > eventstore.MaxStreamLen {
		return fieldProblem(http.StatusBadRequest, "stream", "stream_name", "must be a stream name")
	}
	from, err := queryInt(r, "from", 1, 1, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	evs, err := s.cfg.Store.ReadStream(r.Context(), stream, uint64(from), int(limit))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(evs, int(limit), func(l eventstore.Event) uint64 { return l.Version + 1 }))
	return nil
}

func (s *Server) auditHead(w http.ResponseWriter, r *http.Request) error {
	h, err := s.cfg.Store.Head(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, HeadView{Position: h.Position, Hash: h.Hash})
	return nil
}

func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	res, err := eventstore.VerifyChain(r.Context(), s.cfg.Store, nil)
	out := VerifyView{OK: err == nil, Events: res.Events, Head: HeadView{Position: res.Head.Position, Hash: res.Head.Hash}}
	var ce *eventstore.ChainError
	switch {
	case errors.As(err, &ce):
		out.BrokenAt, out.Reason = ce.Position, ce.Reason
	case err != nil:
		return err
	}
	out.TookMs = time.Since(start).Milliseconds()
	writeJSON(w, http.StatusOK, out)
	return nil
}
