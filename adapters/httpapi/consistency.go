package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// PositionHeader carries the global position a write reached (responses) or
// the position a read must reflect (requests, like ?after=).
const (
	PositionHeader = "X-Ledgerline-Position"
	AfterHeader    = "X-Ledgerline-After"
)

var errNotCaughtUp = errors.New("httpapi: read model not caught up")

// afterPosition is the position a read must reflect: ?after=, or the
// X-Ledgerline-After (or X-Ledgerline-Position) request header; 0 when none.
func afterPosition(r *http.Request) (uint64, error) {
	v := r.URL.Query().Get("after")
	if v == "" {
		v = r.Header.Get(AfterHeader)
	}
	if v == "" {
		v = r.Header.Get(PositionHeader)
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fieldProblem(http.StatusBadRequest, "after", "position", "must be a log position (a non-negative integer)")
	}
	return n, nil
}

// waitRead gives read-your-writes: it waits, at most Config.ReadWait, until
// the read models have applied the position the caller passed.
func (s *Server) waitRead(r *http.Request) error {
	pos, err := afterPosition(r)
	if err != nil || pos == 0 {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadWait)
	defer cancel()
	if err := s.cfg.Reads.WaitFor(ctx, pos); err != nil {
		if r.Context().Err() != nil {
			return r.Context().Err()
		}
		return errNotCaughtUp
	}
	return nil
}

// writeWritten answers a write: the body carries "position" (v's Position
// field) and the header repeats it.
func writeWritten(w http.ResponseWriter, status int, position uint64, v any) {
	if position > 0 {
		w.Header().Set(PositionHeader, strconv.FormatUint(position, 10))
	}
	writeJSON(w, status, v)
}
