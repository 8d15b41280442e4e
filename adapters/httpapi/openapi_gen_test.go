package httpapi

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/domain"
	"github.com/ledgerline/ledgerline/domain/apikey"
	"github.com/ledgerline/ledgerline/domain/billing"
	"github.com/ledgerline/ledgerline/domain/consent"
	"github.com/ledgerline/ledgerline/domain/operator"
	"github.com/ledgerline/ledgerline/domain/privacy"
	"github.com/ledgerline/ledgerline/domain/usage"
	"github.com/ledgerline/ledgerline/eventstore"
)

// The OpenAPI document is generated from the route table and the Go types
// of requests and responses, so it cannot drift from the code: `go test
// ./adapters/httpapi -run TestOpenAPIUpToDate -update` rewrites openapi.json.

type obj = map[string]any

func strs[T interface{ String() string }](vs ...T) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.String())
	}
	return out
}

// enumTags are the validator tags backed by the domain's fixed value sets.
func enumTags() map[string][]string {
	return map[string][]string{
		"jurisdiction":     strs(domain.Jurisdictions()...),
		"suspend_reason":   {"fraud", "abuse", "non_payment", "security", "compliance"},
		"close_reason":     {"customer_request", "erasure_request", "fraud", "inactivity", "admin"},
		"scope":            strs(apikey.Scopes()...),
		"revoke_reason":    strs(apikey.RevokeUserRequest, apikey.RevokeCompromised, apikey.RevokeAccountClosed, apikey.RevokeAdmin),
		"usage_status":     strs(usage.Statuses()...),
		"processor":        strs(billing.Stripe, billing.PayPal),
		"dispute_outcome":  strs(billing.Won, billing.Lost),
		"purpose":          strs(consent.Purposes()...),
		"consent_method":   strs(consent.SignupForm, consent.SettingsPage, consent.CookieBanner, consent.API, consent.Support),
		"request_kind":     strs(privacy.Access, privacy.Rectification, privacy.Erasure),
		"law":              strs(privacy.GDPR, privacy.CCPA),
		"extension_reason": strs(privacy.Complexity, privacy.NumberOfRequests),
		"reject_reason":    strs(privacy.IdentityNotVerified, privacy.ManifestlyUnfounded, privacy.Excessive, privacy.NotApplicable),
		"hold_category":    strs(privacy.Payments, privacy.TaxRecords, privacy.Usage, privacy.Profile),
		"hold_basis":       strs(privacy.Dispute, privacy.TaxRetention, privacy.Litigation, privacy.RegulatorRequest),
		"role":             strs(operator.Roles()...),
	}
}

type schemaGen struct {
	components obj
	enums      map[string][]string
}

func newSchemaGen() *schemaGen {
	return &schemaGen{components: obj{}, enums: enumTags()}
}

var (
	timeType = reflect.TypeFor[time.Time]()
	hashType = reflect.TypeFor[eventstore.Hash]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schema returns the JSON Schema of t; named structs become components.
func (g *schemaGen) schema(t reflect.Type, omit map[string]bool, request bool) obj {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return obj{"type": "string", "format": "date-time"}
	case uuidType:
		return obj{"type": "string", "format": "uuid"}
	case hashType:
		return obj{"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256, lower-case hex"}
	case rawType:
		return obj{"description": "any JSON value"}
	}
	switch t.Kind() {
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return obj{"type": "integer", "format": "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer", "format": "int64", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return obj{"type": "string", "contentEncoding": "base64"}
		}
		return obj{"type": "array", "items": g.schema(t.Elem(), nil, request)}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": g.schema(t.Elem(), nil, request)}
	case reflect.Struct:
		if t.Name() == "" || len(omit) > 0 {
			return g.structSchema(t, omit, request)
		}
		name := componentName(t)
		if _, ok := g.components[name]; !ok {
			g.components[name] = obj{} // placeholder against recursion
			g.components[name] = g.structSchema(t, nil, request)
		}
		return obj{"$ref": "#/components/schemas/" + name}
	}
	return obj{}
}

func componentName(t reflect.Type) string {
	pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
	name := t.Name()
	if pkg != "httpapi" && !strings.HasPrefix(name, strings.ToUpper(pkg[:1])+pkg[1:]) {
		name = strings.ToUpper(pkg[:1]) + pkg[1:] + name
	}
	return name
}

func (g *schemaGen) structSchema(t reflect.Type, omit map[string]bool, request bool) obj {
	props := obj{}
	var required []string
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && tag == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				add(ft)
				continue
			}
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if omit[name] {
				continue
			}
			s := g.schema(f.Type, nil, request)
			optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
			v := f.Tag.Get("validate")
			if request {
				optional = !hasRule(v, "required")
			}
			g.applyRules(s, f.Type, v)
			if name == "role" && t == reflect.TypeFor[IssueTokenRequest]() {
				s["enum"] = g.enums["role"]
			}
			props[name] = s
			if !optional {
				required = append(required, name)
			}
		}
	}
	add(t)
	out := obj{"type": "object", "properties": props, "additionalProperties": !request}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func hasRule(v, rule string) bool {
	for _, r := range strings.Split(v, ",") {
		if r == rule {
			return true
		}
	}
	return false
}

// applyRules turns validator tags into JSON Schema keywords.
func (g *schemaGen) applyRules(s obj, t reflect.Type, v string) {
	if v == "" || s["$ref"] != nil {
		return
	}
	target := s
	isSlice := t.Kind() == reflect.Slice
	for _, r := range strings.Split(v, ",") {
		name, arg, _ := strings.Cut(r, "=")
		if name == "dive" {
			if items, ok := s["items"].(obj); ok {
				target = items
			}
			continue
		}
		n, _ := strconv.Atoi(arg)
		switch {
		case g.enums[name] != nil:
			target["enum"] = g.enums[name]
		case name == "email":
			target["format"] = "email"
		case name == "ip":
			target["format"] = "ip"
		case name == "hexadecimal":
			target["pattern"] = "^[0-9a-fA-F]+$"
		case name == "alpha":
			target["pattern"] = "^[A-Za-z]+$"
		case name == "unique" && isSlice:
			s["uniqueItems"] = true
		case name == "max" && target["type"] == "string":
			target["maxLength"] = n
		case name == "max" && target["type"] == "array":
			target["maxItems"] = n
		case name == "max":
			target["maximum"] = n
		case name == "min" && target["type"] == "array":
			target["minItems"] = n
		case name == "min" && target["type"] == "string":
			target["minLength"] = n
		case name == "len" && target["type"] == "string":
			target["minLength"], target["maxLength"] = n, n
		case name == "gt":
			target["exclusiveMinimum"] = n
		case name == "gte":
			target["minimum"] = n
		}
	}
}

func problemSchema() obj {
	return obj{"type": "object", "required": []string{"type", "title", "status"}, "properties": obj{
		"type":  obj{"type": "string", "format": "uri", "description": "one of " + strings.Join(problemTypes(), ", ") + " (see docs/api.md)"},
		"title": obj{"type": "string"}, "status": obj{"type": "integer"},
		"detail":     obj{"type": "string"},
		"instance":   obj{"type": "string", "description": "the path template of the matched route, e.g. /v1/accounts/{account_id}; absent when no route matched. Never the request's own path"},
		"request_id": obj{"type": "string", "description": "quote it when reporting a problem"},
		"errors": obj{"type": "array", "items": obj{"type": "object", "required": []string{"field", "rule", "message"}, "properties": obj{
			"field": obj{"type": "string"}, "rule": obj{"type": "string"}, "message": obj{"type": "string", "description": "never repeats the submitted value"}}}},
	}}
}

// problemTypes lists the problem type URIs the API answers with (docs/api.md).
func problemTypes() []string {
	kinds := []string{"invalid-request", "unauthenticated", "forbidden", "not-found", "conflict", "too-large",
		"unsupported-media-type", "validation", "too-many-auth-failures", "not-caught-up", "unavailable", "timeout", "internal"}
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = problemTypeBase + k
	}
	return out
}

func problemResp(desc string) obj {
	return obj{"description": desc, "content": obj{"application/problem+json": obj{"schema": obj{"$ref": "#/components/schemas/Problem"}}}}
}

// buildOpenAPI renders the document for routes.
func buildOpenAPI(routes []route) obj {
	g := newSchemaGen()
	paths := obj{}
	for _, rt := range routes {
		item, _ := paths[rt.path].(obj)
		if item == nil {
			item = obj{}
			paths[rt.path] = item
		}
		op := obj{"operationId": rt.op, "summary": rt.summary, "tags": []string{rt.tag}}
		var params []any
		for _, p := range pathParams(rt.path) {
			sch := obj{"type": "string"}
			if strings.HasSuffix(p, "_id") && p != "dispute_id" {
				sch = obj{"type": "string", "format": "uuid"}
			}
			params = append(params, obj{"name": p, "in": "path", "required": true, "schema": sch})
		}
		for _, q := range rt.query {
			sch := obj{"type": q.typ}
			switch q.typ {
			case "date", "date-time", "uuid":
				sch = obj{"type": "string", "format": q.typ}
			}
			params = append(params, obj{"name": q.name, "in": "query", "required": q.required, "description": q.desc, "schema": sch})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		responses := obj{}
		if rt.req != nil {
			t := reflect.TypeOf(rt.req)
			omit := map[string]bool{}
			for _, p := range pathParams(rt.path) {
				omit[p] = true
			}
			if bodyFields(t, rt.path) {
				op["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": g.schema(t, omit, true)}}}
				responses["400"] = problemResp("malformed JSON, invalid UTF-8, a duplicated, unknown or wrongly typed field")
				responses["413"] = problemResp("body too large")
				responses["415"] = problemResp("content type is not application/json")
			}
			responses["422"] = problemResp("a field breaks a rule (field, rule, message)")
		}
		status := strconv.Itoa(orDefault(rt.status, 200))
		ok := obj{"description": "success"}
		switch {
		case rt.path == "/metrics":
			ok["content"] = obj{"text/plain": obj{"schema": obj{"type": "string"}}}
		case rt.path == "/openapi.json":
			ok["content"] = obj{"application/json": obj{"schema": obj{"type": "object"}}}
		case rt.path == "/v1/certificates/public-key":
			ok["content"] = obj{"text/plain": obj{"schema": obj{"type": "string", "pattern": "^ledgerline-ed25519:"}}}
		case rt.path == "/v1/certificates/{certificate_id}":
			ok["content"] = obj{"application/json": obj{"schema": g.schema(reflect.TypeOf(rt.resp), nil, false)},
				"text/html": obj{"schema": obj{"type": "string"}}}
		case rt.resp != nil || rt.write:
			var sch obj
			if rt.resp != nil {
				sch = g.schema(reflect.TypeOf(rt.resp), nil, false)
			}
			if rt.write {
				pos := obj{"type": "object", "required": []string{"position"}, "properties": obj{
					"position": obj{"type": "integer", "description": "global log position of the write; pass it as ?after= to read your writes"}}}
				if sch != nil && reflect.TypeOf(rt.resp).Field(0).Name != "Position" && !hasPositionField(reflect.TypeOf(rt.resp)) {
					sch = obj{"allOf": []any{sch, pos}}
				} else if sch == nil {
					sch = pos
				}
				ok["headers"] = obj{"X-Ledgerline-Position": obj{"description": "the same position", "schema": obj{"type": "integer"}}}
			}
			ok["content"] = obj{"application/json": obj{"schema": sch}}
		}
		responses[status] = ok
		if rt.roles != nil {
			roles := strs(rt.roles...)
			op["security"] = []any{obj{"bearer": []string{}}}
			op["x-roles"] = roles
			op["description"] = "Roles: " + strings.Join(roles, ", ") + "." + ownNote(rt)
			responses["401"] = problemResp("no valid bearer token")
			responses["403"] = problemResp("the token's role (or account) may not do this")
			responses["429"] = problemResp("too-many-auth-failures: this address presented too many wrong tokens; retry after Retry-After")
			if strings.Contains(rt.path, "{") {
				responses["404"] = problemResp("no such resource")
			}
			if rt.write {
				responses["409"] = problemResp("not allowed in the current state")
			}
			if hasAfter(rt) {
				responses["503"] = problemResp("the read model did not reach ?after= in time, or the store is unavailable")
			}
		}
		responses["500"] = problemResp("internal error (only the request id is given)")
		op["responses"] = responses
		item[strings.ToLower(rt.method)] = op
	}
	g.components["Problem"] = problemSchema()
	return obj{
		"openapi": "3.1.0",
		"info": obj{"title": "Ledgerline API", "version": "1",
			"description": "System of record behind an AI API gateway: accounts, API keys, usage, payments, consent and privacy requests as an append-only, hash-chained event log. " +
				"Errors are application/problem+json with field-level messages that never repeat submitted values. Writes return the log position (body `position`, header `X-Ledgerline-Position`); reads accept `?after=<position>` to read their own writes. See docs/api.md."},
		"servers":    []any{obj{"url": "http://127.0.0.1:8080"}},
		"security":   []any{},
		"paths":      paths,
		"components": obj{"schemas": g.components, "securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "description": "an operator token (llt_...)"}}},
		"tags": []any{
			obj{"name": tagSystem}, obj{"name": tagOperators}, obj{"name": tagAccounts}, obj{"name": tagKeys}, obj{"name": tagUsage},
			obj{"name": tagBilling}, obj{"name": tagConsent}, obj{"name": tagPrivacy}, obj{"name": tagAudit},
		},
	}
}

func hasPositionField(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	_, ok := jsonFields(t)["position"]
	return ok
}

func hasAfter(rt route) bool {
	for _, q := range rt.query {
		if q.name == "after" {
			return true
		}
	}
	return rt.write
}

func ownNote(rt route) string {
	for _, r := range rt.roles {
		if r == operator.Customer {
			return " A customer token reaches only its own account."
		}
	}
	return ""
}
