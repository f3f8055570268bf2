package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

const examplePath = "../../configs/leptond.yaml"

// exampleWithFixture is configs/leptond.yaml with its TLS files, token file
// and key placeholder swapped for ones made in f.
func exampleWithFixture(t testing.TB, f *fixture) string {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(
		"/etc/lepton/tls/ca.pem", filepath.Join(f.dir, "tls", "ca.pem"),
		"/etc/lepton/tls/src-1.pem", filepath.Join(f.dir, "tls", "src-1.pem"),
		"/etc/lepton/tls/src-1-key.pem", filepath.Join(f.dir, "tls", "src-1-key.pem"),
		"/etc/lepton/token", filepath.Join(f.dir, "token"),
		"REPLACE-WITH-leptonctl-keygen-OUTPUT", testKey,
	)
	return r.Replace(string(data))
}

// TestExampleLoads keeps configs/leptond.yaml in step with the code.
func TestExampleLoads(t *testing.T) {
	stubMachine(t, "other-host", "10.0.0.5")
	f := newFixture(t)
	text := exampleWithFixture(t, f)

	dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
	dec.KnownFields(true)
	if err := dec.Decode(defaults()); err != nil {
		t.Fatalf("strict decode of the example: %v", err)
	}
	c, err := Parse(filepath.Join(f.dir, "leptond.yaml"), []byte(text))
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	if c.NodeName != "src-1" || c.Side != SideSource || c.AdvertiseAddr != "10.0.0.5" || c.Token != "s3cret-token" || len(c.Volumes) != 1 {
		t.Errorf("example loaded as %+v", c)
	}
}

// TestExampleRefusesPlaceholderKey: a copied example must not run with a
// key everyone knows.
func TestExampleRefusesPlaceholderKey(t *testing.T) {
	stubMachine(t, "other-host", "10.0.0.5")
	f := newFixture(t)
	text := strings.ReplaceAll(exampleWithFixture(t, f), testKey, "REPLACE-WITH-leptonctl-keygen-OUTPUT")
	_, err := Parse(filepath.Join(f.dir, "leptond.yaml"), []byte(text))
	wantOne(t, err, "encrypt", "leptonctl keygen")
}

// TestExampleDocumentsEveryKey: every key Config knows appears in the
// example with a comment, and nothing else does.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	var visit func(n *yaml.Node, path string, commented bool)
	visit = func(n *yaml.Node, path string, commented bool) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := strictyaml.Dotted(path, k.Value)
				if path != "" && strings.HasPrefix(key, "labels.") {
					continue
				}
				got = append(got, key)
				has := k.HeadComment != "" || k.LineComment != "" || v.LineComment != "" || commented
				if !has {
					t.Errorf("key %s has no comment", key)
				}
				visit(v, key, has && (v.Kind == yaml.SequenceNode))
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				visit(item, path+"[]", false)
			}
		}
	}
	visit(doc.Content[0], "", false)
	want := schemaKeys(configType, "")
	slices.Sort(got)
	got = slices.Compact(got)
	slices.Sort(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example keys\n  %v\nwant\n  %v", got, want)
	}
}

// schemaKeys lists the dotted keys of t, with "[]" for list items; a map
// (labels) counts as one key.
func schemaKeys(t reflect.Type, path string) []string {
	var out []string
	for _, f := range strictyaml.Fields(t) {
		key := strictyaml.Dotted(path, f.Name)
		out = append(out, key)
		ft := f.Type
		if reflect.PointerTo(ft).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
			continue
		}
		switch {
		case ft.Kind() == reflect.Struct:
			out = append(out, schemaKeys(ft, key)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, schemaKeys(ft.Elem(), key+"[]")...)
		}
	}
	return out
}
