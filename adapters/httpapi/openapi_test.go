package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite openapi.json from the route table")

func generated(t *testing.T) []byte {
	t.Helper()
	doc := buildOpenAPI((&Server{}).routeTable())
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestOpenAPIUpToDate fails when openapi.json is not what the route table
// and the request/response types generate.
func TestOpenAPIUpToDate(t *testing.T) {
	want := generated(t)
	if *update {
		if err := os.WriteFile("openapi.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(OpenAPI(), want) {
		t.Fatal("openapi.json is stale: run `go test ./adapters/httpapi -run TestOpenAPIUpToDate -update` and commit it")
	}
}

// TestOpenAPIMatchesRoutes walks the route table: every served route is
// documented and every documented route is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q, want 3.1.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, p := range (&Server{}).routePatterns() {
		served[p] = true
	}
	var missing, extra []string
	for p := range served {
		if !documented[p] {
			missing = append(missing, p)
		}
	}
	for p := range documented {
		if !served[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("served but not in openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in openapi.json but not served: %v", extra)
	}
}
