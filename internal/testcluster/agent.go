package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"go.yaml.in/yaml/v3"
)

// Agent is one leptond process of a test cluster.
type Agent struct {
	c          *Cluster
	Spec       Spec
	Dir        string
	ConfigPath string
	// IP is the address the agent binds and advertises: 127.0.0.1, or
	// its own address inside Spec.Netns.
	IP         string
	GossipPort int
	QUICPort   int
	APIPort    int

	conf     map[string]any
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	exitCode int
	starts   int
}

// APIAddr is the agent's HTTP API address.
func (a *Agent) APIAddr() string { return fmt.Sprintf("http://%s:%d", a.IP, a.APIPort) }

// GossipAddr is the agent's gossip address.
func (a *Agent) GossipAddr() string { return fmt.Sprintf("%s:%d", a.IP, a.GossipPort) }

// LogPath is where the agent's output goes (appended across restarts).
func (a *Agent) LogPath() string { return filepath.Join(a.Dir, "leptond.log") }

// Client returns an API client for the agent, with the cluster's token; for
// an agent in a network namespace it connects from inside that namespace.
func (a *Agent) Client() *api.Client {
	var opts []api.Option
	if a.Spec.Netns != nil {
		opts = append(opts, api.WithHTTPClient(a.Spec.Netns.HTTPClient()))
	}
	cl, err := api.NewClient(a.APIAddr(), a.c.Token, opts...)
	if err != nil {
		a.c.t.Fatal(err)
	}
	return cl
}

// Start runs leptond with the agent's config.
func (a *Agent) Start() {
	a.c.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	logf, err := os.OpenFile(a.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		a.c.t.Fatal(err)
	}
	if err := a.writeConfig(); err != nil {
		logf.Close()
		a.c.t.Fatal(err)
	}
	a.starts++
	fmt.Fprintf(logf, "==== start %d ====\n", a.starts)
	bin, env := a.c.Bin.Leptond, []string{"NOTIFY_SOCKET="}
	if a.Spec.Rogue != "" {
		if bin, err = BuildRogue(); err != nil {
			logf.Close()
			a.c.t.Fatal(err)
		}
		env = append(env, "LEPTON_ROGUE="+a.Spec.Rogue)
	}
	cmd := a.command(bin, "--config", a.ConfigPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		logf.Close()
		a.c.t.Fatalf("start %s: %v", a.Spec.Name, err)
	}
	done := make(chan struct{})
	a.cmd, a.done = cmd, done
	go func() {
		_ = cmd.Wait()
		logf.Close()
		a.mu.Lock()
		a.exitCode = cmd.ProcessState.ExitCode()
		a.mu.Unlock()
		close(done)
	}()
}

// Running reports whether the process is alive.
func (a *Agent) Running() bool {
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to go.
func (a *Agent) Kill() { a.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM (a graceful leave) and waits up to 30 s.
func (a *Agent) Stop() { a.signal(syscall.SIGTERM, 30*time.Second) }

func (a *Agent) signal(sig syscall.Signal, wait time.Duration) {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil || !a.Running() {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Wait waits for the process to exit by itself and returns its exit code.
func (a *Agent) Wait(timeout time.Duration) (int, error) {
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	select {
	case <-done:
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.exitCode, nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("%s still running after %v", a.Spec.Name, timeout)
	}
}

// Log returns everything the agent has logged.
func (a *Agent) Log() string {
	b, _ := os.ReadFile(a.LogPath())
	return string(b)
}

// LogTail returns the last n lines of the agent's log.
func (a *Agent) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(a.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// command runs a program where the agent lives: in its network namespace,
// if it has one.
func (a *Agent) command(name string, args ...string) *exec.Cmd {
	if a.Spec.Netns != nil {
		return a.Spec.Netns.Command(name, args...)
	}
	return exec.Command(name, args...)
}

// Ctl runs the leptonctl binary against this agent (inside its network
// namespace, if it has one) and returns stdout, stderr and the exit code.
func (a *Agent) Ctl(args ...string) (string, string, int) {
	cmd := a.command(a.c.Bin.Leptonctl, args...)
	cmd.Env = append(os.Environ(), "LEPTON_ADDR="+a.APIAddr(), "LEPTON_TOKEN="+a.c.Token)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return out.String(), errb.String(), code
}

// writeConfig writes the agent's config with a join list naming every
// seed that exists now, unless the spec asks for none or sets its own.
func (a *Agent) writeConfig() error {
	conf := maps.Clone(a.conf)
	if _, set := a.Spec.Override["join"]; !set && !a.Spec.NoJoin {
		if join := a.c.joinList(a.GossipAddr()); len(join) > 0 {
			conf["join"] = join
		}
	}
	return writeYAML(a.ConfigPath, conf)
}

func writeYAML(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// PID is the running process's id, or 0.
func (a *Agent) PID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil || a.cmd.Process == nil {
		return 0
	}
	return a.cmd.Process.Pid
}

// WaitUp waits until the agent's API answers, and fails the test with the
// agent's log if the process exits first (a restart that does not come up
// is a bug worth its log).
func (a *Agent) WaitUp(timeout time.Duration) {
	a.c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if !a.Running() {
			code, _ := a.Wait(time.Second)
			a.c.t.Fatalf("%s exited (code %d) instead of coming up; log:\n%s", a.Spec.Name, code, a.LogTail(40))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := a.Client().Health(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			a.c.t.Fatalf("%s did not answer within %v: %v", a.Spec.Name, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
