package main

import (
	"strings"
	"testing"
)

func TestSSHDConfigRender(t *testing.T) {
	text, err := sshdConfig{Port: 40123, ListenAddress: "10.201.0.21", HostKey: "/tmp/x/host_ed25519",
		AuthorizedKeys: "/tmp/x/authorized_keys", PidFile: "/tmp/x/sshd.pid", SftpServer: sftpServer, LogLevel: "INFO"}.render()
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		if _, dup := lines[k]; dup {
			t.Errorf("%s set twice", k)
		}
		lines[k] = v
	}
	for k, want := range map[string]string{
		"Port": "40123", "ListenAddress": "10.201.0.21", "HostKey": "/tmp/x/host_ed25519",
		"AuthorizedKeysFile": "/tmp/x/authorized_keys", "PidFile": "/tmp/x/sshd.pid",
		"PermitRootLogin": "prohibit-password", "PasswordAuthentication": "no", "StrictModes": "no",
		"UsePAM": "no", "Subsystem": "sftp " + sftpServer, "SetEnv": "SHLVL=1", "LogLevel": "INFO",
	} {
		if lines[k] != want {
			t.Errorf("%s = %q, want %q", k, lines[k], want)
		}
	}
}

func TestClientCommands(t *testing.T) {
	d := &sshd{Host: "127.0.0.1", Port: 2222, User: "root", Key: "/k/client"}
	if got, want := strings.Join(d.SSHArgs(), " "), "ssh -p 2222 -i /k/client -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"; got != want {
		t.Errorf("ssh: %s\nwant %s", got, want)
	}
	if got, want := d.RcloneRemote("/dst"), ":sftp,host=127.0.0.1,port=2222,user=root,key_file=/k/client,shell_type=unix:/dst"; got != want {
		t.Errorf("rclone remote: %s, want %s", got, want)
	}
	tc := &tcpCopier{tool: toolRsync, sshd: d, src: tree{dir: "/s", top: []string{"a", "b", "c", "d"}}, dst: "/t"}
	if got, want := tc.Command(), "rsync -a -e 'ssh -p 2222 -i /k/client -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR' /s/ root@127.0.0.1:/t/"; got != want {
		t.Errorf("rsync: %s\nwant %s", got, want)
	}
	tc.parts = [][]string{{"a", "d"}, {"b"}, {"c"}}
	if got := tc.commands(); len(got) != 3 || strings.Join(got[0][4:], " ") != "/s/a /s/d root@127.0.0.1:/t/" {
		t.Errorf("parallel rsync: %q", got)
	}
	rc := &tcpCopier{tool: toolRclone, sshd: d, src: tree{dir: "/s"}, dst: "/t", parts: [][]string{{"a", "d"}}}
	if got := strings.Join(rc.commands()[0], " "); got != "rclone copy /s "+d.RcloneRemote("/t")+" --include /a/** --include /d/**" {
		t.Errorf("parallel rclone: %s", got)
	}
}

func TestCiphersSince(t *testing.T) {
	log := `debug1: kex: client->server cipher: chacha20-poly1305@openssh.com MAC: <implicit> compression: none [preauth]
debug1: kex: server->client cipher: chacha20-poly1305@openssh.com MAC: <implicit> compression: none [preauth]
`
	from := len(log)
	log += `debug1: kex: client->server cipher: aes128-ctr MAC: hmac-sha2-256-etm@openssh.com compression: none [preauth]
debug1: kex: client->server cipher: aes128-ctr MAC: hmac-sha2-256-etm@openssh.com compression: none [preauth]
`
	if got := ciphersSince(log, 0); len(got) != 2 || got[0] != "chacha20-poly1305@openssh.com" {
		t.Errorf("from the start: %q", got)
	}
	if got := ciphersSince(log, from); len(got) != 1 || got[0] != "aes128-ctr (hmac-sha2-256-etm@openssh.com)" {
		t.Errorf("after the first connection: %q", got)
	}
	if got := ciphersSince(log, len(log)+10); got != nil {
		t.Errorf("past the end: %q", got)
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"rsync", "-a", "-e", "ssh -p 1", "/a b/", "it's", ""})
	if want := `rsync -a -e 'ssh -p 1' '/a b/' 'it'\''s' ''`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
