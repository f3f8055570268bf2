package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/leptonmesh/lepton/internal/api"
)

// barRefresh is how often the bars are redrawn; the numbers behind them
// change once per poll.
const barRefresh = 200 * time.Millisecond

// maxPairBars bounds the bars drawn for sender→receiver pairs; a job across
// dozens of agents folds the rest into the overall bar.
const maxPairBars = 16

// barView draws progress bars with mpb: one for the whole job, one per
// sender→receiver pair. Each pair's bar shows its share of the job's bytes,
// so the pair bars add up to the overall one.
type barView struct {
	w       io.Writer
	p       *mpb.Progress
	overall *jobBar
	pairs   map[[2]string]*jobBar
	order   []*jobBar // overall first, then pairs as they appear
}

// jobBar is one bar and the text drawn around it, which the follow loop
// writes and mpb's renderer reads.
type jobBar struct {
	bar   *mpb.Bar
	meter rateMeter

	mu     sync.Mutex
	label  string
	stats  string
	detail string // a line under the bar, "" for none
}

func (b *jobBar) set(label, stats, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.label, b.stats, b.detail = label, stats, detail
}

func (b *jobBar) labelText(decor.Statistics) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.label
}

func (b *jobBar) statsText(decor.Statistics) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// writeDetail is the bar's extender: the detail line, cut to the width mpb
// offers so a narrow terminal does not wrap it.
func (b *jobBar) writeDetail(w io.Writer, st decor.Statistics) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.detail == "" {
		return nil
	}
	line := b.detail
	if st.AvailableWidth > 0 {
		line = runewidth.Truncate(line, st.AvailableWidth, "…")
	}
	_, err := io.WriteString(w, line+"\n")
	return err
}

// newBarView draws on w until close; ctx ending (Ctrl-C) stops the bars.
func newBarView(ctx context.Context, w io.Writer) *barView {
	return &barView{
		w: w,
		// WithAutoRefresh: mpb refreshes on its own only when it sees a
		// terminal itself; the caller has already decided that w is one.
		p:     mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithRefreshRate(barRefresh)),
		pairs: make(map[[2]string]*jobBar),
	}
}

// addBar adds a bar laid out to fit 80 columns: the label (widths kept
// equal across bars), the bar, the figures, and an optional detail line.
func (v *barView) addBar() *jobBar {
	jb := &jobBar{}
	jb.bar = v.p.New(0,
		mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding("-").Rbound("]"),
		mpb.BarWidth(40),
		mpb.PrependDecorators(decor.Any(jb.labelText, decor.WC{C: decor.DSyncWidthR})),
		mpb.AppendDecorators(decor.Any(jb.statsText, decor.WC{C: decor.DSyncWidthR})),
		mpb.BarExtender(mpb.BarFillerFunc(jb.writeDetail), false),
	)
	v.order = append(v.order, jb)
	return jb
}

func (v *barView) show(j api.Job, now time.Time) {
	if v.overall == nil {
		v.overall = v.addBar()
	}
	rate := v.overall.meter.observe(j.BytesDone, now)
	if jobEnded(j.State) {
		rate = averageRate(j.BytesDone, j)
	}
	name := j.Name
	if name == "" {
		name = j.ID
	}
	detail := fmt.Sprintf("  %s / %s, wire %s, ratio %s, files %d/%d",
		humanBytes(j.BytesDone), humanBytes(j.BytesTotal), humanBytes(j.WireBytes), ratioCell(j.BytesDone, j.WireBytes), j.FilesDone, j.FilesTotal)
	if j.FilesFailed > 0 {
		detail += fmt.Sprintf(", %d failed", j.FilesFailed)
	}
	if j.FilesSkipped > 0 {
		detail += fmt.Sprintf(", %d skipped", j.FilesSkipped)
	}
	if j.Retries > 0 {
		detail += fmt.Sprintf(", %d retries", j.Retries)
	}
	if j.State == api.JobVerifying && j.UnitsTotal > 0 {
		detail += fmt.Sprintf(", verified %d/%d chunks", j.UnitsVerified, j.UnitsTotal)
	}
	if j.Reason != "" {
		detail += " (" + j.Reason + ")"
	}
	v.overall.set(name+" "+j.State,
		fmt.Sprintf("%s  %s  ETA %s", percentCell(j), humanRate(rate), eta(j, rate)), detail)
	v.overall.bar.SetTotal(max(j.BytesTotal, j.BytesDone), false)
	v.overall.bar.SetCurrent(j.BytesDone)

	for _, pair := range j.Pairs {
		key := [2]string{pair.Sender, pair.Receiver}
		pb, ok := v.pairs[key]
		if !ok {
			if len(v.pairs) >= maxPairBars {
				continue
			}
			pb = v.addBar()
			v.pairs[key] = pb
		}
		prate := pb.meter.observe(pair.Bytes, now)
		if jobEnded(j.State) {
			prate = averageRate(pair.Bytes, j)
		}
		pb.set("  "+pair.Sender+" → "+pair.Receiver,
			fmt.Sprintf("%s  %s  ratio %s", humanBytes(pair.Bytes), humanRate(prate), ratioCell(pair.Bytes, pair.WireBytes)), "")
		pb.bar.SetTotal(max(j.BytesTotal, pair.Bytes), false)
		pb.bar.SetCurrent(pair.Bytes)
	}
}

// averageRate is n bytes over the job's whole run, the rate to show once
// it has ended.
func averageRate(n int64, j api.Job) float64 {
	d := elapsed(j)
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// close fills the overall bar of a job that is done and stops the other
// bars where they are, waits for mpb's last frame, and ends with a summary.
func (v *barView) close(j api.Job) {
	for _, jb := range v.order {
		if jb == v.overall && j.State == api.JobDone {
			jb.bar.SetTotal(-1, true) // full: its total becomes what it did
		} else {
			jb.bar.Abort(false) // drawn as it stands: a pair's share, or where the job stopped
		}
	}
	v.p.Wait()
	if j.State == api.JobDone {
		fmt.Fprintf(v.w, "Done: %s\n", jobSummary(j))
	}
}
