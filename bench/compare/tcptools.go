package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sessionDrain bounds the wait for sshd's sessions to end after a copy,
// so that one run's remote writes are never charged to the next.
const sessionDrain = 15 * time.Second

// tcpCopier is rsync over ssh or rclone over sftp, talking to the
// benchmark's throwaway sshd, started where the source side lives (on the
// host, or in the source namespace).
type tcpCopier struct {
	tool       string // toolRsync or toolRclone
	sshd       *sshd
	run        commandFunc
	src        tree
	dst        string
	parts      [][]string // top-level names per parallel process; nil: one process for the whole tree
	rcloneConf string     // an empty config file, so rclone needs none
	procs      *procGroups
	idle       []int // PIDs of Lepton agents idling during this tool's runs
}

func newTCPCopier(sc *scope, tool string, d *sshd, run commandFunc, src tree, dst string, parallel bool, procs *procGroups) (*tcpCopier, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, fmt.Errorf("%s target: %w", tool, err)
	}
	t := &tcpCopier{tool: tool, sshd: d, run: run, src: src, dst: dst, procs: procs}
	if parallel {
		thirds := splitThree(src.top)
		t.parts = thirds[:]
	}
	if tool == toolRclone {
		t.rcloneConf = filepath.Join(sc.TempDir(), "rclone.conf")
		if err := os.WriteFile(t.rcloneConf, nil, 0o600); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Name is the tool's name.
func (t *tcpCopier) Name() string { return t.tool }

// argv is one process's command line; part nil copies the whole tree.
func (t *tcpCopier) argv(part []string, whole bool) []string {
	if t.tool == toolRsync {
		args := []string{"rsync", "-a", "-e", strings.Join(t.sshd.SSHArgs(), " ")}
		if whole {
			args = append(args, t.src.dir+"/")
		}
		for _, p := range part {
			args = append(args, filepath.Join(t.src.dir, p))
		}
		return append(args, t.sshd.Dest()+":"+t.dst+"/")
	}
	args := []string{"rclone", "copy", t.src.dir, t.sshd.RcloneRemote(t.dst)}
	for _, p := range part {
		args = append(args, "--include", "/"+p+"/**")
	}
	return args
}

// commands is every process's command line for one copy.
func (t *tcpCopier) commands() [][]string {
	if t.parts == nil {
		return [][]string{t.argv(nil, true)}
	}
	var out [][]string
	for _, p := range t.parts {
		out = append(out, t.argv(p, false))
	}
	return out
}

// Command is the command line as run (the first of three in S4), shell-quoted.
func (t *tcpCopier) Command() string {
	cmds := t.commands()
	s := shellJoin(cmds[0])
	if t.tool == toolRclone {
		s = "RCLONE_CONFIG=" + t.rcloneConf + " " + s
	}
	if len(cmds) > 1 {
		s = fmt.Sprintf("%d in parallel, over disjoint top-level dirs; the first: %s", len(cmds), s)
	}
	return s
}

// Copy runs the tool's processes to the end or to the cap. At the cap it
// counts the bytes landed, then kills the processes; either way it waits
// for sshd's sessions to end before returning.
func (t *tcpCopier) Copy(limit time.Duration) copyResult {
	sampler := newTreeSampler(t.sshd.PID())
	idle0 := agentsCPU(t.idle)
	var res copyResult
	type proc struct {
		cmd    *exec.Cmd
		stderr *tailBuffer
	}
	type exit struct {
		i   int
		err error
	}
	var procs []proc
	done := make(chan exit, len(t.commands()))
	for _, argv := range t.commands() {
		cmd := t.run(argv[0], argv[1:]...)
		cmd.Env = os.Environ()
		if t.rcloneConf != "" {
			cmd.Env = append(cmd.Env, "RCLONE_CONFIG="+t.rcloneConf)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // one kill stops ssh too
		p := proc{cmd: cmd, stderr: &tailBuffer{max: 4096}}
		cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
		if err := cmd.Start(); err != nil {
			res.err = fmt.Errorf("start %s: %w", argv[0], err)
			break
		}
		t.procs.add(cmd.Process.Pid)
		sampler.add(cmd.Process.Pid)
		i := len(procs)
		procs = append(procs, p)
		go func() { done <- exit{i, cmd.Wait()} }()
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var errs []string
	for waiting := len(procs); waiting > 0; {
		select {
		case e := <-done:
			waiting--
			if e.err != nil {
				errs = append(errs, fmt.Sprintf("%v: %s", e.err, strings.TrimSpace(tail(procs[e.i].stderr.String(), 5))))
			}
			continue
		case <-timer.C:
		}
		// The cap: count what landed, then stop every process group.
		landed, err := bytesLanded(t.dst)
		if err != nil {
			res.err = err
		}
		res.capped, res.landed = true, landed
		for _, p := range procs {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
		for ; waiting > 0; waiting-- {
			<-done
		}
	}
	for _, p := range procs {
		t.procs.remove(p.cmd.Process.Pid)
	}
	waitNoneBelow(t.sshd.PID(), sessionDrain)
	res.peakRSS, res.peakOf = sampler.close()
	if len(t.idle) > 0 {
		res.extra = map[string]float64{"lepton_idle_agents_cpu_seconds": agentsCPU(t.idle) - idle0}
	}
	if res.err == nil && !res.capped && len(errs) > 0 {
		res.err = errors.New(strings.Join(errs, "; "))
	}
	return res
}

// Verify checks the copy: rsync -a keeps everything Compare checks;
// rclone copy keeps file contents and mtimes but not directories' mtimes,
// modes or owners, so only the file set, sizes and bytes are checked.
func (t *tcpCopier) Verify() error {
	if t.tool == toolRclone {
		return verifyContent(t.src.dir, t.dst)
	}
	return verifyStrict(t.src.dir, t.dst)
}

// Clear empties the target.
func (t *tcpCopier) Clear() error { return emptyDir(t.dst) }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// procGroups are the process groups of running tools, for Ctrl-C.
type procGroups struct {
	mu   sync.Mutex
	pids map[int]bool
}

func (g *procGroups) add(pid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pids == nil {
		g.pids = map[int]bool{}
	}
	g.pids[pid] = true
}

func (g *procGroups) remove(pid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pids, pid)
}

// killAll sends SIGKILL to every running tool's process group.
func (g *procGroups) killAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for pid := range g.pids {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// shellJoin quotes args for a shell, so a printed command can be pasted.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@,+%^", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
