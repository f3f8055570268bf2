package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func TestLogStoreKeepsEntriesAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	store, err := openLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries := []*raft.Log{{Index: 1, Term: 1, Data: []byte("a")}, {Index: 2, Term: 1, Data: []byte("b")}, {Index: 3, Term: 2, Data: []byte("c")}}
	if err := store.StoreLogs(entries); err != nil {
		t.Fatal(err)
	}
	// A follower dropping the tail a new leader did not keep, then killed:
	// the store must open again and hold what was left (raft-wal v0.4.0 did not).
	if err := store.DeleteRange(3, 3); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = openLogStore(dir)
	if err != nil {
		t.Fatalf("reopen after a tail truncation: %v", err)
	}
	defer store.Close()
	last, err := store.LastIndex()
	if err != nil || last != 2 {
		t.Fatalf("last index after reopening: %d, %v; want 2", last, err)
	}
	var got raft.Log
	if err := store.GetLog(1, &got); err != nil || string(got.Data) != "a" {
		t.Errorf("entry 1 after reopening: %q, %v", got.Data, err)
	}
}

func TestLogStoreRefusesAnEarlierBuildsLog(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := openLogStore(dir)
	if err == nil || !strings.Contains(err.Error(), "raft-wal") || !strings.Contains(err.Error(), "remove "+dir) {
		t.Fatalf("opening a data dir with a raft-wal log: %v; want an error naming the format and what to remove", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "raft.db")); serr == nil {
		t.Error("raft.db was created beside the earlier build's log")
	}
}
