package postgres

import (
	"testing"

	"github.com/ledgerline/ledgerline/eventstore"
)

// The window keeps consecutive positions only, drops its older half when
// full, and answers exactly the reads it holds whole: a page it holds only
// in part, or an unbounded read, goes to the database.
func TestRecentCommitsBounds(t *testing.T) {
	r := recentCommits{max: 8}
	batch := func(from uint64, n int, kinds ...int) ([]*eventstore.AppendRequest, []int) {
		req := &eventstore.AppendRequest{}
		for i := range n {
			req.Events = append(req.Events, eventstore.Event{Position: from + uint64(i), Data: []byte{byte(i)}})
		}
		k := accepted
		if len(kinds) > 0 {
			k = kinds[0]
		}
		return []*eventstore.AppendRequest{req}, []int{k}
	}
	check := func(from uint64, limit int, want []uint64) {
		t.Helper()
		page, ok := r.read(nil, from, limit)
		if ok != (want != nil) {
			t.Fatalf("read(%d): served %v, want %v", from, ok, want != nil)
		}
		var got []uint64
		for _, e := range page {
			got = append(got, e.Position)
		}
		if len(got) != len(want) {
			t.Fatalf("read(%d, %d) = %v, want %v", from, limit, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("read(%d, %d) = %v, want %v", from, limit, got, want)
			}
		}
	}
	r.add(batch(1, 5))
	check(1, 5, []uint64{1, 2, 3, 4, 5})
	check(4, 1, []uint64{4})
	check(4, 2, []uint64{4, 5})
	check(4, 3, nil) // only in part
	check(1, 0, nil) // unbounded
	check(6, 1, nil)
	r.add(batch(6, 2, pending)) // not written: nothing enters
	check(6, 1, nil)
	r.add(batch(6, 5)) // 10 > 8: the older half goes
	check(1, 1, nil)
	check(4, 1, nil)
	check(5, 3, []uint64{5, 6, 7})
	check(10, 1, []uint64{10})
	r.add(batch(20, 2)) // a gap: a new window
	check(10, 1, nil)
	check(20, 2, []uint64{20, 21})
	r.reset()
	check(20, 1, nil)
}
