package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/leptonmesh/lepton/internal/testtree"
)

// jobName is the demo job's name.
const jobName = "demo-exports-to-landing"

// jobFile is the job the demo submits: the whole source volume into the
// target volume. internal/jobspec/example.yaml explains every key.
var jobFile = `# The demo's migration: the whole source volume into the target volume.
# Every key: internal/jobspec/example.yaml
name: ` + jobName + `
source: {volume: ` + sourceVolume + `}   # shared by src-1 and src-2: both send
target: {volume: ` + targetVolume + `}   # shared by tgt-1 and tgt-2: both receive
mode: copy
compression: auto       # zstd where it pays; random data goes raw
verify: true            # re-read the target and compare chunk hashes
chunk_size: 4MiB
`

// jobWait bounds the job: a minute plus the tree at 5 MB/s, several times
// slower than a 2-core machine moves it on loopback.
func jobWait(size int64) time.Duration {
	return time.Minute + time.Duration(size/5e6)*time.Second
}

// migrate writes the job file, submits it and follows it to its end with
// `leptonctl job watch`, whose output goes straight to the demo's output.
// It returns the job's id.
func (d *demo) migrate() string {
	d.heading("Migrating: submit a job, then watch it")
	path := filepath.Join(d.c.Dir, "job.yaml")
	if err := os.WriteFile(path, []byte(jobFile), 0o644); err != nil {
		d.s.Fatalf("write the job file: %v", err)
	}
	d.say("The job file, %s:", path)
	d.say("")
	for _, line := range strings.Split(strings.TrimRight(jobFile, "\n"), "\n") {
		d.say("  %s", line)
	}
	d.say("")
	d.say("Any agent takes it and forwards it to the leader, which checks the volumes exist on the")
	d.say("right sides and commits the job to Raft. A source agent scans the tree; the manifest is")
	d.say("committed in batches; files are cut into 4 MiB chunks (small files packed together) and")
	d.say("the ring assigns each chunk a sender and a receiver. Chunks go straight from sender to")
	d.say("receiver over QUIC, hashed (xxhash64) and compressed (zstd) where it pays, never through")
	d.say("the leader; each file is renamed into place whole, with its metadata; then every chunk")
	d.say("is re-read on the target and its hash compared.")
	id := d.submit(path)
	d.say("")
	d.say("The job's id is %s. Follow it (on a terminal: a bar for the job and one per", id)
	d.say("sender→receiver pair; in a pipe or a log: a line a second):")
	d.watch(id)
	return id
}

// registryWait is how long the demo gives the leader to register every
// agent before it submits the job again: a little more than the leader's
// reconcile interval (2 s).
const registryWait = 2500 * time.Millisecond

// submit submits the job file with leptonctl and returns the job's id. The
// leader resolves a job's source and target agents from its registry when
// the job is submitted, and registers agents a moment after they join (the
// bootstrap servers are in Raft before that), so a job submitted at once
// may leave an agent out for good. No API shows the registry: the demo
// checks the job's agents and, when one is missing, cancels the job and
// submits it again once. If an agent is still missing then, the job goes
// on with the agents it has, and the demo says so.
func (d *demo) submit(path string) string {
	a := d.c.Agent(console)
	var wantSources, wantTargets []string
	for _, m := range d.roster() {
		if m.spec.Side == "source" {
			wantSources = append(wantSources, m.spec.Name)
		} else {
			wantTargets = append(wantTargets, m.spec.Name)
		}
	}
	for attempt := 1; ; attempt++ {
		id := strings.TrimSpace(d.ctl(a, "job", "submit", "-f", path))
		if id == "" {
			d.s.Fatalf("leptonctl job submit printed no job id")
		}
		ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
		j, err := a.Client().Job(ctx, id)
		cancel()
		d.halt()
		if err != nil {
			d.s.Fatalf("job %s: %v", id, err)
		}
		if slices.Equal(j.Sources, wantSources) && slices.Equal(j.Targets, wantTargets) {
			return id
		}
		d.say("")
		if attempt == 2 {
			d.say("WARNING: the leader's registry still lacks an agent's volume: the job has sources %v", j.Sources)
			d.say("and targets %v, not %v and %v. It goes on with those.", j.Targets, wantSources, wantTargets)
			return id
		}
		d.say("The job has sources %v and targets %v, not %v and %v: the leader", j.Sources, j.Targets, wantSources, wantTargets)
		d.say("had not registered every agent's volume yet. Cancelling it and submitting it again shortly.")
		d.ctl(a, "job", "cancel", id)
		time.Sleep(registryWait)
		d.halt()
	}
}

// watch runs `leptonctl job watch ID` with its output streamed live: on a
// terminal leptonctl gets the terminal, so the user sees its real bars;
// otherwise its plain lines are indented like the rest of the narration.
// The watch is bounded by jobWait; Ctrl-C interrupts it.
func (d *demo) watch(id string) {
	a := d.c.Agent(console)
	fmt.Fprintf(d.s.stdout, "\n    $ leptonctl job watch %s        # asking %s at %s\n", id, a.Spec.Name, a.APIAddr())
	bound := jobWait(d.tree.census.bytes)
	ctx, cancel := context.WithTimeout(d.ctx, bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.c.Bin.Leptonctl, "job", "watch", id)
	cmd.Env = append(os.Environ(), "LEPTON_ADDR="+a.APIAddr(), "LEPTON_TOKEN="+d.c.Token)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // lets it finish its line
	cmd.WaitDelay = 3 * time.Second
	if terminal(os.Stdout) {
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	} else {
		out, errOut := newIndenter(d.s.stdout, "    "), newIndenter(d.s.stderr, "    ")
		defer out.Flush()
		defer errOut.Flush()
		cmd.Stdout, cmd.Stderr = out, errOut
	}
	err := cmd.Run()
	d.halt()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		d.s.Fatalf("job %s did not end within %s; `leptonctl job status %s` on an agent says where it is", id, bound, id)
	case errors.As(err, &exit):
		why := "see `leptonctl job report " + id + "`"
		sctx, scancel := context.WithTimeout(d.ctx, 5*time.Second)
		if j, err := a.Client().Job(sctx, id); err == nil {
			why = fmt.Sprintf("it is %s: %s", j.State, j.Reason)
		}
		scancel()
		d.halt()
		d.s.Fatalf("leptonctl job watch %s: exit %d: the job did not finish; %s", id, exit.ExitCode(), why)
	case err != nil:
		d.s.Fatalf("leptonctl job watch %s: %v", id, err)
	}
}

// check compares the target tree with the source, as rsync -aHS users
// would: bytes, modes, mtimes to the nanosecond, owners, symlink targets,
// hardlinks and holes. The FIFO and the socket are left out (a migration
// skips them), and so is the target's .lepton temp area.
func (d *demo) check() {
	d.heading("Checking the result ourselves, file by file")
	d.say("testtree.Compare reads both trees: every entry, its kind, bytes, mode, mtime (ns), owner,")
	d.say("symlink target, hardlink group and holes; the FIFO and the socket are left out.")
	began := time.Now()
	diffs := testtree.Compare(d.tree.source, d.tree.target, testtree.Options{SkipSpecial: true, Exclude: []string{".lepton"}})
	d.halt()
	if len(diffs) > 0 {
		d.say("The target tree differs from the source:")
		for _, diff := range diffs {
			d.say("  %s", diff)
		}
		d.s.Fatalf("the target tree differs from the source (%d differences listed, at most 50); LEPTON_DEMO_KEEP=1 keeps both trees to look at", len(diffs))
	}
	d.say("verified: the target tree is byte-identical, metadata included (%d files, %s; compared in %s).",
		d.tree.census.files, mib(d.tree.census.bytes), seconds(time.Since(began)))
}

// terminal reports whether f is a terminal that shows progress bars, by the
// rule leptonctl itself applies.
func terminal(f *os.File) bool {
	return os.Getenv("TERM") != "dumb" && isatty.IsTerminal(f.Fd())
}
