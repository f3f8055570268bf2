package strictyaml

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The types a test document is checked against: a struct within a struct,
// lists of scalars and of structs, a map, a type that decodes itself, and
// fields that are no keys.
type endpoint struct {
	Volume string `yaml:"volume"`
	Path   string `yaml:"path"`
}

type job struct {
	Name     string         `yaml:"name"`
	Source   endpoint       `yaml:"source"`
	Include  []string       `yaml:"include"`
	Volumes  []endpoint     `yaml:"volumes"`
	Labels   map[string]int `yaml:"labels"`
	Verify   bool           `yaml:"verify"`
	Size     size           `yaml:"size"`
	Internal string         `yaml:"-"`
	Untagged string
	//lint:ignore U1000 an unexported field is no key; it is here to be passed over
	hidden string `yaml:"hidden"`
}

// size decodes itself and takes only "small" or "large".
type size string

var errSize = errors.New("want small or large")

func (s *size) UnmarshalYAML(n *yaml.Node) error {
	if n.Value != "small" && n.Value != "large" {
		return fmt.Errorf("%w, got %q", errSize, n.Value)
	}
	*s = size(n.Value)
	return nil
}

var kindNames = map[Kind]string{
	UnknownKey: "unknown key", KeyNotName: "key not a name", NotMapping: "not a mapping",
	NotList: "not a list", WrongType: "wrong type", Refused: "refused",
	AliasLoop: "alias loop", TooManyValues: "too many values",
}

// check runs Check on text against job and returns each problem as
// "KIND PATH line N" and each value seen as "PATH@LINE".
func check(t *testing.T, text string) (problems []string, seen []string, raw []Problem) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("test document: %v", err)
	}
	Check(doc.Content[0], reflect.TypeFor[job](), func(path string, key, v *yaml.Node) {
		s := fmt.Sprintf("%s@%d", path, v.Line)
		if key != nil {
			s += fmt.Sprintf(" key@%d", key.Line)
		}
		seen = append(seen, s)
	}, func(p Problem) {
		problems = append(problems, fmt.Sprintf("%s %q line %d", kindNames[p.Kind], p.Path, p.Node.Line))
		raw = append(raw, p)
	})
	return problems, seen, raw
}

func wantProblems(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("problems\n  %q\nwant\n  %q", got, want)
	}
}

func TestValidDocumentHasNoProblems(t *testing.T) {
	problems, seen, _ := check(t, `
name: orders
source:
  volume: data
  path: exports
include: ["*.parquet", "logs/**"]
volumes:
  - {volume: a, path: x}
labels: {zone: 3}
verify: true
size: small
`)
	wantProblems(t, problems)
	want := []string{"@2", "name@2 key@2", "source@4 key@3", "source.volume@4 key@4", "source.path@5 key@5",
		"include@6 key@6", "include[0]@6", "include[1]@6", "volumes@8 key@7", "volumes[0]@8",
		"volumes[0].volume@8 key@8", "volumes[0].path@8 key@8", "labels@9 key@9", "labels.zone@9 key@9",
		"verify@10 key@10", "size@11 key@11"}
	if !slices.Equal(seen, want) {
		t.Errorf("seen\n  %q\nwant\n  %q", seen, want)
	}
}

func TestUnknownKeys(t *testing.T) {
	problems, _, raw := check(t, "name: j\nsource:\n  volume: d\n  pth: x\nchunksize: 4\nInternal: x\nUntagged: y\nhidden: z\n[a]: b\n")
	wantProblems(t, problems,
		`unknown key "source" line 4`,
		`unknown key "" line 5`,
		`unknown key "" line 6`,
		`unknown key "" line 7`,
		`unknown key "" line 8`,
		`unknown key "" line 9`)
	if raw[0].Node.Value != "pth" || raw[0].Type != reflect.TypeFor[endpoint]() {
		t.Errorf("unknown key %q in %v, want pth in endpoint", raw[0].Node.Value, raw[0].Type)
	}
	if got := Suggest(raw[0].Node.Value, raw[0].Type, raw[0].Path); got != "source.path" {
		t.Errorf("suggestion for pth = %q, want source.path", got)
	}
}

func TestWrongShapesNameTheirPath(t *testing.T) {
	problems, _, raw := check(t, `
name: [a, b]
source: data
include: "*.log"
volumes:
  - {volume: a}
  - {volume: {x: y}, path: [p]}
labels:
  zone: high
  [x]: 1
  ok: ~
verify: maybe
size: medium
`)
	wantProblems(t, problems,
		`wrong type "name" line 2`,
		`not a mapping "source" line 3`,
		`not a list "include" line 4`,
		`wrong type "volumes[1].volume" line 7`,
		`wrong type "volumes[1].path" line 7`,
		`wrong type "labels.zone" line 9`,
		`key not a name "labels" line 10`,
		`wrong type "verify" line 12`,
		`refused "size" line 13`)
	if last := raw[len(raw)-1]; !errors.Is(last.Err, errSize) {
		t.Errorf("refused with %v, want the type's own error", last.Err)
	}
	if raw[0].Err == nil || raw[0].Type != reflect.TypeFor[string]() {
		t.Errorf("wrong type without the decoder's error or the type: %+v", raw[0])
	}
}

func TestTopValueNotAMapping(t *testing.T) {
	problems, _, _ := check(t, "- name: j\n")
	wantProblems(t, problems, `not a mapping "" line 1`)
}

func TestNullLeavesTheValue(t *testing.T) {
	problems, _, _ := check(t, "name:\nsource: ~\ninclude: null\nverify:\n")
	wantProblems(t, problems)
}

func TestMergeKeys(t *testing.T) {
	t.Run("merged keys are checked as the mapping's own", func(t *testing.T) {
		problems, seen, _ := check(t, `
defaults: &d {volume: data, path: x}
source: {<<: *d, path: y}
`)
		// defaults is unknown to job; its keys are known to endpoint.
		wantProblems(t, problems, `unknown key "" line 2`)
		if want := []string{"@2", "source@3 key@3", "source@3", "source.volume@2 key@2", "source.path@2 key@2", "source.path@3 key@3"}; !slices.Equal(seen, want) {
			t.Errorf("seen\n  %q\nwant\n  %q", seen, want)
		}
	})
	t.Run("a list of merges", func(t *testing.T) {
		problems, _, _ := check(t, "x: &a {volume: v}\ny: &b {pth: p}\nsource: {<<: [*a, *b]}\n")
		wantProblems(t, problems, `unknown key "" line 1`, `unknown key "" line 2`, `unknown key "source" line 2`)
	})
	t.Run("a merged value of the wrong shape", func(t *testing.T) {
		problems, _, _ := check(t, "source: {<<: [plain]}\n")
		wantProblems(t, problems, `not a mapping "source" line 1`)
	})
	t.Run("into a map", func(t *testing.T) {
		problems, _, _ := check(t, "labels: {<<: {a: 1, b: two}, c: 3}\n")
		wantProblems(t, problems, `wrong type "labels.b" line 1`)
	})
}

func TestAliasLoop(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"merge of its own mapping", "source: &a {<<: *a}\n", `alias loop "source" line 1`},
		{"key holding its own mapping", "source: &a {volume: *a}\n", `alias loop "source.volume" line 1`},
		{"list holding itself", "include: &l [*l]\n", `alias loop "include[0]" line 1`},
		{"list of structs holding itself", "volumes: &v [{volume: d}, *v]\n", `alias loop "volumes[1]" line 1`},
		{"map merging itself", "labels: &l {<<: *l}\n", `alias loop "labels" line 1`},
		{"two merges deep", "volumes:\n  - &v {volume: d, <<: [&w {path: /d, <<: *v}]}\n", `alias loop "volumes[0]" line 2`},
		{"the top value merging itself", "&t {<<: *t}\n", `alias loop "" line 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems, _, raw := check(t, tc.text)
			wantProblems(t, problems, tc.want)
			if len(raw) == 1 && raw[0].Node.Kind != yaml.AliasNode {
				t.Errorf("alias loop names a %v node, want the alias", raw[0].Node.Kind)
			}
		})
	}
}

// TestAliasesThatDoNotLoop: an alias used twice, side by side, is no loop.
func TestAliasesThatDoNotLoop(t *testing.T) {
	problems, _, _ := check(t, "source: &e {volume: d}\nvolumes: [*e, *e, {<<: *e, path: p}]\ninclude: &i [a]\n")
	wantProblems(t, problems)
}

// tree is lists of lists, to any depth.
type tree []tree

// TestAliasBomb: ten aliases per level over eleven levels name 10^11
// values; Check stops after MaxValues with one problem, quickly.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &m0 []\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "a%d: &m%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d,", i-1), 10), ","))
	}
	b.WriteString("include: *m11\n")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	var problems []Problem
	values := 0
	Check(doc.Content[0], reflect.TypeFor[struct {
		Include tree `yaml:"include"`
	}](), func(string, *yaml.Node, *yaml.Node) { values++ }, func(p Problem) {
		if p.Kind != UnknownKey {
			problems = append(problems, p)
		}
	})
	if len(problems) != 1 || problems[0].Kind != TooManyValues {
		t.Fatalf("problems %+v, want one of too many values", problems)
	}
	if values != MaxValues {
		t.Errorf("saw %d values, want %d", values, MaxValues)
	}
	if p := problems[0]; !strings.HasPrefix(p.Path, "include[") || p.Node.Line < 2 {
		t.Errorf("stopped at %q line %d, want inside include", p.Path, p.Node.Line)
	}
}
