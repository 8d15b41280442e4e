package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3.1 document. openapi_test.go checks it
// against the route table and regenerates it with -update.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return openAPI }

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, err := w.Write(openAPI)
	return err
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler().ServeHTTP(w, r)
	return nil
}
