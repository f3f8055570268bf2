package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/memberlist"
	"github.com/leptonmesh/lepton/internal/plan"
)

// nodeMeta is what every agent gossips about itself. memberlist caps it at
// 512 bytes, so keys are short and bulky facts (volumes) are fetched by the
// leader over RPC when InfoHash changes.
type nodeMeta struct {
	Side     string            `json:"s"`
	Labels   map[string]string `json:"l,omitempty"`
	QUICAddr string            `json:"q"`
	APIAddr  string            `json:"a"`
	Version  string            `json:"v"`
	Server   bool              `json:"srv,omitempty"`
	Expect   int               `json:"e,omitempty"`
	InfoHash uint64            `json:"h"`
	Leaving  bool              `json:"lv,omitempty"`
}

func (m nodeMeta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode node metadata: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("node metadata is %d bytes, gossip allows %d: use fewer or shorter labels", len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decode node metadata: %w", err)
	}
	return m, nil
}

// infoHash fingerprints an agent's self-description with xxhash, so gossip
// can say "my record changed" in eight bytes.
func infoHash(n plan.Node) uint64 {
	n.InfoHash, n.Left = 0, false
	b, _ := json.Marshal(n) // a plain struct of strings, maps and slices: cannot fail
	return xxhash.Sum64(b)
}
