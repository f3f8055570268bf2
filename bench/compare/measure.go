package main

import (
	"fmt"
	"github.com/leptonmesh/lepton/internal/procstat"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssSampleEvery is how often the process-tree sampler looks at /proc.
const rssSampleEvery = 50 * time.Millisecond

// machineCPU is the whole machine's busy CPU time in seconds since boot:
// user + nice + system + irq + softirq over every core, from /proc/stat's
// "cpu" line. Both ends of a copy, ssh and sshd, the link emulator and the
// kernel's network processing are all in it, so every tool is charged by
// the same rule. Idle, iowait and steal are left out.
func machineCPU() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("machine CPU: %w", err)
	}
	return parseMachineCPU(string(data))
}

func parseMachineCPU(stat string) (float64, error) {
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "cpu" {
			continue
		}
		var ticks float64
		for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat field %d: %w", i, err)
			}
			ticks += v
		}
		return ticks / procstat.TicksPerSecond(), nil
	}
	return 0, fmt.Errorf("/proc/stat has no cpu line")
}

// parentOf reads the parent pid from /proc/PID/stat's text (field 4; the
// command name in field 2 may hold spaces and parentheses, so fields are
// counted after the last ')').
func parentOf(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// descendants returns roots and every process below them in parents
// (pid → ppid).
func descendants(parents map[int]int, roots []int) []int {
	children := map[int][]int{}
	for pid, ppid := range parents {
		children[ppid] = append(children[ppid], pid)
	}
	return walkTree(roots, func(pid int) []int { return children[pid] })
}

// walkTree returns roots and every process reached from them through
// children, each once, at most 100,000.
func walkTree(roots []int, children func(pid int) []int) []int {
	seen := map[int]bool{}
	var out []int
	queue := append([]int(nil), roots...)
	for len(queue) > 0 && len(out) < 100_000 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children(pid)...)
	}
	return out
}

// childrenFiles reports whether this kernel lists a task's children in
// /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN).
var childrenFiles = sync.OnceValue(func() bool {
	pid := os.Getpid()
	_, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	return err == nil
})

// childrenOf lists pid's child processes from its tasks' children files.
func childrenOf(pid int) []int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// processTree returns roots and every process below them. It walks the
// children files, which touches only the tree (a few dozen reads), and
// falls back to reading every process's parent where they are missing.
func processTree(roots []int) []int {
	if !childrenFiles() {
		return descendants(processParents(), roots)
	}
	return walkTree(roots, childrenOf)
}

// processParents reads pid → ppid for every process.
func processParents() map[int]int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make(map[int]int, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if ppid, ok := parentOf(string(data)); ok {
			out[pid] = ppid
		}
	}
	return out
}

// treeSampler follows the peak RSS of the largest single process among
// some process trees: the tool's client processes and everything below
// them, and the sessions below the benchmark's sshd (not sshd's listener
// itself). Every rssSampleEvery it reads VmHWM of each process in those
// trees, so a process that lived between two samples still counts if it
// was seen once.
type treeSampler struct {
	mu     sync.Mutex
	roots  []int // whole trees, roots included
	under  []int // only what is below these
	peak   int64
	peakOf string
	stop   chan struct{}
	done   chan struct{}
}

func newTreeSampler(under ...int) *treeSampler {
	t := &treeSampler{under: under, stop: make(chan struct{}), done: make(chan struct{})}
	go t.loop()
	return t
}

// add adds a tool process (and what it starts) to the sample.
func (t *treeSampler) add(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.roots = append(t.roots, pid)
}

func (t *treeSampler) loop() {
	defer close(t.done)
	tick := time.NewTicker(rssSampleEvery)
	defer tick.Stop()
	for {
		t.sample()
		select {
		case <-t.stop:
			t.sample()
			return
		case <-tick.C:
		}
	}
}

func (t *treeSampler) sample() {
	t.mu.Lock()
	roots, under := append([]int(nil), t.roots...), append([]int(nil), t.under...)
	t.mu.Unlock()
	pids := processTree(roots)
	for _, u := range under {
		for _, pid := range processTree([]int{u}) {
			if pid != u {
				pids = append(pids, pid)
			}
		}
	}
	for _, pid := range pids {
		hwm, err := procstat.PeakRSS(pid)
		if err != nil {
			continue // gone, or a zombie
		}
		t.mu.Lock()
		if hwm > t.peak {
			t.peak = hwm
			if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
				t.peakOf = strings.TrimSpace(string(comm))
			}
		}
		t.mu.Unlock()
	}
}

// close stops sampling and returns the peak seen and the name of the
// process that had it.
func (t *treeSampler) close() (int64, string) {
	close(t.stop)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peak, t.peakOf
}
