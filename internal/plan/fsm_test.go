package plan

import (
	"bytes"
	"io"
	"testing"
)

func apply(t *testing.T, f *FSM, idx uint64, ct CommandType, v any) {
	t.Helper()
	data, err := Encode(ct, v)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Apply(data); res != nil {
		t.Fatalf("apply %d: %v", ct, res)
	}
}

func TestRegistryLifecycle(t *testing.T) {
	f := NewFSM()
	apply(t, f, 1, CmdSetClusterID, SetClusterID{ID: "c1"})
	apply(t, f, 2, CmdSetClusterID, SetClusterID{ID: "c2"}) // the first name sticks
	apply(t, f, 3, CmdUpsertNode, Node{Name: "src-1", Side: "source", Labels: map[string]string{"zone": "a"},
		Volumes: []Volume{{Name: "data", Path: "/srv/data"}}})
	apply(t, f, 4, CmdUpsertNode, Node{Name: "tgt-1", Side: "target"})
	apply(t, f, 5, CmdMarkLeft, NodeName{Name: "tgt-1"})

	if f.ClusterID() != "c1" {
		t.Errorf("cluster id %q, want c1", f.ClusterID())
	}
	n, ok := f.Node("tgt-1")
	if !ok || !n.Left {
		t.Errorf("tgt-1 should be marked left: %+v", n)
	}
	got, _ := f.Node("src-1")
	got.Labels["zone"] = "mutated" // callers get copies
	if again, _ := f.Node("src-1"); again.Labels["zone"] != "a" {
		t.Error("Node returned shared map")
	}
	apply(t, f, 6, CmdRemoveNode, NodeName{Name: "tgt-1"})
	if nodes := f.Nodes(); len(nodes) != 1 || nodes[0].Name != "src-1" {
		t.Errorf("after remove: %+v", nodes)
	}
}

func TestSnapshotRoundTripIsCompressed(t *testing.T) {
	f := NewFSM()
	apply(t, f, 1, CmdSetClusterID, SetClusterID{ID: "cluster-x"})
	for i := range 200 {
		apply(t, f, uint64(i+2), CmdUpsertNode, Node{Name: "node-" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Side: "target", Volumes: []Volume{{Name: "data", Path: "/srv/data/with/a/long/repeated/path"}}})
	}
	sink := &bytes.Buffer{}
	if err := f.Snapshot().Persist(sink); err != nil {
		t.Fatal(err)
	}
	raw, _ := Encode(CmdUpsertNode, f.Nodes())
	if sink.Len() >= len(raw)/3 {
		t.Errorf("snapshot %d bytes is not compressed (json %d bytes)", sink.Len(), len(raw))
	}
	g := NewFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if g.ClusterID() != "cluster-x" || len(g.Nodes()) != len(f.Nodes()) {
		t.Errorf("restored %q with %d nodes", g.ClusterID(), len(g.Nodes()))
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte("garbage")))); err == nil {
		t.Error("garbage snapshot accepted")
	}
}

func TestUnknownCommandPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("unknown command type did not panic")
		}
	}()
	NewFSM().Apply([]byte{200, '{', '}'})
}
