package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Body size limits.
const (
	MaxBody      = 1 << 20 // 1 MiB for ordinary requests
	MaxBatchBody = 8 << 20 // 8 MiB for batches
)

// maxJSONDepth bounds how deeply a request body may nest: the same limit
// encoding/json applies, enforced by the pre-decode scan too.
const maxJSONDepth = 10000

// decodeJSON reads exactly one JSON value into v: the content type must be
// JSON (415 otherwise), unknown fields are refused, the size is bounded by the
// route's limit (set by the router), and trailing data is an error. The body
// must be valid UTF-8 (encoding/json would silently replace bad bytes with
// U+FFFD) and no object may hold the same member twice (encoding/json keeps
// the last one, so a request could be judged on a value its sender did not
// mean). Problems name the field and never echo what was sent; nothing is
// decoded into v unless the whole body passes these checks.
func decodeJSON(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "unsupported media type",
			"send the body as application/json")
	}
	if r.Body == nil {
		return fieldProblem(http.StatusBadRequest, "", "required", "a JSON body is required")
	}
	// The router bounds the body (http.MaxBytesReader), so reading it whole
	// is bounded too.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fieldProblem(http.StatusBadRequest, "", "json_syntax", "the body could not be read")
	}
	if err := scanJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldProblem(http.StatusBadRequest, "", "single_value", "the body must hold exactly one JSON value")
	}
	return nil
}

// scanFrame is one open object or array of the scan.
type scanFrame struct {
	obj       bool
	expectKey bool                // obj: the next string is a member name
	key       string              // obj: the current member's name
	idx       int                 // array: the current element's index
	keys      map[string]struct{} // obj: the (case-folded) names seen so far
}

// scanJSON checks what encoding/json lets through: invalid UTF-8 anywhere in
// the body (rule "utf8") and an object member given twice at any depth (rule
// "duplicate_field"; names are compared case-insensitively, as encoding/json
// matches them to struct fields). It walks the first JSON value's tokens once
// (O(n) in the body, whose size the router bounds) and refuses nesting deeper
// than maxJSONDepth. Syntax errors are left to the decoder that follows, which
// reports them as before.
func scanJSON(body []byte) error {
	bad := invalidUTF8At(body)
	if bad < 0 && !bytes.Contains(body, []byte{'"'}) {
		return nil // no strings, hence no members and no text to check
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are not parsed here
	var stack []*scanFrame
	started := false
	for !started || len(stack) > 0 {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			break // the decoder reports syntax errors and EOF
		}
		started = true
		var top *scanFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		_, isStr := tok.(string)
		isKey := isStr && top != nil && top.obj && top.expectKey
		if bad >= 0 && int64(bad) >= before && int64(bad) < dec.InputOffset() {
			field := scanPath(stack, !isKey)
			if !isStr {
				field = "" // the bad bytes are outside a string: not JSON either
			}
			return fieldProblem(http.StatusBadRequest, field, "utf8", "must be valid UTF-8 text")
		}
		if isKey {
			name, _ := tok.(string)
			k := foldKey(name)
			if _, dup := top.keys[k]; dup {
				top.key = name
				return fieldProblem(http.StatusBadRequest, scanPath(stack, true), "duplicate_field",
					"is given more than once; send each field once")
			}
			if top.keys == nil {
				top.keys = make(map[string]struct{}, 8)
			}
			top.keys[k] = struct{}{}
			top.key, top.expectKey = name, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return fieldProblem(http.StatusBadRequest, "", "max_depth",
					"the body nests deeper than "+strconv.Itoa(maxJSONDepth)+" levels")
			}
			stack = append(stack, &scanFrame{obj: tok == json.Delim('{'), expectKey: true})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// a value (scalar or closed container) is complete
		if len(stack) > 0 {
			if p := stack[len(stack)-1]; p.obj {
				p.expectKey = true
			} else {
				p.idx++
			}
		}
	}
	if bad >= 0 {
		// outside the first value (trailing data) or in a malformed body
		return fieldProblem(http.StatusBadRequest, "", "utf8", "the body must be valid UTF-8 text")
	}
	return nil
}

// invalidUTF8At is the offset of the first byte that is not valid UTF-8, or -1.
func invalidUTF8At(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// scanPath names the current position in the style of validation errors
// ("records[3].cost_micros"); withKey includes the innermost member's name.
// A name that could itself be data is replaced with "(unknown)".
func scanPath(stack []*scanFrame, withKey bool) string {
	var sb strings.Builder
	for i, f := range stack {
		last := i == len(stack)-1
		switch {
		case f.obj && (!last || withKey):
			if !validFieldName(f.key) {
				return "(unknown)"
			}
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(f.key)
		case !f.obj && (!last || withKey):
			sb.WriteString("[" + strconv.Itoa(f.idx) + "]")
		}
		if sb.Len() > 256 {
			return "(unknown)"
		}
	}
	return sb.String()
}

// foldKey maps a member name to a key equal for names encoding/json treats as
// the same field (bytes.EqualFold: simple Unicode case folding).
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var sb strings.Builder
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		sb.WriteRune(m)
	}
	return sb.String()
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
