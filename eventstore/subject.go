package eventstore

import (
	"context"
	"errors"
)

// SubjectReader is implemented by stores that can list one data subject's
// events without reading the whole log (PostgreSQL has a (subject, position)
// index). Erasure verification uses it to prove every event of the subject
// fails to decrypt.
//
// ReadSubject returns up to limit events whose Subject is subject and whose
// Position is >= from, in position order. It must be safe for concurrent use
// and see every event a ReadAll at the same moment would see.
type SubjectReader interface {
	ReadSubject(ctx context.Context, subject string, from uint64, limit int) ([]Event, error)
}

// subjectPage is the page size of ForEachSubjectEvent.
const subjectPage = 1000

// ForEachSubjectEvent calls fn for every event of subject in position order:
// through the store's SubjectReader when it has one, otherwise by scanning
// the whole log with ReadAll. It stops at fn's first error.
func ForEachSubjectEvent(ctx context.Context, s Store, subject string, fn func(Event) error) error {
	if subject == "" {
		return errors.New("eventstore: ForEachSubjectEvent needs a subject")
	}
	read := func(from uint64) ([]Event, error) { return s.ReadAll(ctx, from, subjectPage) }
	filter := true
	if sr, ok := s.(SubjectReader); ok {
		read = func(from uint64) ([]Event, error) { return sr.ReadSubject(ctx, subject, from, subjectPage) }
		filter = false
	}
	for from := uint64(1); ; {
		page, err := read(from)
		if err != nil {
			return err
		}
		for _, ev := range page {
			if filter && ev.Subject != subject {
				continue
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(page) < subjectPage {
			return nil
		}
		from = page[len(page)-1].Position + 1
	}
}
