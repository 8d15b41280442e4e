package httpapi

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every data section of the access export is described by its manifest, so
// a section added later cannot be left out of it.
func TestExportManifestCoversEverySection(t *testing.T) {
	var x Export
	x.buildManifest()
	described := map[string]ManifestSection{}
	for _, s := range x.Manifest.Sections {
		described[s.Name] = s
	}
	meta := []string{"format", "export_id", "subject_id", "generated_at", "manifest"}
	typ := reflect.TypeOf(x)
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if slices.Contains(meta, name) {
			continue
		}
		if _, ok := described[name]; !ok {
			t.Errorf("export section %q is missing from the manifest", name)
		}
	}
	if len(described) != typ.NumField()-len(meta) {
		t.Errorf("manifest lists %d sections, export has %d", len(described), typ.NumField()-len(meta))
	}
	for _, want := range []string{"profile", "usage", "consent_history", "transactions"} {
		if !slices.Contains(x.Manifest.Portable, want) {
			t.Errorf("portability subset lacks %q: %v", want, x.Manifest.Portable)
		}
	}
	if slices.Contains(x.Manifest.Portable, "fraud_record") {
		t.Error("the fraud hash is derived by the service, not provided by the person: not portable")
	}
}
