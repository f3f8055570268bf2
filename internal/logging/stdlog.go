package logging

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// StdLog returns a *log.Logger (what memberlist takes) whose lines go to l.
// memberlist prefixes each line with "[LEVEL] memberlist: "; the level becomes
// the slog level and the prefix is dropped.
func StdLog(l *slog.Logger, component string) *log.Logger {
	return log.New(&lineWriter{l: l, component: component}, "", 0)
}

type lineWriter struct {
	l         *slog.Logger
	component string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	lvl := slog.LevelInfo
	for _, lv := range []struct {
		tag string
		lvl slog.Level
	}{{"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERR]", slog.LevelError}, {"[ERROR]", slog.LevelError}} {
		if rest, ok := strings.CutPrefix(line, lv.tag); ok {
			lvl, line = lv.lvl, strings.TrimSpace(rest)
			break
		}
	}
	line = strings.TrimPrefix(line, w.component+": ")
	w.l.Log(context.Background(), lvl, line, "component", w.component)
	return len(p), nil
}
