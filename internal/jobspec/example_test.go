package jobspec

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	"github.com/leptonmesh/lepton/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

// TestExampleParses keeps example.yaml in step with the code: it loads,
// sets every key, and shows the defaults.
func TestExampleParses(t *testing.T) {
	s, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	want := Spec{
		Name:             "orders-to-tencent",
		Source:           Endpoint{Volume: "data", Path: "exports/orders"},
		Target:           Endpoint{Volume: "data", Path: "orders"},
		Include:          []string{"**/*.parquet", "manifest.json"},
		Exclude:          []string{"tmp/**", ".cache/", "*.partial"},
		Mode:             ModeCopy,
		Compression:      CompressionAuto,
		CompressionLevel: LevelFastest,
		Verify:           true,
		ChunkSize:        DefaultChunkSize,
	}
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("example parsed as\n%+v\nwant\n%+v", *s, want)
	}

	// Every key, nested ones too, appears in the file.
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range strictyaml.Fields(specType) {
		v, ok := doc[k.Name]
		if !ok {
			t.Errorf("example.yaml lacks %s", k.Name)
			continue
		}
		if k.Type.Kind() != reflect.Struct {
			continue
		}
		sub, _ := v.(map[string]any)
		for _, nk := range strictyaml.Fields(k.Type) {
			if _, ok := sub[nk.Name]; !ok {
				t.Errorf("example.yaml lacks %s.%s", k.Name, nk.Name)
			}
		}
	}
}
