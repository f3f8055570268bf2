package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// requiredTools are the programs the comparison runs; bench/deps.sh
// installs the missing ones from Debian.
var requiredTools = []string{"rsync", "rclone", "ssh", "ssh-keygen", sshdBinary}

func (b *bench) checkTools() error {
	var missing []string
	for _, t := range requiredTools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if _, err := os.Stat(sftpServer); err != nil {
		missing = append(missing, sftpServer)
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run `bash bench/deps.sh` as root (or `make bench`, which does)", strings.Join(missing, ", "))
	}
	return nil
}

// machineInfo is what a reader needs to weigh the figures.
func machineInfo() map[string]string {
	m := map[string]string{
		"cpus":   fmt.Sprint(runtime.NumCPU()),
		"go":     runtime.Version(),
		"kernel": firstLine(output("uname", "-r")),
	}
	if f := strings.Fields(readFile("/proc/loadavg")); len(f) >= 3 {
		m["load"] = strings.Join(f[:3], " ")
	}
	for line := range strings.Lines(readFile("/proc/cpuinfo")) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			m["cpu"] = strings.TrimSpace(v)
			break
		}
	}
	for line := range strings.Lines(readFile("/proc/meminfo")) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			m["memory"] = strings.TrimSpace(rest)
		}
	}
	if c := firstLine(output("git", "rev-parse", "--short", "HEAD")); c != "" {
		m["commit"] = c
		if firstLine(output("git", "status", "--porcelain", "--untracked-files=no")) != "" {
			m["commit"] += " (with local changes)"
		}
	}
	return m
}

// toolVersions records each tool's own version line.
func toolVersions() map[string]string {
	v := map[string]string{
		"rsync":  firstLine(output("rsync", "--version")),
		"rclone": firstLine(output("rclone", "version")),
		"ssh":    firstLine(output("ssh", "-V")),
	}
	if bin := os.Getenv("LEPTON_BIN_DIR"); bin != "" {
		v["leptond"] = firstLine(output(bin+"/leptond", "--version"))
	}
	// The client's cipher preference; the negotiated ones are added once
	// the first sshd has seen a connection from each tool.
	for line := range strings.Lines(output("ssh", "-G", "localhost")) {
		if rest, ok := strings.CutPrefix(line, "ciphers "); ok {
			v["ssh ciphers (client preference)"] = strings.TrimSpace(rest)
		}
	}
	return v
}

// method states how every figure is made, once.
func method(cfg config) []string {
	return []string{
		fmt.Sprintf("Runs are interleaved, each repeat starting with the next tool (lepton, rsync, rclone; rsync, rclone, lepton; …), %d per tool and scenario point (%d for S3's loss points); tables show medians (capped runs included, as lower bounds).", cfg.repeats, cfg.s3Repeats),
		"time: from starting the tool (rsync/rclone process start; Lepton job submit) to its end (process exit; job seen done, verification included), polled every 50 ms for Lepton.",
		"MB/s: the tree's regular-file bytes / time, 10^6 bytes; files/s: regular files / time. A capped run counts the bytes landed on the target by the cap (allocated bytes, st_blocks × 512, under the target dir, temp files included; Lepton: the job's bytes_done) over the cap: a lower bound.",
		"CPU s: the whole machine's user+nice+system+irq+softirq time from /proc/stat over the run: both ends, ssh and sshd, the link emulator and the kernel's network work, for every tool alike. Idle Lepton agents of the scenario keep running during rsync/rclone runs; their share is in each run's extra.lepton_idle_agents_cpu_seconds.",
		"peak RSS: the largest single process of the tool. Lepton: the largest agent's VmHWM, reset before each run (clear_refs 5). rsync/rclone: VmHWM of every process of the client's process tree and of the sessions below the benchmark's sshd, sampled every 50 ms (each look walks /proc/PID/task/*/children of those trees only: about 0.1 ms).",
		"Every copy is checked: Lepton and rsync -a with testtree.Compare (entries, bytes, modes, mtimes to the ns, owners); rclone copy (which keeps neither directory mtimes, modes nor owners) by file set, sizes and bytes. A wrong copy is FAILED, never a time. Targets are emptied between runs; trees are on tmpfs.",
		"rsync: rsync -a -e 'ssh …' SRC/ USER@HOST:DST/ (archive mode, no -z). rclone: rclone copy SRC :sftp,…:DST with defaults (4 transfers; it hashes each upload with md5sum over ssh). Both through a throwaway sshd (ed25519 keys, default ciphers) on loopback, or inside the target namespace in S3.",
		"Lepton: real leptond processes (log_level info), kept for every run of a scenario (as deployed: QUIC connections warmed by one run may serve the next); one job per run with jobspec.Defaults().",
	}
}

// printHeader prints the run's setup before any figure.
func printHeader(w io.Writer, rep *Report, cfg config) {
	fmt.Fprintf(w, "# Lepton vs rsync over ssh vs rclone over sftp — %s mode, %s\n\n", cfg.mode, rep.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "Machine: %s × %s, %s, Linux %s, %s, load %s", rep.Machine["cpus"], rep.Machine["cpu"], rep.Machine["memory"],
		rep.Machine["kernel"], rep.Machine["go"], rep.Machine["load"])
	if c := rep.Machine["commit"]; c != "" {
		fmt.Fprintf(w, ", commit %s", c)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Versions:")
	for _, k := range []string{"leptond", "rsync", "rclone", "ssh", "ssh ciphers (client preference)"} {
		if v := rep.Versions[k]; v != "" {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	fmt.Fprintf(w, "Sizes: S1 %s; S2 %s files of %s in %d dirs; S3 %s, loss %s, cap %v; S4 %s; other runs capped at %v.\n",
		human(cfg.s1Size), thousands(int64(cfg.s2Files)), human(int64(cfg.s2Size)), cfg.s2Dirs, human(cfg.s3Size),
		lossList(cfg.s3Loss), cfg.wanCap, human(cfg.s4Size), cfg.timeout)
	if len(cfg.only) > 0 {
		fmt.Fprintf(w, "Scenarios: %s only.\n", strings.Join(cfg.only, ", "))
	}
	fmt.Fprintln(w, "\nMethod:")
	for _, m := range rep.Method {
		fmt.Fprintf(w, "- %s\n", m)
	}
	fmt.Fprintln(w)
}

// printResults prints the table, the S3 sweep and plot, the exact
// commands and the goals.
func printResults(w io.Writer, rep *Report) {
	fmt.Fprintln(w, "\n## Results (medians)")
	fmt.Fprintln(w)
	fmt.Fprint(w, markdownTable(rep.Points))
	var wan []*Point
	for _, p := range rep.Points {
		if p.Scenario == "S3" && len(p.Rows) > 0 {
			wan = append(wan, p)
		}
	}
	if len(wan) > 0 {
		fmt.Fprintln(w, "\n## S3 sweep: MB/s by random loss (1 Gbit/s, 50 ms RTT, one-BDP drop-tail queue)")
		fmt.Fprintln(w)
		fmt.Fprint(w, sweepTable(wan))
		fmt.Fprintln(w)
		fmt.Fprint(w, plotSweep(wan, 60, 13))
	}
	fmt.Fprintln(w, "\n## Commands")
	for _, p := range rep.Points {
		for _, r := range p.Rows {
			fmt.Fprintf(w, "- %s, %s: `%s`\n", p.Label(), r.Tool, r.Command)
		}
		for _, n := range p.Notes {
			fmt.Fprintf(w, "- %s: %s\n", p.Label(), n)
		}
	}
	for _, k := range []string{"ssh cipher negotiated (rsync's ssh)", "ssh cipher negotiated (rclone)"} {
		if v := rep.Versions[k]; v != "" {
			fmt.Fprintf(w, "- %s: %s\n", k, v)
		}
	}
	fmt.Fprintln(w, "\n## Goals (ratios from this run)")
	fmt.Fprintln(w)
	fmt.Fprint(w, goalLines(rep.Goals))
}

// estimate guesses the run's length from paces measured on a 2-core
// machine: start-up, generation, each tool's copy and the checks.
func estimate(cfg config) time.Duration {
	secs := func(bytes int64, mbps float64) float64 { return float64(bytes) / 1e6 / mbps }
	var total float64
	r := float64(cfg.repeats)
	if cfg.runs("S1") {
		total += 15 + secs(cfg.s1Size, 150) + r*(secs(cfg.s1Size, 150)+secs(cfg.s1Size, 200)+secs(cfg.s1Size, 70)+3*secs(cfg.s1Size, 1500))
	}
	if cfg.runs("S2") {
		// rclone hashes every upload with md5sum over ssh: one session per file.
		n := float64(cfg.s2Files)
		total += 15 + n/20000 + r*(n/4000+n/6000+n/250+3*n/30000)
	}
	if cfg.runs("S3") {
		c := cfg.wanCap.Seconds()
		total += 30 + secs(cfg.s3Size, 150)
		for _, loss := range cfg.s3Loss {
			rs := 34.0
			switch {
			case loss >= 0.005:
				rs = 17
			case loss >= 0.001:
				rs = 22
			}
			total += float64(cfg.s3Repeats) * (min(c, secs(cfg.s3Size, rs)) + min(c, secs(cfg.s3Size, rs)) + min(c, secs(cfg.s3Size, 20)) + 6)
		}
	}
	if cfg.runs("S4") {
		total += 25 + r*(secs(cfg.s4Size, 100)+secs(cfg.s4Size, 100)+secs(cfg.s4Size, 50)+3*secs(cfg.s4Size, 1500))
	}
	return time.Duration(total * float64(time.Second))
}

func lossList(l []float64) string {
	var s []string
	for _, v := range l {
		s = append(s, fmtLoss(v))
	}
	return strings.Join(s, ", ")
}

// fmtLoss writes a loss fraction as a percentage: 0.0001 → 0.01%.
func fmtLoss(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", v*100), "0"), ".") + "%"
}

func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return ""
	}
	return string(out)
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}
