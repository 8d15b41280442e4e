package main

import "testing"

func TestBatchSummary(t *testing.T) {
	for _, c := range []struct {
		body       string
		rec, dup   int
		rej        int
		shouldFail bool
	}{
		{body: `{"recorded":998,"duplicates":1,"rejected":1,"results":[{"index":0}]}`, rec: 998, dup: 1, rej: 1},
		{body: `{"results":[],"rejected":3,"recorded":2,"duplicates":0}`, rec: 2, rej: 3}, // other order: decoded whole
		{body: `{"recorded":"x"}`, shouldFail: true},
		{body: `[]`, shouldFail: true},
		{body: ``, shouldFail: true},
	} {
		res, err := batchSummary([]byte(c.body))
		if (err != nil) != c.shouldFail {
			t.Fatalf("%s: error %v", c.body, err)
		}
		if err == nil && (res.Recorded != c.rec || res.Duplicates != c.dup || res.Rejected != c.rej) {
			t.Fatalf("%s: got %+v", c.body, res)
		}
	}
}
