package postgres

import (
	"context"
	"fmt"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/eventstore"
)

var _ eventstore.SubjectReader = (*Store)(nil)

// ReadSubject implements eventstore.SubjectReader over the (subject,
// position) index: erasure verification reads one person's events without
// scanning the log.
func (s *Store) ReadSubject(ctx context.Context, subject string, from uint64, limit int) ([]eventstore.Event, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	id, err := uuid.Parse(subject)
	if err != nil {
		return nil, nil // subjects are UUIDs: no event can have this one
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE subject = $1 AND position >= $2 ORDER BY position LIMIT $3`,
		id, int64(from), lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: read subject: %w", mapErr(err))
	}
	return collect(rows, limit)
}
