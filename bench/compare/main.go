// Command compare is `make bench` and `make bench-quick`: it measures
// Lepton side by side with rsync over ssh and rclone over sftp, on the same
// data in the same run, and says how far Lepton is from issue 5's goals.
//
// Scenarios: S1 bulk (a mixed 2 GiB tree, one source agent to one target
// agent, tmpfs), S2 small files (100,000 files of 4 KiB), S3 WAN (S1's kind
// of tree across an emulated 1 Gbit/s, 50 ms link, random loss swept), S4
// fan-out (three source agents to three target agents on shared volumes;
// three parallel rsync or rclone processes over thirds of the tree). Runs
// are interleaved (each repeat starting with the next tool) and repeated; tables
// show medians. Every copy is checked against its source and a wrong one
// is FAILED, never a time. Results go to stdout as Markdown and to
// bench/results/ as JSON; progress goes to stderr.
//
// It runs real leptond processes (internal/testcluster; LEPTON_BIN_DIR
// names binaries `make build` made), a throwaway sshd on its own port with
// throwaway keys, and the Debian rsync, rclone and OpenSSH that
// bench/deps.sh installs. S3 needs root (network namespaces).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/internal/jobspec"
)

// config is what the flags chose.
type config struct {
	mode       string
	only       []string
	tools      []string // tools to run; all when empty
	repeats    int
	s3Repeats  int           // S3's repeats: each point runs every tool up to its cap
	wanCap     time.Duration // S3's time cap per run
	timeout    time.Duration // the cap of every other run
	s1Size     int64
	s2Files    int
	s2Size     int
	s2Dirs     int
	s3Size     int64
	s3Loss     []float64
	s4Size     int64
	out        string
	shm        string
	sysctlFile string
}

// presets are the two modes' defaults; flags override them one by one.
var presets = map[string]config{
	"quick": {repeats: 1, s3Repeats: 1, wanCap: 20 * time.Second, timeout: 5 * time.Minute,
		s1Size: 128 << 20, s2Files: 5000, s2Size: 4 << 10, s2Dirs: 100,
		s3Size: 64 << 20, s3Loss: []float64{0, 0.001}, s4Size: 128 << 20},
	// Full: issue 5's sizes. S3 moves 1 GiB, not S1's 2 GiB, and caps each
	// run at 60 s: rsync and rclone need minutes per run at 0.1 % and
	// 0.5 % loss, and a capped run still gives a lower bound. rclone's S2
	// (~4 min per run, an md5sum over ssh per file) is capped at 3 min.
	"full": {repeats: 3, s3Repeats: 2, wanCap: 60 * time.Second, timeout: 3 * time.Minute,
		s1Size: 2 << 30, s2Files: 100_000, s2Size: 4 << 10, s2Dirs: 100,
		s3Size: 1 << 30, s3Loss: []float64{0, 0.0001, 0.001, 0.005}, s4Size: 2 << 30},
}

// scenarioIDs are every scenario, in the order they run.
var scenarioIDs = []string{"S1", "S2", "S3", "S4"}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	mode := fs.String("mode", "quick", "quick (a few seconds per scenario) or full (issue 5's sizes, 3 repeats)")
	only := fs.String("only", "", "comma-separated scenarios to run, e.g. S1,S3 (default all)")
	tools := fs.String("tools", "", "comma-separated tools to run: lepton, rsync, rclone (default all)")
	repeats := fs.Int("repeats", 0, "runs per tool and scenario point (default: the mode's)")
	s3Repeats := fs.Int("s3-repeats", 0, "runs per tool and S3 loss point (default: the mode's)")
	wanCap := fs.Duration("cap", 0, "S3: time cap per run; a run that hits it is reported as capped (default: the mode's)")
	timeout := fs.Duration("timeout", 0, "S1, S2, S4: time cap per run (default: the mode's)")
	s1 := fs.String("s1-size", "", "S1 tree size, e.g. 2GiB")
	s2Files := fs.Int("s2-files", 0, "S2 number of files")
	s3 := fs.String("s3-size", "", "S3 tree size")
	s3Loss := fs.String("s3-loss", "", "S3 loss sweep in percent, comma-separated, e.g. 0,0.01,0.1,0.5")
	s4 := fs.String("s4-size", "", "S4 tree size")
	out := fs.String("out", "bench/results", "directory for the JSON results")
	shm := fs.String("shm", "/dev/shm", "tmpfs directory for the sample trees and targets")
	sysctlFile := fs.String("sysctl", "configs/sysctl.d/60-lepton-quic.conf", "sysctl file whose net.core buffer limits are applied while running (as root)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg, ok := presets[*mode]
	if !ok {
		return config{}, fmt.Errorf("-mode %q: want quick or full", *mode)
	}
	cfg.mode, cfg.out, cfg.shm, cfg.sysctlFile = *mode, *out, *shm, *sysctlFile
	cfg.s3Loss = slices.Clone(cfg.s3Loss)
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			s = strings.ToUpper(strings.TrimSpace(s))
			if !slices.Contains(scenarioIDs, s) {
				return config{}, fmt.Errorf("-only: unknown scenario %q (want %s)", s, strings.Join(scenarioIDs, ", "))
			}
			cfg.only = append(cfg.only, s)
		}
	}
	if *tools != "" {
		for _, t := range strings.Split(*tools, ",") {
			t = strings.ToLower(strings.TrimSpace(t))
			if t != toolLepton && t != toolRsync && t != toolRclone {
				return config{}, fmt.Errorf("-tools: unknown tool %q (want lepton, rsync or rclone)", t)
			}
			cfg.tools = append(cfg.tools, t)
		}
	}
	if *repeats > 0 {
		cfg.repeats = *repeats
	}
	if *s3Repeats > 0 {
		cfg.s3Repeats = *s3Repeats
	}
	if *wanCap > 0 {
		cfg.wanCap = *wanCap
	}
	if *timeout > 0 {
		cfg.timeout = *timeout
	}
	if *s2Files > 0 {
		cfg.s2Files = *s2Files
	}
	for _, f := range []struct {
		v   string
		dst *int64
	}{{*s1, &cfg.s1Size}, {*s3, &cfg.s3Size}, {*s4, &cfg.s4Size}} {
		if f.v == "" {
			continue
		}
		n, err := jobspec.ParseByteSize(f.v)
		if err != nil {
			return config{}, fmt.Errorf("size %q: %w", f.v, err)
		}
		*f.dst = int64(n)
	}
	if *s3Loss != "" {
		cfg.s3Loss = nil
		for _, s := range strings.Split(*s3Loss, ",") {
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
			if err != nil || v < 0 || v >= 100 {
				return config{}, fmt.Errorf("-s3-loss: %q is not a percentage in [0, 100)", s)
			}
			cfg.s3Loss = append(cfg.s3Loss, v/100)
		}
	}
	return cfg, nil
}

// runs reports whether scenario id was asked for.
func (c config) runs(id string) bool { return len(c.only) == 0 || slices.Contains(c.only, id) }

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	s := newSession(os.Stderr)
	b := &bench{s: s, cfg: cfg, ctx: ctx, procs: &procGroups{}, trees: map[string]tree{}}
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends at once
		fmt.Fprintln(os.Stderr, "\nInterrupted: stopping every tool and agent, restoring sysctls.")
		b.procs.killAll()
		s.exit(130)
	}()
	code := b.run()
	s.exit(code)
}
