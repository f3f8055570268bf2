package manifest

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCleanRel(t *testing.T) {
	good := map[string]string{
		"a/b": "a/b", "": ".", "./a": "a", "a//b/": "a/b", ".": ".",
		`dir\file`: `dir\file`, "café/naïve file.txt": "café/naïve file.txt", "..a/b..": "..a/b..",
	}
	for in, want := range good {
		got, err := CleanRel(in)
		if err != nil || got != want {
			t.Errorf("CleanRel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"../x": "..", "a/../../x": "..", "a/../b": "..", "..": "..",
		"/etc/passwd": "absolute", "a\x00b": "NUL", strings.Repeat("a", MaxPathLen+1): "longer",
	}
	for in, words := range bad {
		_, err := CleanRel(in)
		if err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("CleanRel(%.20q) = %v; want an error about %s", in, err, words)
		}
	}
}

func TestChanged(t *testing.T) {
	e := Entry{Path: "f", Kind: KindFile, Size: 10, MtimeNs: 5, Mode: 0o644}
	same := e
	same.Mode, same.UID = 0o600, 7 // metadata only: the data read is still good
	if Changed(e, same) {
		t.Error("mode or owner change reported as a data change")
	}
	for _, after := range []Entry{
		{Path: "f", Kind: KindFile, Size: 11, MtimeNs: 5},
		{Path: "f", Kind: KindFile, Size: 10, MtimeNs: 6},
		{Path: "f", Kind: KindSymlink, Size: 10, MtimeNs: 5},
	} {
		if !Changed(e, after) {
			t.Errorf("change to %+v not seen", after)
		}
	}
}

func TestEntryJSONIsCompact(t *testing.T) {
	b, err := json.Marshal(Entry{Path: "a", Kind: KindFile, Mode: 0o644, MtimeNs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"p":"a","k":1,"m":420,"t":5}` {
		t.Fatalf("entry JSON %s", b)
	}
}
