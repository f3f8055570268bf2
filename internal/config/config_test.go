package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/pki"
)

func TestLoadValidAppliesDefaults(t *testing.T) {
	stubMachine(t, "ignored-host", "10.9.9.9")
	f := newFixture(t)
	path := f.write(t, validDoc.String())

	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"NodeName", c.NodeName, "src-1"},
		{"Side", c.Side, SideSource},
		{"Labels", c.Labels, map[string]string{"cloud": "aliyun", "zone": "hz-b"}},
		{"DataDir", c.DataDir, "/var/lib/lepton"},
		{"AdvertiseAddr", c.AdvertiseAddr, "127.0.0.1"},
		{"Ports", c.Ports, Ports{Gossip: 7946, QUIC: 7947, API: 7948}},
		{"APIBind", c.APIBind, "127.0.0.1"},
		{"Token", c.Token, "s3cret-token"},
		{"Join", c.Join, []string{"10.0.0.6:7946", "10.0.0.7:7946", "[fd00::6]:7946", "src-2.example.internal:8000"}},
		{"BootstrapExpect", c.BootstrapExpect, 3},
		{"Server", c.Server, true},
		{"GossipProfile", c.GossipProfile, "lan"},
		{"GossipKey", string(c.GossipKey), "0123456789abcdef0123456789abcdef"},
		{"TLS.CAFile", c.TLS.CAFile, filepath.Join(f.dir, "tls", "ca.pem")},
		{"TLS.CertFile", c.TLS.CertFile, filepath.Join(f.dir, "tls", "src-1.pem")},
		{"TLS.KeyFile", c.TLS.KeyFile, filepath.Join(f.dir, "tls", "src-1-key.pem")},
		{"APITokenFile", c.APITokenFile, filepath.Join(f.dir, "token")},
		{"Volumes", c.Volumes, []Volume{{Name: "data", Path: "/srv/data"}, {Name: "logs", Path: "/srv/logs", Shared: true}}},
		{"Drills", c.Drills, false},
		{"RaftVoters", c.RaftVoters, 5},
		{"LogLevel", c.LogLevel, "info"},
		{"LogFormat", c.LogFormat, "auto"},
		{"ReconnectTimeout", c.ReconnectTimeout.Duration, 72 * time.Hour},
		{"File", c.File, path},
		{"GossipAddr", c.GossipAddr(), "127.0.0.1:7946"},
		{"QUICAddr", c.QUICAddr(), "127.0.0.1:7947"},
		{"APIAddr", c.APIAddr(), "127.0.0.1:7948"},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if c.Identity == nil || c.Identity.Name != "src-1" {
		t.Errorf("Identity = %+v, want the certificate of src-1", c.Identity)
	}
}

func TestMachineDefaults(t *testing.T) {
	f := newFixture(t)
	text := validDoc.del("node_name").del("bind_addr").String()
	path := f.write(t, text)

	t.Run("hostname and private IP", func(t *testing.T) {
		stubMachine(t, "src-1", "10.0.0.5")
		c, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.NodeName != "src-1" || c.BindAddr != "0.0.0.0" || c.AdvertiseAddr != "10.0.0.5" {
			t.Errorf("node_name %q bind_addr %q advertise_addr %q, want src-1 0.0.0.0 10.0.0.5", c.NodeName, c.BindAddr, c.AdvertiseAddr)
		}
		if c.GossipAddr() != "10.0.0.5:7946" || c.QUICAddr() != "10.0.0.5:7947" {
			t.Errorf("GossipAddr %s QUICAddr %s", c.GossipAddr(), c.QUICAddr())
		}
	})
	t.Run("no private IP", func(t *testing.T) {
		stubMachine(t, "src-1", "")
		_, err := Load(path)
		wantOne(t, err, "advertise_addr", "no private IPv4 address; set advertise_addr")
	})
	t.Run("hostname not a node name", func(t *testing.T) {
		stubMachine(t, "bad host", "10.0.0.5")
		_, err := Load(path)
		wantOne(t, err, "node_name", `hostname "bad host" is not a valid node name`)
	})
}

// wantOne checks that err holds exactly one *Error, with key and a message
// containing each of msgs.
func wantOne(t *testing.T, err error, key string, msgs ...string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one on %q", key)
	}
	errs := configErrors(err)
	if len(errs) != 1 {
		t.Fatalf("got %d config errors, want 1 on %q: %v", len(errs), key, err)
	}
	e := errs[0]
	if e.Key != key {
		t.Errorf("Key = %q, want %q (%v)", e.Key, key, e)
	}
	if !strings.HasPrefix(e.Error(), "config "+e.File+": ") || e.File == "" {
		t.Errorf("message %q does not start with the file", e.Error())
	}
	for _, m := range msgs {
		if !strings.Contains(e.Error(), m) {
			t.Errorf("message %q\n  lacks %q", e.Error(), m)
		}
	}
	return e
}

func TestBadConfigs(t *testing.T) {
	stubMachine(t, "src-1", "10.0.0.5")
	f := newFixture(t)
	tlsWith := func(ca, cert, key string) string {
		return fmt.Sprintf("{ca_file: %s, cert_file: %s, key_file: %s}", ca, cert, key)
	}
	cases := []struct {
		name string
		doc  doc
		text string // used instead of doc when set
		key  string
		msgs []string
		is   error
	}{
		{name: "unknown key", doc: validDoc.set("bootstrap_expected", "3"), key: "",
			msgs: []string{`line 13: unknown key "bootstrap_expected" (did you mean "bootstrap_expect"?)`}},
		{name: "unknown nested key", doc: validDoc.set("tls", "{ca_file: tls/ca.pem, cert_fle: tls/src-1.pem, key_file: tls/src-1-key.pem}"), key: "",
			msgs: []string{`line 9: unknown key "tls.cert_fle" (did you mean "tls.cert_file"?)`}},
		{name: "nested key at top level", doc: validDoc.set("gossip", "7000"), key: "",
			msgs: []string{`unknown key "gossip" (did you mean "ports.gossip"?)`}},
		{name: "unknown key in a volume", doc: validDoc.set("volumes", "\n  - {name: data, path: /srv/data, share: true}"), key: "",
			msgs: []string{`line 11: unknown key "volumes[0].share" (did you mean "volumes[0].shared"?)`}},
		{name: "bad YAML", text: "side: source\nlabels: {cloud: aliyun\nencrypt: x\n", key: "",
			msgs: []string{"not valid YAML: line ", "did not find expected"}},
		{name: "tab indentation", text: "side: source\ntls:\n\tca_file: x\n", key: "", msgs: []string{"not valid YAML: line 3"}},
		{name: "wrong type", doc: validDoc.set("ports", "{gossip: seven}"), key: "ports.gossip",
			msgs: []string{`line 13: want a whole number, got "seven"`}},
		{name: "list for a string", doc: validDoc.set("side", "[source]"), key: "side", msgs: []string{"line 2: want a single value, got a list"}},
		{name: "top level is a list", text: "- side: source\n", key: "", msgs: []string{"line 1: want a mapping of keys"}},
		{name: "empty file", text: "# nothing yet\n", key: "", msgs: []string{"is empty"}},
		{name: "two documents", text: validDoc.String() + "---\nside: target\n", key: "", msgs: []string{"a second YAML document"}},

		{name: "missing TLS key", doc: validDoc.set("tls", "{ca_file: tls/ca.pem, cert_file: tls/src-1.pem}"), key: "tls.key_file",
			msgs: []string{"line 9: required"}},
		{name: "missing TLS file", doc: validDoc.set("tls", tlsWith("tls/ca.pem", "tls/nope.pem", "tls/src-1-key.pem")), key: "tls.cert_file",
			msgs: []string{filepath.Join(f.dir, "tls", "nope.pem") + " does not exist"}},
		{name: "unreadable TLS file", doc: validDoc.set("tls", tlsWith("tls/dir.pem", "tls/src-1.pem", "tls/src-1-key.pem")), key: "tls.ca_file",
			msgs: []string{"dir.pem: is a directory"}},
		{name: "CA file holds no certificate", doc: validDoc.set("tls", tlsWith("tls/ca-key.pem", "tls/src-1.pem", "tls/src-1-key.pem")), key: "tls.ca_file",
			msgs: []string{"no PEM certificate found"}},
		{name: "cert from another CA", doc: validDoc.set("tls", tlsWith("tls/ca.pem", "other/src-1.pem", "other/src-1-key.pem")), key: "tls.cert_file",
			msgs: []string{"not signed by the cluster CA", "leptonctl tls cert create --name src-1"}, is: pki.ErrNotSignedByCA},
		{name: "cert for another node", doc: validDoc.set("tls", tlsWith("tls/ca.pem", "tls/src-2.pem", "tls/src-2-key.pem")), key: "tls.cert_file",
			msgs: []string{`certificate is for "src-2" but node_name is "src-1"; issue one with: leptonctl tls cert create --name src-1`}},
		{name: "key of another cert", doc: validDoc.set("tls", tlsWith("tls/ca.pem", "tls/src-1.pem", "tls/src-2-key.pem")), key: "tls.key_file",
			msgs: []string{"src-2-key.pem", "does not match", "-key.pem file written together"}},

		{name: "side missing", doc: validDoc.del("side"), key: "side", msgs: []string{"required: source or target"}},
		{name: "side wrong", doc: validDoc.set("side", "origin"), key: "side", msgs: []string{`line 2: is "origin"; want source or target`}},
		{name: "node name", doc: validDoc.set("node_name", "src/1"), key: "node_name", msgs: []string{`"src/1" is not a valid node name`}},
		{name: "label name", doc: validDoc.set("labels", `{"bad key": x}`), key: "labels.bad key", msgs: []string{"label name"}},
		{name: "relative data_dir", doc: validDoc.set("data_dir", "lepton"), key: "data_dir", msgs: []string{`"lepton" is not an absolute path`}},

		{name: "bind_addr not an IP", doc: validDoc.set("bind_addr", "eth0"), key: "bind_addr", msgs: []string{`"eth0" is not an IP address`}},
		{name: "advertise unspecified", doc: validDoc.set("advertise_addr", "0.0.0.0"), key: "advertise_addr", msgs: []string{"not an address other agents can reach"}},
		{name: "api_bind not an IP", doc: validDoc.set("api_bind", "localhost"), key: "api_bind", msgs: []string{`"localhost" is not an IP address`}},
		{name: "open API without token", doc: validDoc.del("api_token_file").set("api_bind", "0.0.0.0"), key: "api_bind",
			msgs: []string{"reachable from other hosts but no API token"}},

		{name: "port zero", doc: validDoc.set("ports", "{api: 0}"), key: "ports.api", msgs: []string{"is 0; want a port from 1 to 65535"}},
		{name: "port too big", doc: validDoc.set("ports", "{quic: 70000}"), key: "ports.quic", msgs: []string{"is 70000"}},
		{name: "ports collide", doc: validDoc.set("ports", "{gossip: 8000, quic: 8000}"), key: "ports.quic", msgs: []string{"the same as ports.gossip"}},

		{name: "token twice", doc: validDoc.set("api_token", "abc"), key: "api_token", msgs: []string{"set together with api_token_file; keep one"}},
		{name: "token file missing", doc: validDoc.set("api_token_file", "/nonexistent/token"), key: "api_token_file",
			msgs: []string{"/nonexistent/token: no such file or directory"}},
		{name: "token file empty", doc: validDoc.set("api_token_file", "empty-token"), key: "api_token_file", msgs: []string{"is empty"}},
		{name: "token with space", doc: validDoc.del("api_token_file").set("api_token", `"two words"`), key: "api_token", msgs: []string{"spaces"}},

		{name: "join port not a number", doc: validDoc.set("join", `["10.0.0.6:abc"]`), key: "join[0]", msgs: []string{`port "abc" is not a number`}},
		{name: "join port out of range", doc: validDoc.set("join", `["10.0.0.6:7946", "10.0.0.7:70000"]`), key: "join[1]", msgs: []string{`"10.0.0.7:70000"`, "1 to 65535"}},
		{name: "join empty port", doc: validDoc.set("join", `["10.0.0.6:"]`), key: "join[0]", msgs: []string{`port ""`}},
		{name: "join no host", doc: validDoc.set("join", `[":7946"]`), key: "join[0]", msgs: []string{"no host"}},
		{name: "join bad host", doc: validDoc.set("join", `["bad_host:7946"]`), key: "join[0]", msgs: []string{`host "bad_host" is not an IP address or DNS name`}},
		{name: "join bad IPv4", doc: validDoc.set("join", `["10.0.0.300"]`), key: "join[0]", msgs: []string{`host "10.0.0.300"`}},
		{name: "join too many colons", doc: validDoc.set("join", `["10.0.0.6:7946:1"]`), key: "join[0]", msgs: []string{"too many colons"}},
		{name: "join scheme", doc: validDoc.set("join", `["tcp://10.0.0.6:7946"]`), key: "join[0]", msgs: []string{"has a scheme"}},
		{name: "join unbracketed IPv6 with port", doc: validDoc.set("join", `["fd00::6:7946:x"]`), key: "join[0]", msgs: []string{"[fd00::6]:7946"}},
		{name: "join empty", doc: validDoc.set("join", `[""]`), key: "join[0]", msgs: []string{"empty"}},

		{name: "bootstrap without server", doc: validDoc.set("server", "false"), key: "bootstrap_expect",
			msgs: []string{"is 3 but server is false"}},
		{name: "bootstrap negative", doc: validDoc.set("bootstrap_expect", "-1"), key: "bootstrap_expect", msgs: []string{"is -1"}},
		{name: "raft_voters even", doc: validDoc.set("raft_voters", "4"), key: "raft_voters", msgs: []string{"line 13: is 4; want an odd number from 1 to 9"}},
		{name: "raft_voters too many", doc: validDoc.set("raft_voters", "11"), key: "raft_voters", msgs: []string{"is 11"}},
		{name: "gossip profile", doc: validDoc.set("gossip_profile", "lan2"), key: "gossip_profile", msgs: []string{`is "lan2"`}},

		{name: "encrypt missing", doc: validDoc.del("encrypt"), key: "encrypt", msgs: []string{"required", "leptonctl keygen"}},
		{name: "encrypt not base64", doc: validDoc.set("encrypt", "not-base64!"), key: "encrypt", msgs: []string{"not valid base64", "leptonctl keygen"}},
		{name: "encrypt short", doc: validDoc.set("encrypt", "c2hvcnQ="), key: "encrypt", msgs: []string{"decodes to 5 bytes", "leptonctl keygen"}},

		{name: "duplicate volume", doc: validDoc.set("volumes", "\n  - {name: data, path: /srv/a}\n  - {name: data, path: /srv/b}"), key: "volumes[1].name",
			msgs: []string{`line 12: "data" is also the name of volumes[0]`}},
		{name: "volume name", doc: validDoc.set("volumes", "\n  - {name: -data, path: /srv/a}"), key: "volumes[0].name", msgs: []string{"not a valid volume name"}},
		{name: "volume name missing", doc: validDoc.set("volumes", "\n  - {path: /srv/a}"), key: "volumes[0].name", msgs: []string{"line 11: required"}},
		{name: "relative volume path", doc: validDoc.set("volumes", "\n  - {name: data, path: srv/data}"), key: "volumes[0].path",
			msgs: []string{`"srv/data" is not an absolute path`}},
		{name: "unclean volume path", doc: validDoc.set("volumes", "\n  - {name: data, path: /srv/../srv/data/}"), key: "volumes[0].path",
			msgs: []string{`write "/srv/data"`}},
		{name: "volumes not a list", doc: validDoc.set("volumes", "{name: data}"), key: "volumes", msgs: []string{"want a list, got a mapping"}},

		{name: "log level", doc: validDoc.set("log_level", "verbose"), key: "log_level", msgs: []string{`is "verbose"`}},
		{name: "log format", doc: validDoc.set("log_format", "xml"), key: "log_format", msgs: []string{`is "xml"`}},
		{name: "duration without unit", doc: validDoc.set("reconnect_timeout", "72"), key: "reconnect_timeout", msgs: []string{`want a duration such as 72h or 30m, got "72"`}},
		{name: "duration too short", doc: validDoc.set("reconnect_timeout", "10ms"), key: "reconnect_timeout", msgs: []string{"want at least 1s"}},
		{name: "memory limit too small", doc: validDoc.set("memory_limit", "16MiB"), key: "memory_limit", msgs: []string{"want 0 (no limit) or at least 64MiB"}},
		{name: "memory limit not a size", doc: validDoc.set("memory_limit", "lots"), key: "memory_limit", msgs: []string{"lots"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.text
			if text == "" {
				text = tc.doc.String()
			}
			path := f.write(t, text)
			c, err := Load(path)
			if c != nil {
				t.Errorf("Load returned a config with error %v", err)
			}
			e := wantOne(t, err, tc.key, tc.msgs...)
			t.Log(err)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if e != nil && e.File != path {
				t.Errorf("File = %q, want %q", e.File, path)
			}
		})
	}
}

func TestManyProblemsAllReportedInKeyOrder(t *testing.T) {
	stubMachine(t, "src-1", "10.0.0.5")
	f := newFixture(t)
	text := validDoc.set("side", "x").set("raft_voters", "2").set("ports", "{api: 0}").String()
	_, err := Load(f.write(t, text))
	var keys []string
	for _, e := range configErrors(err) {
		keys = append(keys, e.Key)
	}
	if want := []string{"side", "ports.api", "raft_voters"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys = %v, want %v (%v)", keys, want, err)
	}
	if n := strings.Count(err.Error(), "\n"); n != 2 {
		t.Errorf("want one line per problem, got %q", err.Error())
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leptond.yaml")
	_, err := Load(path)
	e := wantOne(t, err, "", "cannot read: no such file or directory")
	if e.File != path {
		t.Errorf("File = %q", e.File)
	}
}

func TestParseResolvesAgainstGivenPath(t *testing.T) {
	stubMachine(t, "src-1", "10.0.0.5")
	f := newFixture(t)
	c, err := Parse(filepath.Join(f.dir, "not-written.yaml"), []byte(validDoc.String()))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(f.dir, "tls", "ca.pem"); c.TLS.CAFile != want {
		t.Errorf("CAFile = %q, want %q", c.TLS.CAFile, want)
	}
}

func TestLevel(t *testing.T) {
	for in, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		c := &Config{LogLevel: in}
		if got := c.Level().String(); got != want {
			t.Errorf("Level(%s) = %s, want %s", in, got, want)
		}
	}
}
