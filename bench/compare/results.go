package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Run statuses.
const (
	statusOK     = "ok"     // copied and verified
	statusCapped = "capped" // stopped at the time cap; throughput is a lower bound
	statusFailed = "FAILED" // the copy is wrong or the tool failed: never a time
)

// Throughput units of a scenario.
const (
	unitMBps  = "MB/s"
	unitFiles = "files/s"
)

// Tool names, in the order runs are interleaved.
const (
	toolLepton = "lepton"
	toolRsync  = "rsync"
	toolRclone = "rclone"
)

// Run is one copy by one tool.
type Run struct {
	Tool       string  `json:"tool"`
	Repeat     int     `json:"repeat"`
	Status     string  `json:"status"`
	Seconds    float64 `json:"seconds"` // start to end; the cap when capped
	Bytes      int64   `json:"bytes"`   // the tree's bytes; bytes landed by the cap when capped
	Files      int64   `json:"files"`   // the tree's files; 0 when capped
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	PeakRSSOf  string  `json:"peak_rss_process,omitempty"`
	Error      string  `json:"error,omitempty"`
	// Extra holds tool-specific figures: Lepton's wire bytes and verify
	// time, the link's drops in S3.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// MBps is the run's throughput in 10^6 bytes per second.
func (r Run) MBps() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Seconds
}

// FilesPerSec is the run's file rate.
func (r Run) FilesPerSec() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Files) / r.Seconds
}

// Row is one tool in one scenario point: its runs and their medians.
type Row struct {
	Tool    string `json:"tool"`
	Command string `json:"command"`
	Runs    []Run  `json:"runs"`
	// Medians over the runs that did not fail (capped ones included, as
	// lower bounds); zero when every run failed.
	Seconds     float64 `json:"median_seconds"`
	MBps        float64 `json:"median_mb_per_s"`
	FilesPerSec float64 `json:"median_files_per_s"`
	CPUSeconds  float64 `json:"median_cpu_seconds"`
	PeakRSS     int64   `json:"max_peak_rss_bytes"`
	Ok          int     `json:"ok"`
	Capped      int     `json:"capped"`
	Failed      int     `json:"failed"`
	// Ratio is this tool's throughput over rsync's in the point's unit;
	// 0 when either is unknown.
	Ratio float64 `json:"ratio_to_rsync"`
}

// Point is one measured scenario point: S1, S2, S4, or one loss of S3.
type Point struct {
	Scenario   string   `json:"scenario"` // S1 … S4
	Title      string   `json:"title"`
	Variant    string   `json:"variant,omitempty"` // "loss 0.1%"
	Loss       float64  `json:"loss,omitempty"`    // S3: the fraction of packets dropped
	Unit       string   `json:"unit"`
	Bytes      int64    `json:"bytes"`
	Files      int64    `json:"files"`
	CapSeconds float64  `json:"cap_seconds"`
	Notes      []string `json:"notes,omitempty"`
	Rows       []Row    `json:"rows"`
	Error      string   `json:"error,omitempty"` // the scenario could not run
}

// Label is how the point is named in tables: "S3 loss 0.1%".
func (p *Point) Label() string {
	if p.Variant == "" {
		return strings.TrimSpace(p.Scenario + " " + p.Title)
	}
	return p.Scenario + " " + p.Variant
}

// row returns the point's row for tool, or nil.
func (p *Point) row(tool string) *Row {
	for i := range p.Rows {
		if p.Rows[i].Tool == tool {
			return &p.Rows[i]
		}
	}
	return nil
}

// add records a run under its tool's row, making the row on first use.
func (p *Point) add(r Run, command string) {
	row := p.row(r.Tool)
	if row == nil {
		p.Rows = append(p.Rows, Row{Tool: r.Tool, Command: command})
		row = &p.Rows[len(p.Rows)-1]
	}
	row.Runs = append(row.Runs, r)
}

// summarize computes every row's medians and its ratio to rsync.
func (p *Point) summarize() {
	for i := range p.Rows {
		p.Rows[i].summarize()
	}
	rs := p.row(toolRsync)
	for i := range p.Rows {
		r := &p.Rows[i]
		r.Ratio = 0
		if rs != nil && rs.throughput(p.Unit) > 0 && r.throughput(p.Unit) > 0 {
			r.Ratio = r.throughput(p.Unit) / rs.throughput(p.Unit)
		}
	}
}

func (r *Row) summarize() {
	var secs, mbps, fps, cpu []float64
	r.Ok, r.Capped, r.Failed, r.PeakRSS = 0, 0, 0, 0
	for _, run := range r.Runs {
		switch run.Status {
		case statusFailed:
			r.Failed++
			continue
		case statusCapped:
			r.Capped++
		default:
			r.Ok++
		}
		secs = append(secs, run.Seconds)
		mbps = append(mbps, run.MBps())
		fps = append(fps, run.FilesPerSec())
		cpu = append(cpu, run.CPUSeconds)
		r.PeakRSS = max(r.PeakRSS, run.PeakRSS)
	}
	r.Seconds, r.MBps, r.FilesPerSec, r.CPUSeconds = median(secs), median(mbps), median(fps), median(cpu)
}

// throughput is the row's median in unit.
func (r *Row) throughput(unit string) float64 {
	if unit == unitFiles {
		return r.FilesPerSec
	}
	return r.MBps
}

// status says how the row's runs ended: "ok", "capped 2/3", "FAILED 1/3".
func (r *Row) status() string {
	n := len(r.Runs)
	switch {
	case r.Failed > 0:
		return fmt.Sprintf("%s %d/%d", statusFailed, r.Failed, n)
	case r.Capped > 0:
		return fmt.Sprintf("%s %d/%d", statusCapped, r.Capped, n)
	}
	return statusOK
}

// median of xs; 0 for none. Even counts average the middle two.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Report is everything one run of bench/compare measured: the JSON file.
type Report struct {
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Mode     string            `json:"mode"`
	Repeats  int               `json:"repeats"`
	Machine  map[string]string `json:"machine"`
	Versions map[string]string `json:"versions"`
	// Method says how each figure is measured, once, for a reader who
	// did not run it.
	Method []string `json:"method"`
	Points []*Point `json:"points"`
	Goals  []Goal   `json:"goals"`
}

// writeJSON writes the report to dir as <started>-<mode>.json and as
// latest.json, and returns the first path.
func (rep *Report) writeJSON(dir string) (string, error) {
	data, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		return "", fmt.Errorf("encode results: %w", err)
	}
	data = append(data, '\n')
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("results dir: %w", err)
	}
	name := filepath.Join(dir, rep.Started.UTC().Format("20060102T150405Z")+"-"+rep.Mode+".json")
	for _, p := range []string{name, filepath.Join(dir, "latest.json")} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", fmt.Errorf("write results: %w", err)
		}
	}
	return name, nil
}

// readReport reads a report written by writeJSON.
func readReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return &rep, nil
}

// markdownTable renders every point as one Markdown table: scenario, tool,
// median time, median throughput in the scenario's unit, ratio to rsync,
// median CPU seconds (whole machine), the largest peak RSS of a single
// process of the tool, and how the runs ended.
func markdownTable(points []*Point) string {
	var b strings.Builder
	b.WriteString("| scenario | tool | time | throughput | × rsync | CPU s | peak RSS | runs |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, p := range points {
		for _, r := range p.Rows {
			if r.Ok+r.Capped == 0 {
				fmt.Fprintf(&b, "| %s | %s | FAILED | – | – | – | – | %s |\n", p.Label(), r.Tool, r.status())
				continue
			}
			bound := ""
			if r.Capped > 0 {
				bound = "≥ "
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s%s | %s | %.1f | %s | %s |\n", p.Label(), r.Tool,
				fmtSeconds(r.Seconds, r.Capped > 0), bound, fmtRate(r.throughput(p.Unit), p.Unit),
				fmtRatio(r.Ratio), r.CPUSeconds, fmtMiB(r.PeakRSS), r.status())
		}
		if p.Error != "" {
			fmt.Fprintf(&b, "| %s | – | – | – | – | – | – | stopped: %s |\n", p.Label(), mdEscape(p.Error))
		}
	}
	return b.String()
}

func fmtSeconds(s float64, capped bool) string {
	if capped {
		return fmt.Sprintf("%.1f s (cap)", s)
	}
	if s < 10 {
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

func fmtRate(v float64, unit string) string {
	switch {
	case unit == unitFiles:
		return fmt.Sprintf("%s files/s", thousands(int64(math.Round(v))))
	case v < 10:
		return fmt.Sprintf("%.2f MB/s", v)
	}
	return fmt.Sprintf("%.0f MB/s", v)
}

func fmtRatio(r float64) string {
	if r == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

func fmtMiB(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// thousands writes n with commas: 100000 → 100,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
