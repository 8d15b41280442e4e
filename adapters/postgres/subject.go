package postgres

import (
	"context"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

var _ eventstore.SubjectReader = (*Store)(nil)

// ReadSubject implements eventstore.SubjectReader over the subject index:
// erasure verification and exports read one person's events without
// scanning the log.
func (s *Store) ReadSubject(ctx context.Context, subject string, from uint64, limit int) ([]eventstore.Event, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	id, err := uuid.Parse(subject)
	if err != nil {
		return nil, nil // subjects are UUIDs: no event can have this one
	}
	f, lim := bounds(from, limit)
	return s.read(ctx, "read subject", eventColumns, nil, limit, `WHERE subject = $1 AND position >= $2 ORDER BY position LIMIT $3`, id, f, lim)
}
