package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/domain/operator"
)

// cmdSpec describes a route that runs one command: the command struct is the
// request body (its JSON shape is the API), path parameters fill the fields
// of the same JSON name, and a customer token's account fills or must match
// the ownership field.
type cmdSpec struct {
	cmd    any    // zero value of the command struct
	result any    // zero value of the command's Result.Data (for the document)
	own    string // JSON name of the field naming the account; "" = "account_id" when present
	status int    // success status; default 200
}

var uuidType = reflect.TypeFor[uuid.UUID]()

// jsonFields maps JSON names to field indexes of struct type t.
func jsonFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out[name] = i
	}
	return out
}

// pathParams lists the {names} of a route path.
func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}"))
		}
	}
	return out
}

// bodyFields reports whether the command has fields a client must send in
// the body (anything not filled from the path).
func bodyFields(t reflect.Type, path string) bool {
	fields := jsonFields(t)
	for _, p := range pathParams(path) {
		delete(fields, p)
	}
	return len(fields) > 0
}

// commandHandler builds the handler of a command route.
func (s *Server) commandHandler(method, path string, spec cmdSpec) func(http.ResponseWriter, *http.Request) error {
	t := reflect.TypeOf(spec.cmd)
	fields := jsonFields(t)
	params := pathParams(path)
	hasBody := bodyFields(t, path)
	own := spec.own
	if own == "-" {
		own = ""
	} else if own == "" {
		if _, ok := fields["account_id"]; ok {
			own = "account_id"
		}
	}
	status := spec.status
	if status == 0 {
		status = http.StatusOK
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		pv := reflect.New(t)
		v := pv.Elem()
		if hasBody {
			if err := decodeJSON(r, pv.Interface()); err != nil {
				return err
			}
		}
		for _, name := range params {
			i, ok := fields[name]
			if !ok {
				continue
			}
			if err := setFromPath(r, v.Field(i), name); err != nil {
				return err
			}
		}
		if p := principalOf(r.Context()); p != nil && p.Role == operator.Customer && own != "" {
			f := v.Field(fields[own])
			switch cur := f.Interface().(type) {
			case uuid.UUID:
				if cur == uuid.Nil {
					f.Set(reflect.ValueOf(p.AccountID))
				} else if cur != p.AccountID {
					return errForbidden()
				}
			}
		}
		res, err := s.cfg.Commands.Dispatch(s.actorCtx(r), pv.Interface())
		if err != nil {
			return err
		}
		return writeResult(w, status, res.Position, res.Data)
	}
}

// setFromPath fills f from the path parameter name; a body value that
// disagrees with the path is refused rather than silently replaced.
func setFromPath(r *http.Request, f reflect.Value, name string) error {
	raw := r.PathValue(name)
	var val reflect.Value
	switch f.Type() {
	case uuidType:
		id, err := uuid.Parse(raw)
		if err != nil {
			return fieldProblem(http.StatusBadRequest, name, "uuid", "must be a UUID")
		}
		val = reflect.ValueOf(id)
	default:
		if f.Kind() != reflect.String {
			return fieldProblem(http.StatusBadRequest, name, "type", "has an unsupported type")
		}
		val = reflect.ValueOf(raw).Convert(f.Type())
	}
	if !f.IsZero() && !f.Equal(val) {
		return fieldProblem(http.StatusBadRequest, name, "matches_path", "must match the path (or be left out of the body)")
	}
	f.Set(val)
	return nil
}

// writeResult writes data (a JSON object) with "position" added, and the
// position header.
func writeResult(w http.ResponseWriter, status int, position uint64, data any) error {
	b := []byte("{}")
	if data != nil {
		var err error
		if b, err = json.Marshal(data); err != nil {
			return err
		}
	}
	if len(b) < 2 || b[0] != '{' {
		return &Problem{Type: problemTypeBase + "internal", Title: "internal error", Status: http.StatusInternalServerError}
	}
	out := make([]byte, 0, len(b)+32)
	out = append(out, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"position":`...)
	out = strconv.AppendUint(out, position, 10)
	out = append(out, "}\n"...)
	if position > 0 {
		w.Header().Set(PositionHeader, strconv.FormatUint(position, 10))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err := w.Write(out)
	return err
}
