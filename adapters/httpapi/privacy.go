package httpapi

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/projections"
)

// RequestList is a queue of data-subject requests, by due date.
type RequestList struct {
	Requests []projections.RequestView `json:"requests"`
}

// HoldList lists a subject's legal holds.
type HoldList struct {
	Holds []projections.HoldView `json:"holds"`
}

func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := projections.RequestFilter{Kind: q.Get("kind"), OpenOnly: q.Get("open") == "true"}
	switch f.Kind {
	case "", "access", "rectification", "erasure":
	default:
		return fieldProblem(http.StatusBadRequest, "kind", "request_kind", "must be one of access, rectification, erasure")
	}
	if v := q.Get("subject_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return fieldProblem(http.StatusBadRequest, "subject_id", "uuid", "must be a UUID")
		}
		f.Subject = id
	}
	if err := s.waitRead(r); err != nil {
		return err
	}
	var (
		list []projections.RequestView
		err  error
	)
	if q.Get("overdue") == "true" {
		list, err = s.cfg.Reads.Models.Privacy().Overdue(r.Context(), s.now())
	} else {
		list, err = s.cfg.Reads.Models.Privacy().Requests(r.Context(), f, s.now())
	}
	if err != nil {
		return err
	}
	out := RequestList{Requests: make([]projections.RequestView, 0, len(list))}
	for _, v := range list {
		if f.Subject != uuid.Nil && v.Subject != f.Subject || f.Kind != "" && v.Kind != f.Kind {
			continue
		}
		v.Details = "" // the queue never carries the requester's own words
		out.Requests = append(out.Requests, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "request_id")
	if err != nil {
		return err
	}
	if err := s.waitRead(r); err != nil {
		return err
	}
	v, err := s.cfg.Reads.Models.Privacy().Request(r.Context(), id, s.now())
	if err != nil {
		return err
	}
	if err := ownAccount(r, v.Subject); err != nil {
		return err
	}
	if !seesPersonal(r) {
		v.Details = ""
	} else if v.Details != "" {
		if err := s.recordRead(r, v.Subject, operator.ReadRequest); err != nil {
			return err
		}
	}
	out := PrivacyRequestDetail{RequestView: v}
	if v.Kind == "erasure" {
		if out.Erasure, err = s.erasureProgress(r.Context(), v); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listHolds(w http.ResponseWriter, r *http.Request) error {
	id, err := s.accountRead(r)
	if err != nil {
		return err
	}
	hs, err := s.cfg.Reads.Models.Privacy().Holds(r.Context(), id, r.URL.Query().Get("active") == "true")
	if err != nil {
		return err
	}
	if hs == nil {
		hs = []projections.HoldView{}
	}
	writeJSON(w, http.StatusOK, HoldList{Holds: hs})
	return nil
}
