package strictyaml

import (
	"errors"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestLines(t *testing.T) {
	l := Lines{"tls": 9, "volumes[1]": 14, "volumes[1].name": 15}
	for path, want := range map[string]int{
		"tls":             9,
		"tls.key_file":    9, // missing: points at tls:
		"volumes[1].path": 14,
		"volumes[1].name": 15,
		"volumes[0].name": 0, // volumes itself was not recorded
		"side":            0,
		"":                0,
	} {
		if got := l.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	if got := l.Mark("tls.key_file", "required"); got != "line 9: required" {
		t.Errorf("Mark = %q", got)
	}
	if got := l.Mark("side", "required"); got != "required" {
		t.Errorf("Mark without a line = %q", got)
	}
	var none Lines // a value from JSON
	if got := none.Mark("tls", "required"); got != "required" {
		t.Errorf("nil Lines Mark = %q", got)
	}
}

func TestJoin(t *testing.T) {
	if err := Join(nil); err != nil {
		t.Errorf("Join(nil) = %v", err)
	}
	one := errors.New("one")
	if err := Join([]error{one}); err != one {
		t.Errorf("Join of one = %#v, want the error itself", err)
	}
	two := errors.New("two")
	err := Join([]error{one, two})
	if err.Error() != "one\ntwo" || !errors.Is(err, two) {
		t.Errorf("Join of two = %q", err)
	}
}

func TestDescribe(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("[{a: b}, [c], &x d, *x, ~, \"e\\tf\"]"), &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"a mapping", "a list", `"d"`, "an alias", "nothing", `"e\tf"`}
	for i, n := range doc.Content[0].Content {
		if got := Describe(n, strconv.Quote); got != want[i] {
			t.Errorf("Describe(item %d) = %s, want %s", i, got, want[i])
		}
	}
	if !IsNull(&yaml.Node{}) || IsNull(doc.Content[0]) {
		t.Error("IsNull: a zero node is null, a list is not")
	}
}
