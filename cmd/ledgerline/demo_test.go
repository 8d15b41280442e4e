package main

import (
	"context"
	"regexp"
	"testing"

	"github.com/ledgerline/ledgerline/adapters/keyring"
)

// seedDemo runs `ledgerline demo` with small counts on dir and returns its
// output.
func seedDemo(t *testing.T, dir string, accounts, usage string) string {
	t.Helper()
	out, err := runCLI(t, "demo", "--data-dir", dir, "--accounts", accounts, "--usage", usage, "--quiet")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	return out
}

func TestDemoEmbedded(t *testing.T) {
	t.Setenv(envDatabaseURL, "")
	t.Setenv(keyring.EnvPath, "")
	dir := t.TempDir()
	out := seedDemo(t, dir, "20", "500")
	if !regexp.MustCompile(`usage records +500 recorded, 0 duplicates, 0 rejected`).MatchString(out) {
		t.Fatalf("summary:\n%s", out)
	}

	counts := func() *modelCounts {
		t.Helper()
		home := dir
		b, err := openBackend(context.Background(), storageFlags{dataDir: &home, databaseURL: new(string), keyring: new(string)})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		c, err := demoCounts(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := counts()
	checks := []struct {
		name      string
		got, want int64
	}{
		{"accounts", int64(c.Accounts), 20},
		{"erased accounts", int64(c.AccountsByStatus["erased"]), 1},
		{"usage requests", c.Usage.Requests, 500},
		{"new-user credits", int64(c.TxByKind["credit"]), 20},
		{"disputes", int64(c.Disputes), 1},
		{"active legal holds", int64(c.ActiveHolds), 1},
		{"access requests", int64(c.PrivacyRequests["access/received"]), 1},
		{"completed erasures", int64(c.PrivacyRequests["erasure/completed"]), 1},
		{"erasures deferred by the hold", int64(c.PrivacyRequests["erasure/deferred"]), 1},
	}
	for _, k := range checks {
		if k.got != k.want {
			t.Errorf("%s = %d, want %d", k.name, k.got, k.want)
		}
	}
	if c.TxByKind["payment"] == 0 || c.TxByKind["refund"] == 0 {
		t.Errorf("transactions by kind = %v, want payments and a refund", c.TxByKind)
	}
	if len(c.ByJurisdiction) < 2 || c.Usage.InputTokens == 0 || c.Usage.CostMicros == 0 {
		t.Errorf("counts look unrealistic: %+v", c)
	}

	// re-runnable: a second run adds new accounts and usage
	seedDemo(t, dir, "20", "500")
	c = counts()
	if c.Accounts != 40 || c.Usage.Requests != 1000 || c.TxByKind["credit"] != 40 {
		t.Fatalf("after a second run: %d accounts, %d usage records, %d credits; want 40, 1000, 40",
			c.Accounts, c.Usage.Requests, c.TxByKind["credit"])
	}
}

func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"ErrTooFewAccounts", []string{"--accounts", "3"}},
		{"ErrNegativeUsage", []string{"--usage", "-1"}},
		{"ErrArgument", []string{"extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := runCLI(t, append([]string{"demo", "--data-dir", t.TempDir()}, tc.args...)...); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}
