package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/adapters/embedded"
	"github.com/ledgerline/ledgerline/adapters/keyring"
	"github.com/ledgerline/ledgerline/projections"
)

func TestParseAsOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want projections.Until
		err  bool
	}{
		{"OKPosition", "1200", projections.Until{Position: 1200}, false},
		{"OKTime", "2026-03-01T10:00:00+01:00", projections.Until{Time: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, false},
		{"OKTimeNanos", "2026-03-01T09:00:00.5Z", projections.Until{Time: time.Date(2026, 3, 1, 9, 0, 0, 5e8, time.UTC)}, false},
		{"ErrEmpty", "", projections.Until{}, true},
		{"ErrZeroPosition", "0", projections.Until{}, true},
		{"ErrDate", "2026-03-01", projections.Until{}, true},
		{"ErrWord", "yesterday", projections.Until{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAsOf(tc.in)
			if (err != nil) != tc.err || !got.Time.Equal(tc.want.Time) || got.Position != tc.want.Position {
				t.Fatalf("parseAsOf(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestReplayEmbedded(t *testing.T) {
	t.Setenv(envDatabaseURL, "")
	t.Setenv(keyring.EnvPath, "")
	dir := t.TempDir()
	out := seedDemo(t, dir, "12", "200")
	m := regexp.MustCompile(`replay --as-of (\d+) --account ([0-9a-f-]{36})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no example account in:\n%s", out)
	}
	head, account := m[1], m[2]

	// summary at the head
	out, err := runCLI(t, "replay", "--data-dir", dir, "--as-of", head)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	var sum struct {
		AsOf    replayPoint `json:"as_of"`
		Summary modelCounts `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sum.Summary.Accounts != 12 || sum.Summary.Usage.Requests != 200 || sum.AsOf.Hash == "" || sum.AsOf.LogHead != sum.AsOf.Position {
		t.Fatalf("summary at head: %+v", sum)
	}
	if strings.Contains(out, "@example.com") {
		t.Fatal("replay printed personal data")
	}

	// the account, at the head and before it existed
	out, err = runCLI(t, "replay", "--data-dir", dir, "--as-of", head, "--account", account)
	if err != nil {
		t.Fatalf("replay account: %v\n%s", err, out)
	}
	var acc replayedAccount
	if err := json.Unmarshal([]byte(out), &acc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if acc.Account.ID.String() != account || acc.Account.Email != "" || len(acc.Transactions) < 2 || len(acc.Consent.Purposes) == 0 {
		t.Fatalf("account: %+v", acc)
	}
	if _, err := runCLI(t, "replay", "--data-dir", dir, "--as-of", "2000-01-01T00:00:00Z", "--account", account); err == nil ||
		!strings.Contains(err.Error(), "did not exist") {
		t.Fatalf("as of 2000: err = %v", err)
	}
	// a time before the first event: nothing yet
	out, err = runCLI(t, "replay", "--data-dir", dir, "--as-of", "2000-01-01T00:00:00Z")
	if err != nil || !strings.Contains(out, `"position": 0`) {
		t.Fatalf("as of 2000: %v\n%s", err, out)
	}
	// a running server holds the lock
	withEmbedded(t, dir, func(*embedded.Store) {
		if _, err := runCLI(t, "replay", "--data-dir", dir, "--as-of", head); err == nil || !strings.Contains(err.Error(), "stop the server") {
			t.Fatalf("locked: err = %v", err)
		}
	})
}
