package main

import (
	"fmt"
	"strings"
)

// rssGoal is issue 5's bound on any Lepton agent's peak RSS.
const rssGoal = 256 << 20

// Goal is one of issue 5's goals, judged on ratios from the same run.
type Goal struct {
	Name string `json:"name"`
	Got  string `json:"got"`
	// Met is nil for a point that is only reported (S3 at 0.5% loss).
	Met *bool `json:"met"`
}

// mark is ✔, ✘, or · for a reported figure.
func (g Goal) mark() string {
	switch {
	case g.Met == nil:
		return "·"
	case *g.Met:
		return "✔"
	}
	return "✘"
}

// ratioGoals are the throughput goals: scenario (and S3 loss) → the least
// ratio to rsync; 0 means report only.
var ratioGoals = []struct {
	scenario string
	loss     float64
	min      float64
}{
	{"S1", 0, 2.0},
	{"S2", 0, 1.5},
	{"S3", 0, 3.0},
	{"S3", 0.0001, 3.0},
	{"S3", 0.001, 1.0},
	{"S3", 0.005, 0},
}

// evaluateGoals judges the report's points against issue 5's goals. A
// goal whose scenario did not run is left out; one whose Lepton or rsync
// figure is missing (failed) is not met.
func evaluateGoals(points []*Point) []Goal {
	var goals []Goal
	for _, p := range points {
		want := -1.0
		for _, g := range ratioGoals {
			if g.scenario == p.Scenario && (p.Scenario != "S3" || sameLoss(g.loss, p.Loss)) {
				want = g.min
			}
		}
		if p.Scenario == "S3" && want < 0 {
			want = 0 // a loss the issue does not name: reported
		}
		if want < 0 {
			continue
		}
		goals = append(goals, ratioGoal(p, want))
	}
	for _, sc := range []string{"S1", "S2", "S3", "S4"} {
		if g, ok := rssGoalOf(points, sc); ok {
			goals = append(goals, g)
		}
	}
	return goals
}

func sameLoss(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func ratioGoal(p *Point, want float64) Goal {
	name := fmt.Sprintf("%s: Lepton ≥ %.1f× rsync %s", p.Label(), want, p.Unit)
	if want == 0 {
		name = fmt.Sprintf("%s: Lepton vs rsync %s (reported)", p.Label(), p.Unit)
	}
	g := Goal{Name: name}
	l, r := p.row(toolLepton), p.row(toolRsync)
	met := false
	stopped := ""
	if p.Error != "" {
		stopped = "; scenario stopped: " + p.Error
	}
	switch {
	case l == nil || l.Ok+l.Capped == 0:
		g.Got = "no Lepton figure" + stopped
	case r == nil || r.Ok+r.Capped == 0:
		g.Got = "no rsync figure" + stopped
	default:
		g.Got = fmt.Sprintf("%.2f× (Lepton %s, rsync %s)", l.Ratio, rateNote(l, p.Unit), rateNote(r, p.Unit))
		met = l.Ratio >= want
	}
	if want > 0 {
		g.Met = &met
	}
	return g
}

func rateNote(r *Row, unit string) string {
	s := fmtRate(r.throughput(unit), unit)
	if r.Capped > 0 {
		s = "≥ " + s + ", capped"
	}
	return s
}

// rssGoalOf is "every Lepton agent ≤ 256 MiB" over every point of one
// scenario.
func rssGoalOf(points []*Point, scenario string) (Goal, bool) {
	var peak int64
	var seen, failed bool
	var where []string
	for _, p := range points {
		if p.Scenario != scenario {
			continue
		}
		seen = true
		l := p.row(toolLepton)
		if l == nil || l.Ok+l.Capped == 0 {
			failed = true
			continue
		}
		if l.PeakRSS > peak {
			peak = l.PeakRSS
			where = []string{p.Label()}
		}
	}
	if !seen {
		return Goal{}, false
	}
	g := Goal{Name: fmt.Sprintf("%s: peak RSS of every Lepton agent ≤ %d MiB", scenario, rssGoal>>20)}
	met := peak > 0 && peak <= rssGoal && !failed
	g.Met = &met
	switch {
	case peak == 0:
		g.Got = "no Lepton figure (failed)"
	default:
		g.Got = fmt.Sprintf("%s (largest agent, %s)", fmtMiB(peak), strings.Join(where, ", "))
		if failed {
			g.Got += "; some Lepton runs failed"
		}
	}
	return g, true
}

// goalLines renders goals one a line: "✔ name — got".
func goalLines(goals []Goal) string {
	var b strings.Builder
	for _, g := range goals {
		fmt.Fprintf(&b, "%s %s — %s\n", g.mark(), g.Name, g.Got)
	}
	return b.String()
}
