package main

import (
	"strings"
	"testing"
)

func TestUsageErrorsExitTwo(t *testing.T) {
	agent := newFakeAgent(t, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "leptonctl"`},
		{[]string{"stauts"}, `did you mean "status"?`},
		{[]string{"raft", "bogus"}, `unknown command "bogus" for "leptonctl raft"`},
		{[]string{"tls", "ca", "delete"}, `unknown command "delete" for "leptonctl tls ca"`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"status", "extra"}, `unexpected argument "extra"`},
		{[]string{"force-leave"}, "takes one argument, NAME; got 0"},
		{[]string{"force-leave", "a", "b"}, "takes one argument, NAME; got 2"},
		{[]string{"status", "--timeout", "soon"}, `invalid argument "soon" for "--timeout"`},
		{[]string{"status", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"status", "--addr", "ftp://" + strings.TrimPrefix(agent.URL, "http://")}, "use http:// or https://"},
	} {
		_, stderr := wantExit(t, tc.args, 2, tc.want)
		if !strings.Contains(stderr, "Usage:") {
			t.Errorf("leptonctl %s: usage error without usage:\n%s", strings.Join(tc.args, " "), stderr)
		}
	}
}

func TestHelpAndCompletion(t *testing.T) {
	for _, args := range [][]string{{}, {"--help"}, {"raft"}, {"tls", "cert", "--help"}} {
		stdout, _ := wantExit(t, args, 0)
		if !strings.Contains(stdout, "Usage:") {
			t.Errorf("leptonctl %s printed no help:\n%s", strings.Join(args, " "), stdout)
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		stdout, _ := wantExit(t, []string{"completion", shell}, 0)
		if !strings.Contains(stdout, "leptonctl") {
			t.Errorf("completion %s does not mention leptonctl", shell)
		}
	}
}
