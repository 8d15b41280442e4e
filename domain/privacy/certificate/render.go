package certificate

import (
	"bytes"
	"html/template"
	"time"
)

// RenderHTML returns a self-contained, human-readable HTML page for c (no
// scripts, no external resources; every value escaped). The page is a copy for
// reading: the signed JSON file stays the proof, and the page says how to
// check it.
func RenderHTML(c Certificate) []byte {
	var buf bytes.Buffer
	if err := page.Execute(&buf, view{C: c, Late: c.Request.CompletedAt.After(c.Request.DueAt)}); err != nil {
		// Only a bug in the template gets here; still return a page.
		buf.Reset()
		_ = failPage.Execute(&buf, err.Error())
	}
	return buf.Bytes()
}

type view struct {
	C    Certificate
	Late bool
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2 January 2006, 15:04:05 UTC")
	},
	"checkLabel": func(name string) string {
		switch name {
		case CheckEventsUndecryptable:
			return "Every stored event about the person fails to decrypt"
		case CheckReadModelsClean:
			return "No read model (screen, report or API view) returns the person's data"
		case CheckPlaintextScan:
			return "A scan of the stores for the person's data, as it was before erasure, finds nothing"
		}
		return name
	},
	"methodLabel": func(m Method) string {
		switch m {
		case CryptoShredding:
			return "Crypto-shredding: the person's encryption key was destroyed, so the encrypted data can never be read again"
		case Deletion:
			return "Deletion: the records were removed"
		}
		return m.String()
	},
	"reasonLabel": func(r Reason) string {
		switch r {
		case TaxRecords:
			return "Tax records (kept without personal data)"
		case FraudPrevention:
			return "Fraud prevention (a keyed hash of the email address, not the address itself)"
		case LegalHold:
			return "Legal hold"
		}
		return r.String()
	},
}

var page = template.Must(template.New("certificate").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Certificate of erasure {{.C.ID}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.5}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #eee}
th{width:16rem;font-weight:600}thead th{width:auto;background:#f4f4f4}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
.ok{color:#0a6b2b;font-weight:600}.warn{background:#fff4d6;border:1px solid #e5c56b;padding:.6rem .8rem}
.note{background:#eef3fb;border:1px solid #b9cbe8;padding:.6rem .8rem}.muted{color:#555}
</style>
</head>
<body>
<h1>Certificate of erasure</h1>
<p class="muted">Proof of deletion of personal data · certificate <code>{{.C.ID}}</code> · issued {{when .C.IssuedAt}}</p>

<p>At the request of a data subject (identified here only by the pseudonym <code>{{.C.SubjectPseudonym}}</code>),
their personal data was erased on {{when .C.Request.CompletedAt}} under <strong>{{.C.LegalBasis}}</strong>.
The checks listed below were run after the erasure and all passed.</p>
{{if .Late}}<p class="warn">The erasure was completed after the legal deadline of {{when .C.Request.DueAt}}.</p>{{end}}

<h2>The request</h2>
<table>
<tr><th>Request</th><td><code>{{.C.Request.ID}}</code></td></tr>
<tr><th>Received through</th><td>{{.C.Request.Channel}}</td></tr>
<tr><th>Received</th><td>{{when .C.Request.ReceivedAt}}</td></tr>
<tr><th>Legal deadline</th><td>{{when .C.Request.DueAt}}</td></tr>
<tr><th>Completed</th><td>{{when .C.Request.CompletedAt}}</td></tr>
<tr><th>Legal basis</th><td>{{.C.LegalBasis}}</td></tr>
</table>

<h2>What was erased</h2>
<table>
<thead><tr><th>Data</th><th>Where</th><th>How</th></tr></thead>
{{range .C.Erased}}<tr><td>{{.Category}}</td><td>{{.Store}}</td><td>{{methodLabel .Method}}{{if .Detail}}<br><span class="muted">{{.Detail}}</span>{{end}}</td></tr>
{{end}}</table>

<h2>The encryption key</h2>
<table>
<tr><th>Key</th><td><code>{{.C.Key.KeyID}}</code></td></tr>
<tr><th>Destroyed</th><td>{{when .C.Key.DestroyedAt}}</td></tr>
<tr><th>Backups and old copies unreadable {{if .C.Key.KEKRetirementScheduled}}from (scheduled){{else}}since{{end}}</th>
<td>{{when .C.Key.KEKRetiredAt}} <span class="muted">(retirement of key-encryption epoch {{.C.Key.KEKEpoch}})</span></td></tr>
</table>

<h2>What was kept, and why</h2>
{{if .C.Retained}}<table>
<thead><tr><th>Data</th><th>Reason</th><th>Basis</th><th>Review</th></tr></thead>
{{range .C.Retained}}<tr><td>{{.Category}}</td><td>{{reasonLabel .Reason}}{{if .Reference}}<br><span class="muted">reference {{.Reference}}</span>{{end}}</td><td>{{.Basis}}</td><td>{{if .ReviewAt.IsZero}}—{{else}}{{when .ReviewAt}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>Nothing was kept.</p>{{end}}

<h2>Checks performed after erasure</h2>
<table>
<thead><tr><th>Check</th><th>Result</th><th>Detail</th></tr></thead>
{{range .C.Checks}}<tr><td>{{checkLabel .Name}}</td><td class="ok">{{.Result}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>

<h2>Record keeping</h2>
<table>
<tr><th>Audit log position at completion</th><td>{{.C.ChainHead.Position}}</td></tr>
<tr><th>Audit log hash at completion</th><td><code>{{.C.ChainHead.Hash}}</code></td></tr>
<tr><th>Operator</th><td>{{.C.Operator}}</td></tr>
<tr><th>Software</th><td>Ledgerline {{.C.SoftwareVersion}}</td></tr>
<tr><th>Signature</th><td>{{.C.Signer.Algorithm}}, key <code>{{.C.Signer.PublicKeyID}}</code></td></tr>
</table>

<p class="note">This page is a readable copy. The signed certificate file is the proof: anyone can check it offline with
the issuer's public key, e.g. <code>ledgerline certificate verify certificate.json --public-key ledgerline-ed25519:…</code>.
Any change to the file, even of one character, makes the check fail.</p>
</body>
</html>
`))

var failPage = template.Must(template.New("fail").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Certificate</title></head>
<body><p>The certificate could not be shown: {{.}}</p></body></html>
`))
