package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// sshdBinary and sftpServer are Debian's paths (openssh-server).
const (
	sshdBinary = "/usr/sbin/sshd"
	sftpServer = "/usr/lib/openssh/sftp-server"
	// sshdStartWait bounds the wait for a new sshd to accept connections.
	sshdStartWait = 15 * time.Second
)

// sshdConfig is what a throwaway sshd is told: one port on one address,
// its own host key, one authorized client key, no PAM, no passwords.
type sshdConfig struct {
	Port           int
	ListenAddress  string
	HostKey        string
	AuthorizedKeys string
	PidFile        string
	SftpServer     string
	// LogLevel is INFO while measuring; DEBUG1 for the probe that reads
	// which cipher each client negotiated ("kex: client->server cipher").
	LogLevel string
}

var sshdTemplate = template.Must(template.New("sshd_config").Parse(`# A throwaway sshd for bench/compare; removed when the run ends.
Port {{.Port}}
ListenAddress {{.ListenAddress}}
HostKey {{.HostKey}}
AuthorizedKeysFile {{.AuthorizedKeys}}
PidFile {{.PidFile}}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
MaxStartups 32:30:100
Subsystem sftp {{.SftpServer}}
# Sessions start with SHLVL=1, so bash skips ~/.bashrc for remote commands
# (Debian's bash sources it for ssh commands only at shell level 1): a
# heavy root .bashrc (pyenv init here, ~80 ms of CPU) would otherwise be
# charged to every command: once per rsync, once per file for rclone's
# md5sum.
SetEnv SHLVL=1
LogLevel {{.LogLevel}}
`))

// render writes the config file's text.
func (c sshdConfig) render() (string, error) {
	var b bytes.Buffer
	if err := sshdTemplate.Execute(&b, c); err != nil {
		return "", fmt.Errorf("render sshd_config: %w", err)
	}
	return b.String(), nil
}

// sshd is a running throwaway sshd and the client side that reaches it.
type sshd struct {
	Host    string // address the clients connect to
	Port    int
	User    string
	Key     string // the client's private key
	dir     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// commandFunc starts a program where it must run: on the host, or inside a
// network namespace.
type commandFunc func(name string, args ...string) *exec.Cmd

// hostCommand runs a program in the host's own namespace.
func hostCommand(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }

// dialFunc opens a connection from where the clients run.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// startSSHD makes a host key and a client key in dir, writes the config,
// starts sshd -D with run (host or namespace) on listen:port (port 0
// picks a free port on the host) and waits until dial connects to it.
func startSSHD(dir, listen string, port int, logLevel string, run commandFunc, dial dialFunc) (*sshd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sshd dir: %w", err)
	}
	if os.Geteuid() == 0 { // sshd's privilege separation directory (Debian's unit makes it)
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, fmt.Errorf("make /run/sshd: %w", err)
		}
	}
	hostKey, clientKey := filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "client_ed25519")
	for _, k := range []string{hostKey, clientKey} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lepton-bench", "-f", k).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("ssh-keygen %s: %v: %s", k, err, out)
		}
	}
	pub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		return nil, err
	}
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = freeTCPPort(listen); err != nil {
			return nil, err
		}
	}
	conf := sshdConfig{Port: port, ListenAddress: listen, HostKey: hostKey, AuthorizedKeys: auth,
		PidFile: filepath.Join(dir, "sshd.pid"), SftpServer: sftpServer, LogLevel: logLevel}
	text, err := conf.render()
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confPath, []byte(text), 0o600); err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	d := &sshd{Host: listen, Port: port, User: u.Username, Key: clientKey, dir: dir,
		logPath: filepath.Join(dir, "sshd.log"), done: make(chan struct{})}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	// -E rather than -e: with -e a session's early debug lines reach the
	// client's stderr.
	d.cmd = run(sshdBinary, "-D", "-E", d.logPath, "-f", confPath)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C at the terminal must not end sshd
	// before Stop has ended its sessions.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	go func() {
		_ = d.cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	addr := net.JoinHostPort(listen, strconv.Itoa(port))
	deadline := time.Now().Add(sshdStartWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := dial(ctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("sshd exited instead of listening on %s: %s", addr, tail(d.Log(), 10))
		default:
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("sshd not accepting on %s after %v: %v; log: %s", addr, sshdStartWait, err, tail(d.Log(), 10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PID is sshd's listener process.
func (d *sshd) PID() int { return d.cmd.Process.Pid }

// Log is everything sshd has logged.
func (d *sshd) Log() string {
	b, _ := os.ReadFile(d.logPath)
	return string(b)
}

// Stop ends the sessions below sshd and sshd itself: SIGTERM, then
// SIGKILL after 5 s.
func (d *sshd) Stop() {
	killBelow(d.PID())
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// SSHArgs is the ssh client command every tool uses: this key, this port,
// no known-hosts file, never a prompt.
func (d *sshd) SSHArgs() []string {
	return []string{"ssh", "-p", strconv.Itoa(d.Port), "-i", d.Key,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"}
}

// Dest is user@host for the ssh client.
func (d *sshd) Dest() string { return d.User + "@" + d.Host }

// RcloneRemote is an rclone on-the-fly sftp remote (no config file) for
// path on the sshd's host. shell_type=unix skips rclone's shell probe;
// rclone then hashes uploads with md5sum over ssh, as it does by default
// against a unix shell. No known_hosts_file: setting one turns host-key
// checking on.
func (d *sshd) RcloneRemote(path string) string {
	return fmt.Sprintf(":sftp,host=%s,port=%d,user=%s,key_file=%s,shell_type=unix:%s", d.Host, d.Port, d.User, d.Key, path)
}

var kexCipher = regexp.MustCompile(`kex: client->server cipher: (\S+) MAC: (\S+)`)

// ciphersSince returns the client→server ciphers (and MACs) sshd
// negotiated in the log after byte offset from, in order, without repeats.
func ciphersSince(log string, from int) []string {
	if from > len(log) {
		from = len(log)
	}
	var out []string
	for _, m := range kexCipher.FindAllStringSubmatch(log[from:], -1) {
		c := m[1]
		if m[2] != "<implicit>" {
			c += " (" + m[2] + ")"
		}
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// freeTCPPort asks the kernel for a free TCP port on host.
func freeTCPPort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// killBelow sends SIGKILL to every process below pid (not pid itself):
// the sessions of the benchmark's own sshd, or what a stopped tool left.
func killBelow(pid int) {
	for _, p := range processTree([]int{pid}) {
		if p != pid {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// waitNoneBelow waits (bounded) until no process is left below pid, and
// kills what is after timeout. Runs must not overlap: a session still
// writing would be charged to the next run.
func waitNoneBelow(pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if len(processTree([]int{pid})) <= 1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	killBelow(pid)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
