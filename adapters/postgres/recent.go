package postgres

import (
	"sync"

	"github.com/ledgerline/ledgerline/eventstore"
)

// recentCommits keeps, in memory, the lean form of the events this process
// committed last: a window of consecutive positions that ends with its most
// recent commit. Projections that tail the log on this node (the in-memory
// read models serve runs, the PostgreSQL read-model runner) mostly ask for
// exactly those events right after the commit announced them; ReadAllLean
// answers such a read from the window instead of reading the rows back
// through the database. On usage ingestion that read-back cost the database
// about a tenth of its CPU, taken from the inserts it shares the machine with.
//
// Only what committed enters the window, after COMMIT returned, so a read
// from it never sees an event ReadAll would not. The window holds no gap: a
// commit whose first position does not follow the window's last (another
// process appended in between, or a commit's outcome was lost) starts a new
// window, and any read the window cannot answer whole goes to the database.
type recentCommits struct {
	mu     sync.RWMutex
	max    int
	events []eventstore.Event // lean form, positions first..first+len-1
	first  uint64
}

// recentWindow bounds the window: a few group commits' worth, enough for a
// tailing projection that is one or two commits behind.
const recentWindow = 16384

// add appends a committed batch, given as its requests and the kinds plan
// gave them (accepted ones were written, in order, from their first
// position). Byte fields are copied: callers of Append may reuse theirs.
func (r *recentCommits) add(reqs []*eventstore.AppendRequest, kinds []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, req := range reqs {
		if kinds[i] != accepted {
			continue
		}
		for j := range req.Events {
			e := &req.Events[j]
			if len(r.events) > 0 && e.Position != r.first+uint64(len(r.events)) {
				r.events = r.events[:0] // not consecutive: a new window
			}
			if len(r.events) == 0 {
				r.first = e.Position
			}
			if len(r.events) == r.max {
				half := r.max / 2
				n := copy(r.events, r.events[half:])
				clear(r.events[n:])
				r.events = r.events[:n]
				r.first += uint64(half)
			}
			r.events = append(r.events, leanCopy(e))
		}
	}
}

// reset forgets the window (a commit's outcome is unknown).
func (r *recentCommits) reset() {
	r.mu.Lock()
	clear(r.events)
	r.events = r.events[:0]
	r.mu.Unlock()
}

// read returns the limit events from position from on, written over
// dst[:0], when the window holds all of them. A page the window could only
// answer in part goes to the database: callers take a short page for "caught
// up" (a replay up to a position stops there), and another process may have
// appended past the window's end. An unbounded read always does.
func (r *recentCommits) read(dst []eventstore.Event, from uint64, limit int) ([]eventstore.Event, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if limit <= 0 || len(r.events) == 0 || from < r.first || from-r.first+uint64(limit) > uint64(len(r.events)) {
		return dst, false
	}
	page := r.events[from-r.first:][:limit]
	return append(dst[:0], page...), true
}

// leanCopy is e as ReadAllLean returns it: stream, version and the hashes
// left zero, its own copy of the byte fields.
func leanCopy(e *eventstore.Event) eventstore.Event {
	out := eventstore.Event{Position: e.Position, ID: e.ID, Type: e.Type, Schema: e.Schema, RecordedAt: e.RecordedAt,
		Subject: e.Subject, Meta: e.Meta}
	out.Data, out.Sealed = ownPayload(e.Data, e.Sealed)
	return out
}
