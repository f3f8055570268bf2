package config

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
)

// FuzzParse shows Parse never panics or recurses without end, that every
// error it returns is made of *Error naming the file, and that a config it
// accepts holds what the agent relies on: a side, an identity whose name is
// the node's, and join addresses as host:port.
// Run: go test -fuzz FuzzParse ./internal/config/
func FuzzParse(f *testing.F) {
	stubMachine(f, "src-1", "10.0.0.5")
	fx := newFixture(f)
	for _, seed := range []string{
		validDoc.String(),
		exampleWithFixture(f, fx),
		validDoc.set("tls", "&a {<<: *a}").String(),
		validDoc.set("volumes", "\n  - &v {name: data, path: /srv/data}\n  - {<<: [*v], name: logs}").String(),
		validDoc.set("join", "&j [*j]").String(),
		validDoc.set("labels", "{<<: {a: b}, c: d}").String(),
		validDoc.set("ports", "{gossip: 99999999999999999999}").String(),
		validDoc.set("reconnect_timeout", "&d [*d]").String(),
		"tls: &m0 {ca_file: x}\ntls: &m1 {<<: [*m0, *m0, *m0]}\ntls: &m2 {<<: [*m1, *m1, *m1]}\n",
		"? [a]\n: b\n",
		"- side: source\n",
		"side: source\n---\nside: target\n",
		"{side: [\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	path := filepath.Join(fx.dir, "leptond.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(path, data)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a config and an error")
			}
			checkErrors(t, err, path)
			return
		}
		if c.Side != SideSource && c.Side != SideTarget {
			t.Fatalf("accepted side %q", c.Side)
		}
		if c.Identity == nil || c.Identity.Name != c.NodeName {
			t.Fatalf("accepted node %q with identity %+v", c.NodeName, c.Identity)
		}
		for _, j := range c.Join {
			if _, _, err := net.SplitHostPort(j); err != nil {
				t.Fatalf("accepted join address %q: %v", j, err)
			}
		}
	})
}

// checkErrors fails unless err is one *Error or several joined, each naming
// file and saying what is wrong.
func checkErrors(t *testing.T, err error, file string) {
	t.Helper()
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		var ce *Error
		if !errors.As(e, &ce) || e != error(ce) {
			t.Fatalf("error %T %q is not a *Error", e, e)
		}
		if ce.Problem == "" || ce.File != file {
			t.Fatalf("error without a problem or naming another file: %+v", ce)
		}
	}
}
