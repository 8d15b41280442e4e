package embedded

import (
	"context"

	"github.com/ledgerline/ledgerline/eventstore"
)

var _ eventstore.SubjectReader = (*Store)(nil)

// subjectScanPage is how many events ReadSubject reads per page of the log.
const subjectScanPage = 4096

// ReadSubject implements eventstore.SubjectReader. The embedded store keeps
// no subject index, so it scans the log from from; erasures are rare and the
// scan is sequential.
func (s *Store) ReadSubject(ctx context.Context, subject string, from uint64, limit int) ([]eventstore.Event, error) {
	if from == 0 {
		from = 1
	}
	var out []eventstore.Event
	for {
		page, err := s.ReadAll(ctx, from, subjectScanPage)
		if err != nil {
			return nil, err
		}
		for _, ev := range page {
			if ev.Subject != subject {
				continue
			}
			out = append(out, ev)
			if limit > 0 && len(out) == limit {
				return out, nil
			}
		}
		if len(page) < subjectScanPage {
			return out, nil
		}
		from = page[len(page)-1].Position + 1
	}
}
