package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Body size limits.
const (
	MaxBody      = 1 << 20 // 1 MiB for ordinary requests
	MaxBatchBody = 8 << 20 // 8 MiB for batches
)

// decodeJSON reads exactly one JSON value into v: the content type must be
// JSON (415 otherwise), unknown fields are refused, the size is bounded by the
// route's limit (set by the router), and trailing data is an error. Problems
// name the field and never echo what was sent.
func decodeJSON(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "unsupported media type",
			"send the body as application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fieldProblem(http.StatusBadRequest, "", "single_value", "the body must hold exactly one JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return fieldProblem(http.StatusBadRequest, "", "required", "a JSON body is required")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return fieldProblem(http.StatusBadRequest, "", "json_syntax", "the body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return fieldProblem(http.StatusBadRequest, field, "type", "must be of type "+jsonKind(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if !validFieldName(name) {
			name = "(unknown)"
		}
		return fieldProblem(http.StatusBadRequest, name, "unknown_field", "is not a field of this request")
	}
	// time.Time, uuid.UUID and similar report their own parse errors
	return fieldProblem(http.StatusBadRequest, "", "format", "a field has an invalid format (UUIDs, RFC 3339 times)")
}

// validFieldName keeps an unknown field's name out of the response unless it
// looks like an identifier (a name could itself be data).
func validFieldName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func jsonKind(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return k
}

// pathUUID parses the path parameter name as a UUID.
func pathUUID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue(name))
	if err != nil {
		return uuid.Nil, fieldProblem(http.StatusBadRequest, name, "uuid", "must be a UUID")
	}
	return id, nil
}

// queryTime parses an optional RFC 3339 query parameter.
func queryTime(r *http.Request, name string) (time.Time, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, fieldProblem(http.StatusBadRequest, name, "rfc3339", "must be an RFC 3339 time")
	}
	return t, true, nil
}

// queryInt parses an optional integer query parameter within [min, max].
func queryInt(r *http.Request, name string, def, min, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, fieldProblem(http.StatusBadRequest, name, "range",
			"must be an integer from "+strconv.FormatInt(min, 10)+" to "+strconv.FormatInt(max, 10))
	}
	return n, nil
}
