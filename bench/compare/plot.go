package main

import (
	"fmt"
	"math"
	"strings"
)

// plotTools are the sweep's lines and their marks.
var plotTools = []struct {
	tool string
	mark rune
}{{toolLepton, 'L'}, {toolRsync, 'R'}, {toolRclone, 'C'}}

// sweepTable renders S3's points as one row per loss: each tool's median
// MB/s and Lepton's ratio to rsync.
func sweepTable(points []*Point) string {
	var b strings.Builder
	b.WriteString("| loss | lepton | rsync | rclone | lepton ÷ rsync |\n|---:|---:|---:|---:|---:|\n")
	for _, p := range points {
		fmt.Fprintf(&b, "| %s |", fmtLoss(p.Loss))
		for _, t := range plotTools {
			r := p.row(t.tool)
			switch {
			case r == nil:
				b.WriteString(" – |")
			case r.Ok+r.Capped == 0:
				b.WriteString(" FAILED |")
			default:
				fmt.Fprintf(&b, " %s |", rateNote(r, unitMBps))
			}
		}
		ratio := "–"
		if l := p.row(toolLepton); l != nil {
			ratio = fmtRatio(l.Ratio)
		}
		fmt.Fprintf(&b, " %s |\n", ratio)
	}
	return b.String()
}

// plotSweep draws MB/s against loss in the terminal, one line per tool
// (L lepton, R rsync, C rclone; · between points), the losses evenly
// spaced along x, a linear y axis from 0 to a round value (quarters are
// labelled when height-1 divides by 4). A mark shared by two tools is *.
func plotSweep(points []*Point, width, height int) string {
	width, height = max(width, 10), max(height, 4)
	n := len(points)
	vals := make([][]float64, len(plotTools))
	top := 0.0
	for k, t := range plotTools {
		vals[k] = make([]float64, n)
		for i, p := range points {
			vals[k][i] = math.NaN()
			if r := p.row(t.tool); r != nil && r.Ok+r.Capped > 0 {
				vals[k][i] = r.MBps
				top = max(top, r.MBps)
			}
		}
	}
	if n == 0 || top <= 0 {
		return "(no throughput to plot)\n"
	}
	top = niceCeil(top)
	xs := make([]int, n)
	for i := range xs {
		if n == 1 {
			xs[i] = width / 2
		} else {
			xs[i] = i * (width - 1) / (n - 1)
		}
	}
	grid := make([][]rune, height)
	for r := range grid {
		grid[r] = []rune(strings.Repeat(" ", width))
	}
	yOf := func(v float64) int {
		return height - 1 - int(math.Round(v/top*float64(height-1)))
	}
	for k := range plotTools {
		for i := 0; i+1 < n; i++ {
			a, c := vals[k][i], vals[k][i+1]
			if math.IsNaN(a) || math.IsNaN(c) {
				continue
			}
			for x := xs[i] + 1; x < xs[i+1]; x++ {
				v := a + (c-a)*float64(x-xs[i])/float64(xs[i+1]-xs[i])
				if y := yOf(v); grid[y][x] == ' ' {
					grid[y][x] = '·'
				}
			}
		}
	}
	for k, t := range plotTools {
		for i := range n {
			if v := vals[k][i]; !math.IsNaN(v) {
				y := yOf(v)
				if g := grid[y][xs[i]]; g != ' ' && g != '·' {
					grid[y][xs[i]] = '*'
				} else {
					grid[y][xs[i]] = t.mark
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString("   MB/s\n")
	step := max((height-1)/4, 1)
	for r := range height {
		label := ""
		if r%step == 0 || r == height-1 {
			label = fmt.Sprintf("%.4g", top*float64(height-1-r)/float64(height-1))
		}
		fmt.Fprintf(&b, "%7s ┤%s\n", label, strings.TrimRight(string(grid[r]), " "))
	}
	fmt.Fprintf(&b, "%7s └%s\n", "", strings.Repeat("─", width))
	axis := []rune(strings.Repeat(" ", width+12))
	for i, p := range points {
		l := []rune(fmtLoss(p.Loss))
		at := min(xs[i], width+12-len(l))
		copy(axis[at:], l)
	}
	fmt.Fprintf(&b, "%7s  %s  random loss\n", "", strings.TrimRight(string(axis), " "))
	b.WriteString("         L lepton   R rsync (ssh)   C rclone (sftp)   * two at one spot; capped runs are lower bounds\n")
	return b.String()
}

// niceCeil is the least of 1, 2, 4, 8 or 10 × 10^k that is ≥ v, so an
// axis from 0 splits into round quarters.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 4, 8, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}
