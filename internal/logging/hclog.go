package logging

import (
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// HCLog returns an hclog.Logger (what hashicorp/raft takes) whose
// records go to l, tagged with component=name. Levels map one to one; hclog's
// Trace becomes slog Debug-4.
func HCLog(l *slog.Logger, name string) hclog.Logger {
	level := hclog.Info
	switch {
	case l.Enabled(context.Background(), slog.LevelDebug):
		level = hclog.Debug
	case l.Enabled(context.Background(), slog.LevelInfo):
		level = hclog.Info
	case l.Enabled(context.Background(), slog.LevelWarn):
		level = hclog.Warn
	default:
		level = hclog.Error
	}
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: name, Level: level, Output: io.Discard})
	il.RegisterSink(hclogSink{l: l})
	return il
}

type hclogSink struct{ l *slog.Logger }

// Accept implements hclog.SinkAdapter.
func (s hclogSink) Accept(name string, level hclog.Level, msg string, args ...interface{}) {
	lvl := slog.LevelInfo
	switch level {
	case hclog.Trace:
		lvl = slog.LevelDebug - 4
	case hclog.Debug:
		lvl = slog.LevelDebug
	case hclog.Warn:
		lvl = slog.LevelWarn
	case hclog.Error:
		lvl = slog.LevelError
	}
	ctx := context.Background()
	if !s.l.Enabled(ctx, lvl) {
		return
	}
	attrs := make([]any, 0, len(args)+2)
	attrs = append(attrs, "component", name)
	attrs = append(attrs, args...)
	s.l.Log(ctx, lvl, msg, attrs...)
}
