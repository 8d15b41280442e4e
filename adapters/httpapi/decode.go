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
		p := jsonProblem(err)
		if fp, ok := p.(*Problem); ok && len(fp.Errors) == 1 && fp.Errors[0].Rule == "format" {
			if named := formatProblem(body, v); named != nil {
				return named
			}
		}
		return p
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldProblem(http.StatusBadRequest, "", "single_value", "the body must hold exactly one JSON value")
	}
	return nil
}

// scanFrame is one open object or array of the scan.
type scanFrame struct {
	obj       bool
	expectKey bool     // obj: the next string is a member name
	key       []byte   // obj: the current member's name (unescaped)
	idx       int      // array: the current element's index
	keys      [][]byte // obj: the names seen so far (compared case-insensitively)
	index     map[string]struct{}
}

// manyKeys is where an object's name check switches from a linear scan to a
// map, so a hostile object with a huge number of members stays O(n).
const manyKeys = 32

// seen records name in f and reports whether an equal name (as encoding/json
// matches names to fields: simple Unicode case folding) was already there.
func (f *scanFrame) seen(name []byte) bool {
	if f.index != nil {
		k := foldKey(string(name))
		if _, dup := f.index[k]; dup {
			return true
		}
		f.index[k] = struct{}{}
		return false
	}
	for _, k := range f.keys {
		if bytes.EqualFold(k, name) {
			return true
		}
	}
	f.keys = append(f.keys, name)
	if len(f.keys) > manyKeys {
		f.index = make(map[string]struct{}, 2*manyKeys)
		for _, k := range f.keys {
			f.index[foldKey(string(k))] = struct{}{}
		}
	}
	return false
}

// scanJSON checks what encoding/json lets through: invalid UTF-8 anywhere in
// the body (rule "utf8") and an object member given twice at any depth (rule
// "duplicate_field"; names are compared case-insensitively, as encoding/json
// matches them to struct fields). It is one hand-written pass over the bytes
// of the first JSON value (the token API of encoding/json cost a fifth of
// the CPU of usage ingestion), refuses nesting deeper than maxJSONDepth, and
// stops at anything malformed: syntax errors are left to the decoder that
// follows, which reports them.
func scanJSON(body []byte) error {
	bad := invalidUTF8At(body)
	if bad < 0 && bytes.IndexByte(body, '"') < 0 {
		return nil // no strings, hence no members and no text to check
	}
	var stack []scanFrame
	badIn := func(from, to int) bool { return bad >= from && bad < to }
	started := false
	i := 0
	for i < len(body) && (!started || len(stack) > 0) {
		c := body[i]
		switch c {
		case ' ', '\t', '\n', '\r', ':':
			i++
			continue
		case ',':
			if n := len(stack); n > 0 {
				if stack[n-1].obj {
					stack[n-1].expectKey = true
				} else {
					stack[n-1].idx++
				}
			}
			i++
			continue
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return fieldProblem(http.StatusBadRequest, "", "max_depth",
					"the body nests deeper than "+strconv.Itoa(maxJSONDepth)+" levels")
			}
			started = true
			stack = pushFrame(stack, c == '{')
			i++
			continue
		case '}', ']':
			if len(stack) == 0 {
				return nil // malformed: the decoder says so
			}
			stack = stack[:len(stack)-1]
			i++
			continue
		case '"':
			started = true
			end, escaped, ok := stringEnd(body, i)
			if !ok {
				return nil // unterminated: the decoder says so
			}
			n := len(stack)
			isKey := n > 0 && stack[n-1].obj && stack[n-1].expectKey
			if badIn(i, end) {
				return fieldProblem(http.StatusBadRequest, scanPath(stack, !isKey), "utf8", "must be valid UTF-8 text")
			}
			if isKey {
				name := body[i+1 : end-1]
				if escaped {
					var s string
					if json.Unmarshal(body[i:end], &s) != nil {
						return nil
					}
					name = []byte(s)
				}
				top := &stack[n-1]
				top.key, top.expectKey = name, false
				if top.seen(name) {
					return fieldProblem(http.StatusBadRequest, scanPath(stack, true), "duplicate_field",
						"is given more than once; send each field once")
				}
			}
			i = end
			continue
		}
		// a scalar (number, true, false, null) or garbage: up to the next delimiter
		started = true
		j := i
		for j < len(body) && !isDelim(body[j]) {
			j++
		}
		if badIn(i, j) {
			return fieldProblem(http.StatusBadRequest, "", "utf8", "must be valid UTF-8 text")
		}
		if j == i {
			return nil
		}
		i = j
	}
	if bad >= 0 {
		// outside the first value (trailing data) or in a malformed body
		return fieldProblem(http.StatusBadRequest, "", "utf8", "the body must be valid UTF-8 text")
	}
	return nil
}

// pushFrame opens an object or array, reusing the slot's key storage.
func pushFrame(stack []scanFrame, obj bool) []scanFrame {
	if len(stack) < cap(stack) {
		stack = stack[:len(stack)+1]
		f := &stack[len(stack)-1]
		*f = scanFrame{obj: obj, expectKey: obj, keys: f.keys[:0]}
		return stack
	}
	return append(stack, scanFrame{obj: obj, expectKey: obj})
}

// stringEnd returns the offset just past the closing quote of the string
// starting at body[start] == '"', and whether it holds escapes.
func stringEnd(body []byte, start int) (end int, escaped, ok bool) {
	for i := start + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			escaped = true
			i++ // skip the escaped byte (\u takes 4 more, all ASCII, harmless)
		case '"':
			return i + 1, escaped, true
		}
	}
	return 0, false, false
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ':', '{', '[', '"', ' ', '\t', '\n', '\r':
		return true
	}
	return false
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
func scanPath(stack []scanFrame, withKey bool) string {
	var sb strings.Builder
	for i, f := range stack {
		last := i == len(stack)-1
		switch {
		case f.obj && (!last || withKey):
			if !validFieldName(string(f.key)) {
				return "(unknown)"
			}
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.Write(f.key)
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
