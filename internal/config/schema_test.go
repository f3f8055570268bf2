package config

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

// TestAliasTraps: a YAML alias to the mapping or list that holds it, or
// aliases that expand into a vast tree, give a clear *Error instead of
// recursing until the process dies.
func TestAliasTraps(t *testing.T) {
	for _, tc := range []struct {
		name, text, key, msg string
	}{
		{"merge of its own mapping", "tls: &a {<<: *a}\n", "tls", "line 1: alias *a refers to a value that holds it"},
		{"merge list holding its own mapping", "tls: &a {<<: [*a], ca_file: x}\n", "tls", "line 1: alias *a refers to a value that holds it"},
		{"in a full config", validDoc.set("tls", "&a {<<: *a}").String(), "tls", "line 9: alias *a refers to a value that holds it"},
		{"key holding its own mapping", "tls: &a {ca_file: *a}\n", "tls.ca_file", "line 1: alias *a refers to a value that holds it"},
		{"list holding itself", "join: &a [*a]\n", "join[0]", "line 1: alias *a refers to a value that holds it"},
		{"volume list holding itself", "volumes: &v [{name: d, path: /d}, *v]\n", "volumes[1]", "line 1: alias *v refers to a value that holds it"},
		{"labels merging themselves", "labels: &l {<<: *l}\n", "labels", "line 1: alias *l refers to a value that holds it"},
		{"loop two merges deep", "volumes:\n  - &v {name: d, <<: [&w {path: /d, <<: *v}]}\n", "volumes[0]", "line 2: alias *v refers to a value that holds it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("leptond.yaml", []byte(tc.text))
			if c != nil {
				t.Errorf("Parse returned a config with error %v", err)
			}
			t.Log(err)
			wantOne(t, err, tc.key, tc.msg)
		})
	}
}

// TestAliasesStillWork: aliases and merge keys that do not loop are read
// as the YAML decoder reads them.
func TestAliasesStillWork(t *testing.T) {
	stubMachine(t, "src-1", "10.0.0.5")
	f := newFixture(t)
	// labels come after volumes here, so that they can merge the first volume's keys.
	text := validDoc.del("labels").
		set("volumes", "\n  - &vol {name: data, path: /srv/data}\n  - {<<: [*vol], name: logs, path: /srv/logs, shared: true}").
		set("labels", "{<<: *vol, zone: hz-b}").String()
	c, err := Load(f.write(t, text))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"name": "data", "path": "/srv/data", "zone": "hz-b"}; !maps.Equal(c.Labels, want) {
		t.Errorf("labels = %v", c.Labels)
	}
	if len(c.Volumes) != 2 || c.Volumes[1] != (Volume{Name: "logs", Path: "/srv/logs", Shared: true}) {
		t.Errorf("volumes = %+v", c.Volumes)
	}
}

// TestAliasBomb: ten aliases per level over eleven levels name 10^11 values;
// the walk stops after strictyaml.MaxValues with one message.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("tls: &m0 {ca_file: x}\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "tls: &m%d {<<: [%s]}\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d,", i-1), 10), ","))
	}
	_, err := Parse("leptond.yaml", []byte(b.String()))
	wantOne(t, err, "", "more than 100000 values once aliases are expanded")
}
