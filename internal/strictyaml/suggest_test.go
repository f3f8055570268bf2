package strictyaml

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// agent has keys like the agent config's, with a type that decodes itself
// (whose own fields are no keys to suggest).
type agent struct {
	NodeName        string   `yaml:"node_name"`
	BootstrapExpect int      `yaml:"bootstrap_expect"`
	Encrypt         string   `yaml:"encrypt"`
	TLS             tlsFiles `yaml:"tls"`
	Timeout         size     `yaml:"timeout"`
}

type tlsFiles struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
}

func TestSuggest(t *testing.T) {
	typ := reflect.TypeFor[agent]()
	for _, tc := range []struct{ key, path, want string }{
		{"bootstrap_expected", "", "bootstrap_expect"},
		{"nodeName", "", "node_name"},
		{"node-name", "", "node_name"},
		{"NODE_NAME", "", "node_name"},
		{"encryption", "", "encrypt"},
		{"ca_file", "", "tls.ca_file"},
		{"CA-File", "", "tls.ca_file"},
		{"certfile", "", ""}, // near only a key one level down, which suggests by exact name
		{"nodename", "agents[2]", "agents[2].node_name"},
		{"cert_file", "agents[2]", "agents[2].tls.cert_file"},
		{"completely_else", "", ""},
		{"", "", ""},
		{strings.Repeat("node_name", 100_000), "", ""},
	} {
		if got := Suggest(tc.key, typ, tc.path); got != tc.want {
			t.Errorf("Suggest(%.20q, %q) = %q, want %q", tc.key, tc.path, got, tc.want)
		}
	}
	if got := Suggest("cert_fil", reflect.TypeFor[tlsFiles](), "tls"); got != "tls.cert_file" {
		t.Errorf("Suggest(cert_fil) in tls = %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
		{"chunksize", "chunk_size", 1},
		{"bootstrap_expected", "bootstrap_expect", 2},
		{"größe", "grösse", 2}, // runes, not bytes
		{"ab", "ba", 2},
	} {
		if got := EditDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := EditDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d (symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestFields(t *testing.T) {
	var names []string
	var indexes []int
	for _, f := range Fields(reflect.TypeFor[job]()) {
		names = append(names, f.Name)
		indexes = append(indexes, f.Index)
	}
	if want := []string{"name", "source", "include", "volumes", "labels", "verify", "size"}; !slices.Equal(names, want) {
		t.Errorf("keys %q, want %q", names, want)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6}; !slices.Equal(indexes, want) {
		t.Errorf("indexes %v, want %v", indexes, want)
	}
	if f := Fields(reflect.TypeFor[job]())[1]; f.Type != reflect.TypeFor[endpoint]() {
		t.Errorf("source has type %v", f.Type)
	}
	if got := Fields(reflect.TypeFor[map[string]int]()); got != nil {
		t.Errorf("Fields(map) = %v, want nil", got)
	}
}

func TestDotted(t *testing.T) {
	for _, tc := range [][3]string{{"", "side", "side"}, {"tls", "ca_file", "tls.ca_file"}, {"volumes[1]", "name", "volumes[1].name"}} {
		if got := Dotted(tc[0], tc[1]); got != tc[2] {
			t.Errorf("Dotted(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}
