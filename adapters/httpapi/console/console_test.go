package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ledgerline/ledgerline/adapters/httpapi/console"
)

// TestServesFiles: the page and its assets are served under /console/ with
// a policy that allows only the console's own scripts.
func TestServesFiles(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET "+console.Prefix, console.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, ctype := range map[string]string{"/console/": "text/html", "/console/app.js": "javascript", "/console/app.css": "text/css"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("%s: %d %q (%d bytes)", path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	res, err := http.Get(srv.URL + "/console/missing.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("missing file: %d", res.StatusCode)
	}
}

// TestNothingFromElsewhere: no file loads anything from another origin (no
// CDN), and the script never writes HTML from strings (data goes in as text).
func TestNothingFromElsewhere(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(console.Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(console.Files(), path)
		if err != nil {
			return err
		}
		for _, m := range external.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" { // the SVG namespace name, not a fetch
				t.Errorf("%s refers to %s", path, m)
			}
		}
		if strings.HasSuffix(path, ".js") {
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
				if strings.Contains(string(b), bad) {
					t.Errorf("%s uses %s", path, bad)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
