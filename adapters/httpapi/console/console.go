// Package console is Ledgerline's web console for compliance staff, auditors
// and customers: a static single-page application (HTML, CSS and plain
// JavaScript, embedded in the binary, no build step and nothing loaded from
// another origin) that calls the JSON API under /v1 with the operator token
// the user types in.
//
// It must never add an API of its own or hold data: everything it shows comes
// from /v1 with the user's token, so the API's roles decide what each user
// sees, and the console only hides what a role may not use. It must never load
// scripts, styles or fonts from another origin.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// csp allows only the console's own files. Inline styles are allowed so that a
// certificate's HTML rendering (shown in a sandboxed frame that inherits this
// policy) keeps its layout; scripts stay 'self' only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"connect-src 'self'; frame-src 'self' blob:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Files is the embedded file tree (index.html, app.js, app.css), for tests.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Handler serves the console's files under Prefix. Mount it for GET (HEAD
// follows); the console keeps working when the API is reached through a
// reverse proxy at the same origin.
func Handler() http.Handler {
	files := http.StripPrefix(Prefix, http.FileServerFS(Files()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The files change with the binary: revalidate rather than cache stale code.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
