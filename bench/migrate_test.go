package bench

import (
	"context"
	"errors"
	"fmt"
	"github.com/leptonmesh/lepton/internal/procstat"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

// Knobs of BenchmarkMigrate, read from the environment.
const (
	envSize    = "LEPTON_BENCH_SIZE"    // size of the mixed tree, e.g. 512MiB; default 2GiB
	envBigFile = "LEPTON_BENCH_BIGFILE" // size of the one-file variant, default 1GiB; 0 skips it
	envPerf    = "LEPTON_BENCH_PERF"    // a directory: record each agent with `perf record` during the job
	benchShm   = "/dev/shm"
	benchChunk = 4 << 20
	// jobTimeout bounds one job; loopback moves 2 GiB in well under a minute.
	jobTimeout = 20 * time.Minute
	pollEvery  = 25 * time.Millisecond
)

// BenchmarkMigrate moves a file tree on tmpfs from one source agent to one
// target agent over loopback (compression auto, verify on, 4 MiB chunks)
// and reports throughput, the verify share, CPU seconds and peak RSS of each
// agent, and wire bytes. Two variants: "mixed", a tree of LEPTON_BENCH_SIZE
// bytes (half random, half log text; testtree.Mixed), and "onefile", one
// file of LEPTON_BENCH_BIGFILE bytes, which shows whether an agent's memory
// grows with file size. The result must equal the source, byte for byte.
// Run it with `go test -run '^$' -bench BenchmarkMigrate -benchtime 1x
// -timeout 30m ./bench/`; figures are in bench/README.md.
func BenchmarkMigrate(b *testing.B) {
	size := sizeFromEnv(b, envSize, 2<<30)
	big := sizeFromEnv(b, envBigFile, 1<<30)
	b.Run("mixed-"+human(size), func(b *testing.B) {
		benchMigrate(b, size, func(dir string) error { return testtree.Mixed(dir, size, 1) })
	})
	if n := sizeFromEnv(b, envSmall, 0); n > 0 {
		b.Run(fmt.Sprintf("small-%d", n), func(b *testing.B) {
			benchMigrate(b, n*4096, func(dir string) error { return testtree.SmallFiles(dir, int(n), 4096, 100, 7) })
		})
	}
	if big > 0 {
		b.Run("onefile-"+human(big), func(b *testing.B) {
			benchMigrate(b, big, func(dir string) error { return writeBigFile(filepath.Join(dir, "one.bin"), big) })
		})
	}
}

// migrateRun is what one job cost.
type migrateRun struct {
	job      api.Job
	wall     time.Duration // submit to done, as the client saw it
	verify   time.Duration // first seen verifying to done; 0 when never seen
	cpu      [2]float64    // seconds of user+system CPU: source, target
	cpuCopy  [2]float64    // the part of cpu spent before the job was seen verifying
	peakRSS  [2]int64      // bytes (VmHWM): source, target
	rssReset bool          // whether VmHWM was reset before the job (else it covers the agent's whole life)
}

func benchMigrate(b *testing.B, size int64, fill func(dir string) error) {
	root := shmDir(b, size)
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if err := fill(src); err != nil {
		b.Fatalf("generate the source tree: %v", err)
	}
	b.Logf("generated %s in %s in %v", human(size), src, time.Since(start).Round(time.Millisecond))

	c := testcluster.New(b)
	quiet := map[string]any{"log_level": "info"} // as operators run it; debug logs every chunk
	srcAgent := c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 1, Override: quiet,
		Volumes: []map[string]any{{"name": "data", "path": src}}})
	tgtAgent := c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", Override: quiet,
		Volumes: []map[string]any{{"name": "data", "path": dst}}})
	c.WaitForLeader(60*time.Second, "src-1")
	c.WaitFor(60*time.Second, "tgt-1 in raft", func() string {
		ms, err := c.MemberStatus(srcAgent)
		if err != nil {
			return err.Error()
		}
		if m, ok := ms["tgt-1"]; !ok || m.Raft == api.RaftNone {
			return "tgt-1 not in raft yet: " + testcluster.Describe(ms)
		}
		return ""
	})
	agents := [2]*testcluster.Agent{srcAgent, tgtAgent}

	var runs []migrateRun
	b.ResetTimer()
	b.StopTimer() // migrateOnce times submit to done
	for i := 0; i < b.N; i++ {
		if i > 0 {
			clearTarget(b, dst)
		}
		r := migrateOnce(b, agents, fmt.Sprintf("bench-%d", i))
		runs = append(runs, r)
		if diffs := testtree.Compare(src, dst, testtree.Options{Exclude: []string{".lepton"}}); len(diffs) > 0 {
			b.Fatalf("the target differs from the source:\n%s", strings.Join(diffs, "\n"))
		}
	}
	report(b, filepath.Base(b.Name()), runs)
}

// loadAverage is /proc/loadavg's first three fields: a benchmark on a
// busy machine says so in its log.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// migrateOnce submits one job to the leader (the source agent) and polls it
// until it ends, measuring both agents' CPU time and peak RSS over the job.
func migrateOnce(b *testing.B, agents [2]*testcluster.Agent, name string) migrateRun {
	var r migrateRun
	var cpu0 [2]float64
	r.rssReset = true
	for k, a := range agents {
		if err := procstat.ResetPeakRSS(a.PID()); err != nil {
			r.rssReset = false
			b.Logf("cannot reset the peak RSS of %s (the figure covers its whole life): %v", a.Spec.Name, err)
		}
		cpu0[k] = cpuSeconds(b, a.PID())
	}
	stopPerf := startPerf(b, agents, name)
	b.Logf("load average before the job: %s", loadAverage())

	spec := jobspec.Defaults()
	spec.Name = name
	spec.Source.Volume, spec.Target.Volume = "data", "data"
	spec.Compression, spec.Verify, spec.ChunkSize = envOr("LEPTON_BENCH_COMP", "auto"), true, benchChunk
	cl := agents[0].Client()
	b.StartTimer()
	start := time.Now()
	sub, err := cl.SubmitJob(context.Background(), &spec)
	if err != nil {
		b.Fatalf("submit: %v", err)
	}
	var verifying, lastLine time.Time
	deadline := start.Add(jobTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		j, err := cl.Job(ctx, sub.ID)
		cancel()
		now := time.Now()
		if err == nil {
			if now.Sub(lastLine) >= time.Second { // a timeline on stderr: benchmark logs are cut at 10 lines
				lastLine = now
				fmt.Fprintf(os.Stderr, "  %s %5.1f s %-9s units %d/%d verified %d, %d MiB\n", name, now.Sub(start).Seconds(), j.State,
					j.UnitsDone, j.UnitsTotal, j.UnitsVerified, j.BytesDone>>20)
			}
			if j.State == api.JobVerifying && verifying.IsZero() {
				verifying = now
				for k, a := range agents {
					r.cpuCopy[k] = cpuSeconds(b, a.PID()) - cpu0[k]
				}
			}
			if j.State == api.JobDone || j.State == api.JobFailed || j.State == api.JobCancelled {
				b.StopTimer()
				r.job, r.wall = j, now.Sub(start)
				break
			}
		}
		if now.After(deadline) {
			b.Fatalf("job %s not done after %v: %+v (last error %v)", sub.ID, jobTimeout, j, err)
		}
		time.Sleep(pollEvery)
	}
	stopPerf()
	b.Logf("load average after the job: %s", loadAverage())
	if r.job.State != api.JobDone {
		b.Fatalf("job ended %s: %s", r.job.State, r.job.Reason)
	}
	if !verifying.IsZero() {
		r.verify = r.wall - verifying.Sub(start)
	}
	for k, a := range agents {
		r.cpu[k] = cpuSeconds(b, a.PID()) - cpu0[k]
		r.peakRSS[k] = peakRSS(b, a.PID())
		if verifying.IsZero() {
			r.cpuCopy[k] = r.cpu[k]
		}
	}
	return r
}

// report prints one summary line and reports the figures as metrics,
// averaged over the runs (peak RSS: the highest). "copy" is the job until
// it was seen verifying: what rsync, which does not verify, would compare with.
func report(b *testing.B, variant string, runs []migrateRun) {
	n := float64(len(runs))
	var wall, verify time.Duration
	var cpu, cpuCopy [2]float64
	var peak [2]int64
	var bytes, wire, files int64
	for _, r := range runs {
		wall += r.wall
		verify += r.verify
		bytes += r.job.BytesTotal
		wire += r.job.WireBytes
		files = r.job.FilesTotal
		for k := range 2 {
			cpu[k] += r.cpu[k]
			cpuCopy[k] += r.cpuCopy[k]
			peak[k] = max(peak[k], r.peakRSS[k])
		}
	}
	gib := float64(bytes) / (1 << 30)
	mbps := float64(bytes) / 1e6 / wall.Seconds()
	copyMBps := float64(bytes) / 1e6 / (wall - verify).Seconds()
	ratio := float64(bytes) / float64(max(wire, 1))
	mib := func(v int64) float64 { return float64(v) / (1 << 20) }
	b.ReportMetric(mbps, "MB/s")
	b.ReportMetric(copyMBps, "copy-MB/s")
	b.ReportMetric(verify.Seconds()/n, "verify-s")
	b.ReportMetric(cpu[0]/n, "src-cpu-s")
	b.ReportMetric(cpu[1]/n, "tgt-cpu-s")
	b.ReportMetric((cpu[0]+cpu[1])/gib, "cpu-s/GiB")
	b.ReportMetric(mib(peak[0]), "src-rss-MiB")
	b.ReportMetric(mib(peak[1]), "tgt-rss-MiB")
	b.ReportMetric(mib(wire)/n, "wire-MiB")
	b.ReportMetric(ratio, "ratio")
	rss := "peak RSS during the job"
	if !runs[len(runs)-1].rssReset {
		rss = "peak RSS over the agent's life"
	}
	fmt.Fprintf(os.Stderr, "migrate %s: %s in %d files, %.2f s, %.0f MB/s (copy %.2f s, %.0f MB/s; verify %.2f s, %.0f%%); "+
		"CPU src %.2f s tgt %.2f s, %.2f s/GiB (copy src %.2f s tgt %.2f s); %s src %.0f MiB tgt %.0f MiB; wire %.0f MiB, ratio %.2f\n",
		variant, human(bytes/int64(n)), files, wall.Seconds()/n, mbps, (wall-verify).Seconds()/n, copyMBps,
		verify.Seconds()/n, 100*verify.Seconds()/wall.Seconds(),
		cpu[0]/n, cpu[1]/n, (cpu[0]+cpu[1])/gib, cpuCopy[0]/n, cpuCopy[1]/n,
		rss, mib(peak[0]), mib(peak[1]), mib(wire)/n, ratio)
}

// shmDir makes a directory on /dev/shm for the source and target trees
// (removed at the end), or skips the benchmark when tmpfs lacks room for
// both and some slack.
func shmDir(b *testing.B, size int64) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(benchShm, &st); err != nil {
		b.Skipf("%s is not usable (%v); the benchmark needs tmpfs so disks do not set the pace", benchShm, err)
	}
	need := 2*size + size/10 + 64<<20
	if free := int64(st.Bavail) * st.Bsize; free < need {
		b.Skipf("%s has %s free, the benchmark needs %s (source and target of %s); set %s lower or grow /dev/shm",
			benchShm, human(free), human(need), human(size), envSize)
	}
	dir, err := os.MkdirTemp(benchShm, "lepton-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// clearTarget empties the target volume between runs, keeping .lepton.
func clearTarget(b *testing.B, dst string) {
	entries, err := os.ReadDir(dst)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".lepton" {
			if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// writeBigFile writes one file of size bytes in 4 MiB pieces, random and
// log text by turns, so half of its chunks compress.
func writeBigFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for off, i := int64(0), 0; off < size; i++ {
		n := int(min(benchChunk, size-off))
		piece := testtree.Random(rng, n)
		if i%2 == 1 {
			piece = testtree.LogText(rng, n)
		}
		if _, err := f.Write(piece); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		off += int64(n)
	}
	return f.Close()
}

// sizeFromEnv reads a size such as 512MiB from the environment.
func sizeFromEnv(b *testing.B, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := jobspec.ParseByteSize(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return int64(n)
}

// human writes a size in binary units, as the benchmark's names show it.
func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dB", n)
}

// cpuSeconds is the user plus system CPU time process pid has used.
func cpuSeconds(b *testing.B, pid int) float64 {
	v, err := procstat.CPUSeconds(pid)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// peakRSS is VmHWM of process pid in bytes: its peak resident set since it
// started or since procstat.ResetPeakRSS.
func peakRSS(b *testing.B, pid int) int64 {
	v, err := procstat.PeakRSS(pid)
	if err != nil {
		b.Fatalf("memory of %d: %v", pid, err)
	}
	return v
}

// startPerf runs `perf record` on each agent while the job runs when
// LEPTON_BENCH_PERF names a directory, and returns what stops it. Read the
// profiles with `perf report -i DIR/NAME-AGENT.perf.data --no-children`.
func startPerf(b *testing.B, agents [2]*testcluster.Agent, name string) (stop func()) {
	dir := os.Getenv(envPerf)
	if dir == "" {
		return func() {}
	}
	if _, err := exec.LookPath("perf"); err != nil {
		b.Logf("%s set but perf is not installed: no profile", envPerf)
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	var cmds []*exec.Cmd
	for _, a := range agents {
		out := filepath.Join(dir, fmt.Sprintf("%s-%s.perf.data", filepath.Base(b.Name()), a.Spec.Name))
		cmd := exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(a.PID()), "-o", out)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			b.Logf("perf record for %s: %v", a.Spec.Name, err)
			continue
		}
		cmds = append(cmds, cmd)
	}
	time.Sleep(200 * time.Millisecond) // let perf attach before the job starts
	return func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(os.Interrupt)
		}
		for _, cmd := range cmds {
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					b.Logf("perf record: %v", err)
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// envSmall asks for a "small" variant: that many 4 KiB files in 100
// directories (issue 5's S2 has 100,000).
const envSmall = "LEPTON_BENCH_SMALL"
