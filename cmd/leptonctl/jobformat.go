package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/leptonmesh/lepton/internal/api"
)

// humanBytes writes n in binary units with one decimal, as rclone and
// ls -h readers expect: "512 B", "1.5 KiB", "4.0 GiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for _, suffix := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= unit
		if math.Abs(v) < unit || suffix == "PiB" {
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + suffix
		}
	}
	return "" // not reached
}

// humanRate writes a rate in bytes per second, or "-" when there is none yet.
func humanRate(bytesPerSec float64) string {
	if bytesPerSec <= 0 || math.IsNaN(bytesPerSec) || math.IsInf(bytesPerSec, 0) {
		return "-"
	}
	return humanBytes(int64(bytesPerSec)) + "/s"
}

// jobEnded reports whether a job in state will change no more.
func jobEnded(state string) bool {
	return state == api.JobDone || state == api.JobFailed || state == api.JobCancelled
}

// jobFraction is how far a job has come, from 0 to 1, by bytes (by files
// for a job of empty files); ok is false while the scan has found nothing.
func jobFraction(j api.Job) (f float64, ok bool) {
	switch {
	case j.State == api.JobDone:
		return 1, true
	case j.BytesTotal > 0:
		return min(1, float64(j.BytesDone)/float64(j.BytesTotal)), true
	case j.FilesTotal > 0:
		return min(1, float64(j.FilesDone+j.FilesFailed+j.FilesSkipped)/float64(j.FilesTotal)), true
	}
	return 0, false
}

// percentCell writes a job's progress as "30.0%", rounded down so that
// 100.0% means every byte is in; "-" before the scan has found anything.
func percentCell(j api.Job) string {
	f, ok := jobFraction(j)
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(math.Floor(f*1000)/10, 'f', 1, 64) + "%"
}

// ratioCell writes the compression ratio, raw bytes over wire bytes
// ("2.05x"), or "-" before anything was sent.
func ratioCell(bytes, wire int64) string {
	if wire <= 0 || bytes <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(bytes)/float64(wire), 'f', 2, 64) + "x"
}

// filesCell writes "done/total".
func filesCell(j api.Job) string {
	return fmt.Sprintf("%d/%d", j.FilesDone, j.FilesTotal)
}

// bytesCell writes "done/total" in binary units.
func bytesCell(j api.Job) string {
	return humanBytes(j.BytesDone) + "/" + humanBytes(j.BytesTotal)
}

// ageCell writes how long ago t was, coarsely, as kubectl's AGE column
// does: "45s", "12m", "5h", "3d".
func ageCell(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// timeCell writes a time in UTC to the second, or "" for the zero time.
func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// endpointCell writes a job's end as rclone writes a remote, volume:path,
// with the agent when the job names one.
func endpointCell(e api.JobEndpoint) string {
	s := e.Volume + ":" + e.Path
	if e.Agent != "" {
		s += " (agent " + e.Agent + ")"
	}
	return s
}

// jobTitle names a job for messages: "ID (name)".
func jobTitle(j api.Job) string {
	if j.Name == "" {
		return j.ID
	}
	return j.ID + " (" + j.Name + ")"
}

// elapsed is how long a job ran: to its end, or to its last update.
func elapsed(j api.Job) time.Duration {
	end := j.Updated
	if j.Ended != nil {
		end = *j.Ended
	}
	if j.Created.IsZero() || end.Before(j.Created) {
		return 0
	}
	return end.Sub(j.Created)
}

// jobSummary is the one line a finished watch or report ends with:
// files, bytes, time, throughput and what went on the wire.
func jobSummary(j api.Job) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d files", j.FilesDone)
	if j.FilesFailed > 0 || j.FilesSkipped > 0 {
		fmt.Fprintf(&b, " (%d failed, %d skipped)", j.FilesFailed, j.FilesSkipped)
	}
	fmt.Fprintf(&b, ", %s", humanBytes(j.BytesDone))
	if d := elapsed(j); d > 0 {
		fmt.Fprintf(&b, " in %s, %s", d.Round(100*time.Millisecond), humanRate(float64(j.BytesDone)/d.Seconds()))
	}
	fmt.Fprintf(&b, ", wire %s (ratio %s)", humanBytes(j.WireBytes), ratioCell(j.BytesDone, j.WireBytes))
	if j.Retries > 0 {
		fmt.Fprintf(&b, ", %d retries", j.Retries)
	}
	return b.String()
}

// printable shows a name from the file system on one line: a name holding
// control characters (a newline, an escape) is quoted with them escaped,
// other names, spaces and non-ASCII letters included, stay as they are.
func printable(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strconv.Quote(s)
}
