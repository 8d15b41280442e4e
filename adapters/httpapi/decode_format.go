package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// formatProblem names the member whose value its own type refused to parse
// (a UUID, a time). encoding/json returns such an error as the type gave it,
// without saying where, so the body is walked again beside the request type
// until a value fails the same way. body has passed scanJSON: it is valid
// JSON with no repeated member. nil when no member can be blamed.
func formatProblem(body []byte, v any) *Problem {
	path, t, ok := findFormatError(body, reflect.TypeOf(v), "")
	if !ok {
		return nil
	}
	rule, msg := "format", "has an invalid format"
	switch t {
	case reflect.TypeFor[uuid.UUID]():
		rule, msg = "uuid", "must be a UUID"
	case reflect.TypeFor[time.Time]():
		rule, msg = "rfc3339", "must be an RFC 3339 date-time"
	}
	return fieldProblem(http.StatusBadRequest, path, rule, msg)
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
)

// findFormatError returns the path of the first value under raw (of type t)
// that its type's own unmarshaler refuses, and that type.
func findFormatError(raw []byte, t reflect.Type, path string) (string, reflect.Type, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return "", nil, false
	}
	if pt := reflect.PointerTo(t); pt.Implements(textUnmarshaler) || pt.Implements(jsonUnmarshaler) {
		err := json.Unmarshal(raw, reflect.New(t).Interface())
		var typ *json.UnmarshalTypeError
		if err == nil || errors.As(err, &typ) { // a type error names its field already
			return "", nil, false
		}
		return path, t, true
	}
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return "", nil, false
		}
		for _, f := range decodedMembers(t) {
			val, ok := members[f.name]
			if !ok { // encoding/json matches names case-insensitively too
				for k, v := range members {
					if strings.EqualFold(k, f.name) {
						val, ok = v, true
						break
					}
				}
			}
			if !ok {
				continue
			}
			if p, ft, bad := findFormatError(val, f.typ, joinPath(path, f.name)); bad {
				return p, ft, true
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "", nil, false // base64 bytes
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", nil, false
		}
		for i, it := range items {
			if p, ft, bad := findFormatError(it, t.Elem(), path+"["+strconv.Itoa(i)+"]"); bad {
				return p, ft, true
			}
		}
	case reflect.Map:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return "", nil, false
		}
		for _, v := range members { // a key is data: it never goes into the path
			if _, ft, bad := findFormatError(v, t.Elem(), joinPath(path, "(value)")); bad {
				return joinPath(path, "(value)"), ft, true
			}
		}
	}
	return "", nil, false
}

type jsonMember struct {
	name string
	typ  reflect.Type
}

// decodedMembers lists the members encoding/json decodes into t: exported fields
// by their JSON name, embedded structs flattened.
func decodedMembers(t reflect.Type) []jsonMember {
	var out []jsonMember
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, decodedMembers(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonMember{name: name, typ: f.Type})
	}
	return out
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
