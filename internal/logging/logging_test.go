package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestRaftAndMemberlistLogsReachSlog(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	HCLog(l, "raft").Warn("heartbeat timeout reached", "last-leader-id", "src-1")
	HCLog(l, "raft").Debug("dropped at info level")
	StdLog(l, "memberlist").Printf("[WARN] memberlist: Refuting a suspect message (from: src-2)")
	StdLog(l, "memberlist").Printf("[DEBUG] memberlist: Stream connection from=127.0.0.1:4000")

	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not json: %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 2 {
		t.Fatalf("want 2 records (debug filtered), got %d: %s", len(recs), buf.String())
	}
	if recs[0]["level"] != "WARN" || recs[0]["component"] != "raft" || recs[0]["last-leader-id"] != "src-1" {
		t.Errorf("raft record wrong: %v", recs[0])
	}
	if recs[1]["level"] != "WARN" || recs[1]["msg"] != "Refuting a suspect message (from: src-2)" || recs[1]["component"] != "memberlist" {
		t.Errorf("memberlist record wrong: %v", recs[1])
	}
}

func TestBadLevelAndFormat(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "loud", "text"); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Errorf("bad level: %v", err)
	}
	if _, err := New(&bytes.Buffer{}, "info", "xml"); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Errorf("bad format: %v", err)
	}
}
