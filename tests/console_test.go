package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/commands"
)

// The web console's browser test: the real binary, headless Chromium driven
// with chromedp, data seeded over the API (and, for dates in the past, by the
// command handlers with a clock set back on the stopped server's store, as
// the checklist tests do), screenshots under tests/artifacts/console/.
//
// Without Chromium it skips, unless CI is set: then it fails (CI installs the
// Debian package `chromium` through scripts/services.sh).
// LEDGERLINE_UPDATE_SCREENSHOTS=1 also copies the main screenshots to
// docs/screenshots/ for the README.

// consoleChromium finds the browser or skips (fails in CI).
func consoleChromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("LEDGERLINE_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s is missing: install the Debian package chromium (scripts/services.sh does)", path)
		}
		t.Skipf("console browser test skipped: %s not found (apt-get install chromium, or set LEDGERLINE_CHROMIUM)", path)
	}
	return path
}

// consoleSeed is what the test put in the log.
type consoleSeed struct {
	ada, bram, chen        string // account ids
	adaKey                 string
	overdue, amber, green  string // request ids: C's erasure (received 40 days ago), A's access (25 days ago), B's erasure (2 days ago)
	hold                   string
	adaRequests, adaTokens int64
	adaCost                int64
	marketingGranted       time.Time
	marketingWithdrawn     time.Time
	usageDays              int
	models                 []string
	providers              []string
}

// seedConsole records three people's history over the last weeks with the
// server stopped (the command handlers with a clock set back: the API only
// records "now"), then starts the server again.
func seedConsole(t *testing.T, s *ckServer) consoleSeed {
	t.Helper()
	s.stop(t)
	o := s.offline(t)
	defer o.close(t)
	now := time.Now().UTC()
	clock := now
	svc := o.service(t, func() time.Time { return clock })
	ctx := context.Background()
	at := func(daysAgo int, hour int) time.Time {
		d := now.AddDate(0, 0, -daysAgo)
		return time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, time.UTC)
	}
	run := func(when time.Time, cmd any) commands.Result {
		t.Helper()
		clock = when
		// who did it, as the API would record it
		role := "gateway"
		switch cmd.(type) {
		case commands.GiveConsent, commands.WithdrawConsent, commands.IssueAPIKey:
			role = "customer"
		case commands.ReceivePrivacyRequest, commands.PlaceLegalHold:
			role = "compliance"
		}
		res, err := svc.Dispatch(commands.WithActor(ctx, commands.Actor{ID: "seed:console-test", Role: role}), cmd)
		if err != nil {
			t.Fatalf("seed %T: %v", cmd, err)
		}
		return res
	}
	sfx := ckSuffix()
	register := func(daysAgo int, email, name, jur, region string) (string, string) {
		res := run(at(daysAgo, 9), commands.RegisterAccount{Email: email, Name: name, AgeConfirmed: true, Region: region, Jurisdiction: jur, PolicyVersion: "2025-10-01"})
		id := res.Data.(commands.RegisterAccountResult).AccountID
		k := run(at(daysAgo, 10), commands.IssueAPIKey{AccountID: id, Name: "production", Scopes: []string{"inference"}})
		return id.String(), k.Data.(commands.IssueAPIKeyResult).KeyID.String()
	}
	var sd consoleSeed
	var bramKey, chenKey string
	sd.ada, sd.adaKey = register(34, "ada+"+sfx+"@example.org", "Ada Example", "EU", "DE")
	sd.bram, bramKey = register(31, "bram+"+sfx+"@example.org", "Bram Example", "US-CA", "US")
	sd.chen, chenKey = register(45, "chen+"+sfx+"@example.org", "Chen Example", "EU", "FR")
	id := uuid.MustParse

	pay := func(daysAgo int, acct, proc, ref string, amount int64) {
		run(at(daysAgo, 14), commands.RecordPayment{AccountID: id(acct), Processor: proc, ProcessorRef: ref + "_" + sfx, AmountMicros: amount, Currency: "USD"})
	}
	pay(28, sd.ada, "stripe", "pi_ada1", 20_000_000)
	pay(9, sd.ada, "stripe", "pi_ada2", 10_000_000)
	pay(25, sd.bram, "paypal", "pp_bram1", 50_000_000)
	run(at(12, 11), commands.RefundPayment{AccountID: id(sd.bram), Processor: "paypal", PaymentRef: "pp_bram1_" + sfx, RefundRef: "rf_bram1_" + sfx, AmountMicros: 5_000_000})
	pay(42, sd.chen, "stripe", "pi_chen1", 15_000_000)

	sd.marketingGranted, sd.marketingWithdrawn = at(20, 12), at(5, 12)
	run(sd.marketingGranted, commands.GiveConsent{AccountID: id(sd.ada), Purpose: "marketing_email", Method: "settings_page", PolicyVersion: "2025-10-01"})
	run(at(15, 12), commands.GiveConsent{AccountID: id(sd.ada), Purpose: "analytics", Method: "cookie_banner", PolicyVersion: "2025-10-01"})
	run(sd.marketingWithdrawn, commands.WithdrawConsent{AccountID: id(sd.ada), Purpose: "marketing_email", Method: "settings_page", PolicyVersion: "2025-10-01"})

	// usage: Ada every day of the last 30 (three models), Bram on some days, Chen before the erasure
	type model struct {
		provider, name string
		in, out, cost  int64
	}
	models := []model{{"openai", "gpt-4o", 900, 300, 5200}, {"anthropic", "claude-sonnet-4", 1200, 400, 7800}, {"google", "gemini-2.5-pro", 700, 250, 3100}}
	for _, m := range models {
		sd.models = append(sd.models, m.name)
		sd.providers = append(sd.providers, m.provider)
	}
	var recs []commands.RecordUsage
	add := func(key string, daysAgo, n int, m model) {
		for i := 0; i < n; i++ {
			when := at(daysAgo, 8+i%12).Add(time.Duration(i) * time.Minute)
			if when.After(now) {
				when = now.Add(-time.Duration(i+1) * time.Second)
			}
			recs = append(recs, commands.RecordUsage{KeyID: id(key), RequestID: fmt.Sprintf("req-%d-%s-%d", daysAgo, m.name, i), Provider: m.provider, Model: m.name,
				InputTokens: m.in + int64(i*10), OutputTokens: m.out, CostMicros: m.cost, Status: "ok", LatencyMs: 300, OccurredAt: &when})
			if key == sd.adaKey {
				sd.adaRequests++
				sd.adaTokens += m.in + int64(i*10) + m.out
				sd.adaCost += m.cost
			}
		}
	}
	sd.usageDays = 30
	for d := 0; d < sd.usageDays; d++ {
		weekday := at(d, 12).Weekday()
		busy := 4 + (d*7)%5
		if weekday == time.Saturday || weekday == time.Sunday {
			busy = 1
		}
		add(sd.adaKey, d, busy, models[0])
		add(sd.adaKey, d, busy/2+1, models[1])
		if d%3 == 0 {
			add(sd.adaKey, d, 2, models[2])
		}
		if d%4 == 0 {
			add(bramKey, d, 3, models[1])
		}
	}
	for d := 41; d < 45; d++ {
		add(chenKey, d, 5, models[0])
	}
	for start := 0; start < len(recs); start += commands.MaxUsageBatch {
		run(now, commands.RecordUsageBatch{Records: recs[start:min(start+commands.MaxUsageBatch, len(recs))]})
	}

	req := func(when time.Time, subject, kind string) string {
		res := run(when, commands.ReceivePrivacyRequest{SubjectID: id(subject), Kind: kind, Channel: "email"})
		return res.Data.(commands.PrivacyRequestResult).RequestID.String()
	}
	sd.overdue = req(at(40, 10), sd.chen, "erasure") // GDPR: due a month later, ten days ago
	sd.amber = req(at(25, 10), sd.ada, "access")     // GDPR: due in about five days
	sd.green = req(at(2, 10), sd.bram, "erasure")    // CCPA: 45 days
	hold := run(at(3, 16), commands.PlaceLegalHold{SubjectID: id(sd.ada), Categories: []string{"payments", "tax_records"}, Basis: "tax_retention",
		Reference: "tax-2025", ReviewAt: at(-365, 0)})
	sd.hold = hold.Data.(commands.HoldResult).HoldID.String()
	o.close(t)
	s.start(t)
	return sd
}

// consoleBrowser starts headless Chromium with a fresh profile.
func consoleBrowser(t *testing.T, chromium, downloads string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("chromium download directory: %v", err)
	}
	return ctx
}

func TestConsole(t *testing.T) {
	chromium := consoleChromium(t)
	s := ckStart(t, ckEmbedded)
	st := s.staff(t)
	sd := seedConsole(t, s)
	certificates := s.hasRoute(t, "GET", regexp.MustCompile(`^/v1/certificates/\{[a-z_]+\}$`))
	if !certificates {
		t.Log("note: this server has no GET /v1/certificates/{id}: the certificate steps are not checked")
	}
	cust := s.token(t, "customer", sd.ada)

	art := filepath.Join("artifacts", "console")
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()
	ctx := consoleBrowser(t, chromium, downloads)
	console := s.url + "/console/"
	shot := func(name string, full bool) {
		t.Helper()
		if full {
			// a viewport as tall as the page, so that frames (the certificate's
			// rendering) paint too, which a beyond-the-viewport capture misses
			height, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`Math.max(600, Math.ceil(document.body.getBoundingClientRect().height) + 16)`))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(1360, height), chromedp.Sleep(300*time.Millisecond)); err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
		} else if err := chromedp.Do(ctx, chromedp.EmulateViewport(1360, 1100), chromedp.Sleep(100*time.Millisecond)); err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(art, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fail := func(what string, err error) {
		t.Helper()
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('main').innerText`))
		shot("failed-"+strings.ReplaceAll(what, " ", "-"), true)
		t.Fatalf("%s: %v\npage text: %s", what, err, body)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			fail(what, err)
		}
	}
	page := func(p string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.CSS(`body[data-page="` + p + `"]`))
	}
	eval := func(what, js string, out any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js))
		if err == nil {
			err = json.Unmarshal(raw, out)
		}
		if err != nil {
			fail(what, err)
		}
	}
	login := func(token, home string) {
		t.Helper()
		run("login", chromedp.Navigate(console), chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`), chromedp.Reload(),
			chromedp.WaitVisible(chromedp.ID(`token`)), chromedp.SendKeys(chromedp.ID(`token`), token),
			chromedp.Click(chromedp.ID(`login-submit`)), page(home))
	}
	gotoPage := func(hash, p string) {
		t.Helper()
		run("open "+hash, chromedp.Navigate(console+hash), page(p))
	}

	// the static console itself: served with a strict policy, no token needed
	r := s.do(t, "", "GET", "/console/", nil, 200)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("console CSP %q", csp)
	}

	// a wrong token is refused on the login page
	run("bad login", chromedp.Navigate(console), chromedp.WaitVisible(chromedp.ID(`token`)),
		chromedp.SendKeys(chromedp.ID(`token`), "llt_not_a_real_token"), chromedp.Click(chromedp.ID(`login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-error.error`)))

	// ---- compliance: the queue, traffic lights and due dates ----
	login(st.comp.Secret, "#/requests")
	var role string
	eval("role", `document.querySelector('.who .role').dataset.role`, &role)
	if role != "compliance" {
		t.Fatalf("signed in as %q", role)
	}
	lights := map[string]string{}
	eval("lights", `Object.fromEntries([...document.querySelectorAll('#queue tr[data-request]')].map(r => [r.dataset.request, r.dataset.light]))`, &lights)
	for id, want := range map[string]string{sd.overdue: "red", sd.amber: "amber", sd.green: "green"} {
		if lights[id] != want {
			t.Errorf("queue light of %s = %q, want %q (all: %v)", id, lights[id], want, lights)
		}
	}
	var overdue ckRequest = s.request(t, st.aud.Secret, sd.overdue, "")
	if !overdue.Overdue {
		t.Errorf("the request received 40 days ago is not overdue: %s", overdue.Raw)
	}
	var dueText string
	eval("due text", `document.querySelector('tr[data-request="`+sd.overdue+`"] td.due').textContent`, &dueText)
	if !strings.HasPrefix(dueText, overdue.DueAt.UTC().Format("2006-01-02")) || !strings.Contains(dueText, "overdue") {
		t.Errorf("queue due column %q, want %s and 'overdue'", dueText, overdue.DueAt.UTC().Format("2006-01-02"))
	}
	// the rule itself, at its edges
	var rule []string
	eval("light rule", `(() => { const L = window.LedgerlineConsole.light, now = new Date('2026-03-10T12:00:00Z');
		const r = (due, extra) => Object.assign({status: 'received', due_at: due}, extra || {});
		return [L(r('2026-03-09T12:00:00Z'), now), L(r('2026-03-17T11:00:00Z'), now), L(r('2026-03-17T13:00:00Z'), now),
			L(r('2026-04-10T12:00:00Z', {status: 'completed'}), now), L(r('2026-04-10T12:00:00Z', {ack_due_at: '2026-03-12T00:00:00Z'}), now),
			L(r('2026-04-10T12:00:00Z', {overdue: true}), now)]; })()`, &rule)
	if strings.Join(rule, ",") != "red,amber,green,grey,amber,red" {
		t.Errorf("traffic light rule: %v", rule)
	}
	var canRecord bool
	eval("record form", `!!document.getElementById('new-request')`, &canRecord)
	if !canRecord {
		t.Error("compliance does not see the form to record a request")
	}
	shot("queue", true)

	// ---- compliance: account page, legal hold, one-click access export ----
	gotoPage("#/accounts/"+sd.ada, "#/accounts/:id")
	var holdsText string
	eval("holds", `document.getElementById('holds-table').textContent`, &holdsText)
	if !strings.Contains(holdsText, "tax_retention") || !strings.Contains(holdsText, "active") {
		t.Errorf("holds table: %q", holdsText)
	}
	run("export", chromedp.SendKeys(chromedp.ID(`export-reason`), "ticket DSR-1042"), chromedp.Click(chromedp.ID(`export`)))
	exportFile := filepath.Join(downloads, "ledgerline-access-export-"+sd.ada+".json")
	var export struct {
		Format    string `json:"format"`
		SubjectID string `json:"subject_id"`
		Profile   struct {
			Email string `json:"email"`
		} `json:"profile"`
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b, err := os.ReadFile(exportFile)
		if err == nil && json.Unmarshal(b, &export) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access export downloaded to %s", exportFile)
		}
	}
	if export.Format != "ledgerline.access-export/v1" || export.SubjectID != sd.ada || !strings.HasPrefix(export.Profile.Email, "ada+") {
		t.Errorf("downloaded export: %+v", export)
	}
	reads := s.auditStream(t, st.aud, "dataaccess-"+sd.ada)
	if len(reads) == 0 {
		t.Error("the export read was not recorded")
	}
	shot("account", true)

	// ---- compliance: the overdue erasure, run to its certificate ----
	gotoPage("#/requests", "#/requests")
	run("open request", chromedp.Click(chromedp.CSS(`tr[data-request="`+sd.overdue+`"]`)), page("#/requests/:id"))
	shot("request-before", true)
	run("erase", chromedp.Click(chromedp.ID(`run-erasure`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-step="Key shredded"][data-done="true"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-step="Read models caught up"][data-done="true"]`)))
	if certificates {
		run("certificate", chromedp.WaitVisible(chromedp.ID(`cert-verdict`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-step="Certificate"][data-done="true"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-step="Verified"][data-done="true"]`)))
		var verdict string
		eval("verdict", `document.getElementById('cert-verdict').dataset.verdict`, &verdict)
		if verdict != "ok" {
			var text string
			eval("verdict text", `document.getElementById('cert-verdict').textContent`, &text)
			t.Errorf("certificate verdict %q: %s", verdict, text)
		}
		var frameText string
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const f = document.getElementById('cert-frame'); return f && f.srcdoc.length > 200 })()`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			fail("certificate frame", err)
		}
		eval("frame", `document.getElementById('cert-frame').srcdoc`, &frameText)
		if !strings.Contains(frameText, "<html") && !strings.Contains(frameText, "<!") {
			t.Errorf("certificate HTML rendering: %.200q", frameText)
		}
		// the downloaded certificate is the signed file, and verifies offline
		var certID string
		eval("certificate id", `document.querySelector('[data-step="Certificate"]') && (document.getElementById('cert-download') ? document.getElementById('cert-download').dataset.certificate : '')`, &certID)
		run("download certificate", chromedp.Click(chromedp.ID(`cert-download`)))
		certFile := filepath.Join(downloads, "deletion-certificate-"+certID+".json")
		var certBytes []byte
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if b, err := os.ReadFile(certFile); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
				certBytes = b
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no certificate downloaded to %s", certFile)
			}
		}
		if served := s.do(t, st.aud.Secret, "GET", "/v1/certificates/"+certID, nil, 200).body; string(served) != string(certBytes) {
			t.Error("the downloaded certificate differs from the served file")
		}
		pk := strings.TrimSpace(string(s.do(t, "", "GET", "/v1/certificates/public-key", nil, 200).body))
		if out, err := ckRun(t, s.bin, "certificate", "verify", certFile, "--public-key", pk); err != nil {
			t.Errorf("ledgerline certificate verify on the console's download: %v\n%s", err, out)
		}
	}
	done := s.request(t, st.aud.Secret, sd.overdue, "")
	if done.Status != "completed" || done.KeyShreddedAt == nil {
		t.Errorf("after the console's erasure the request is %s: %s", done.Status, done.Raw)
	}
	shot("erasure-certificate", true)
	run("sign out", chromedp.Click(chromedp.ID(`logout`)), chromedp.WaitVisible(chromedp.ID(`token`)))

	// ---- auditor: no actions; timeline, chain, as-of ----
	login(st.aud.Secret, "#/requests")
	var hidden bool
	eval("auditor queue", `!document.getElementById('new-request')`, &hidden)
	if !hidden {
		t.Error("an auditor sees the form to record a request")
	}
	gotoPage("#/requests/"+sd.amber, "#/requests/:id")
	eval("auditor request", `!document.getElementById('run-erasure') && !document.getElementById('ack') && !document.getElementById('export-form')`, &hidden)
	if !hidden {
		t.Error("an auditor sees request actions or the export")
	}
	gotoPage("#/accounts/"+sd.ada+"/timeline", "#/accounts/:id/timeline")
	var tl struct {
		ChainOK bool     `json:"chainOK"`
		Types   []string `json:"types"`
		Sealed  int      `json:"sealed"`
		Erased  int      `json:"erased"`
	}
	timelineJS := `({chainOK: document.getElementById('chain-status').dataset.ok === 'true',
		types: [...document.querySelectorAll('#timeline tr[data-type]')].map(r => r.dataset.type),
		sealed: document.querySelectorAll('#timeline [data-personal="sealed"]').length,
		erased: document.querySelectorAll('#timeline [data-personal="erased"]').length})`
	eval("timeline", timelineJS, &tl)
	if !tl.ChainOK {
		t.Error("chain verification not shown as intact")
	}
	for _, want := range []string{"account.registered", "apikey.issued", "billing.payment_succeeded", "consent.withdrawn", "privacy.request_received", "privacy.hold_placed", "operator.personal_data_read"} {
		if !containsStr(tl.Types, want) {
			t.Errorf("timeline of Ada has no %s (types: %v)", want, tl.Types)
		}
	}
	if tl.Sealed == 0 || tl.Erased != 0 {
		t.Errorf("Ada's timeline: %d sealed, %d erased; want sealed parts and none erased", tl.Sealed, tl.Erased)
	}
	shot("timeline", false)
	gotoPage("#/accounts/"+sd.chen+"/timeline", "#/accounts/:id/timeline")
	eval("erased timeline", timelineJS, &tl)
	if tl.Erased == 0 || tl.Sealed != 0 || !containsStr(tl.Types, "privacy.subject_key_shredded") {
		t.Errorf("Chen's timeline after erasure: %d erased, %d sealed, types %v", tl.Erased, tl.Sealed, tl.Types)
	}
	shot("timeline-erased", false)

	// as of a day when marketing email was granted, and today (withdrawn)
	mid := sd.marketingGranted.AddDate(0, 0, 2).Format("2006-01-02")
	gotoPage("#/accounts/"+sd.ada+"/asof?date="+mid, "#/accounts/:id/asof")
	var granted string
	eval("as-of consent", `(document.querySelector('#asof-consent tr[data-purpose="marketing_email"]') || {dataset: {}}).dataset.granted`, &granted)
	if granted != "true" {
		t.Errorf("as of %s marketing_email granted=%q, want true", mid, granted)
	}
	shot("asof", true)
	gotoPage("#/accounts/"+sd.ada+"/asof", "#/accounts/:id/asof")
	eval("as-of consent today", `(document.querySelector('#asof-consent tr[data-purpose="marketing_email"]') || {dataset: {}}).dataset.granted`, &granted)
	if granted != "false" {
		t.Errorf("today marketing_email granted=%q, want false", granted)
	}
	var asofMicros string
	eval("as-of balance", `document.getElementById('asof-balance').dataset.micros`, &asofMicros)
	var bal struct {
		BalanceMicros int64 `json:"balance_micros"`
	}
	s.do(t, st.aud.Secret, "GET", "/v1/accounts/"+sd.ada+"/balance", nil, 200).decode(t, &bal)
	if asofMicros != fmt.Sprint(bal.BalanceMicros) {
		t.Errorf("as-of balance today %s, API balance %d", asofMicros, bal.BalanceMicros)
	}
	run("sign out", chromedp.Click(chromedp.ID(`logout`)), chromedp.WaitVisible(chromedp.ID(`token`)))

	// ---- customer: own usage charts and balance history; no staff pages ----
	login(cust.Secret, "#/accounts/:id/usage")
	var charts struct {
		Days, Models, Providers, Balance int
		Requests                         string
		StaffNav                         bool
	}
	eval("charts", `({Days: document.querySelectorAll('[data-chart="usage by day"] rect.bar').length,
		Models: document.querySelectorAll('[data-chart="usage by model"] rect').length,
		Providers: document.querySelectorAll('[data-chart="usage by provider"] rect').length,
		Balance: document.querySelectorAll('[data-chart="balance history"] path.line').length,
		Requests: document.getElementById('usage-requests').firstChild.textContent,
		StaffNav: !!document.querySelector('#nav a[href="#/requests"], #nav a[href="#/chain"]')})`, &charts)
	if charts.Days != sd.usageDays || charts.Models != len(sd.models) || charts.Providers != len(sd.providers) || charts.Balance != 1 {
		t.Errorf("charts: %+v (want %d days, %d models, %d providers, a balance line)", charts, sd.usageDays, len(sd.models), len(sd.providers))
	}
	if charts.Requests != fmt.Sprintf("%d", sd.adaRequests) && charts.Requests != commaInt(sd.adaRequests) {
		t.Errorf("usage requests shown %q, seeded %d", charts.Requests, sd.adaRequests)
	}
	if charts.StaffNav {
		t.Error("a customer sees staff pages in the navigation")
	}
	shot("usage", true)
	run("tokens measure", chromedp.SetValue(chromedp.ID(`usage-metric`), "tokens"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('usage-metric').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="#/accounts/:id/usage"]`)))

	if os.Getenv("LEDGERLINE_UPDATE_SCREENSHOTS") != "" {
		dst := filepath.Join("..", "docs", "screenshots")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"queue", "account", "erasure-certificate", "timeline", "timeline-erased", "asof", "usage"} {
			b, err := os.ReadFile(filepath.Join(art, name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, "console-"+name+".png"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("copied screenshots to %s", dst)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// commaInt formats n as en-US does (1,234).
func commaInt(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
