package pki

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// GossipKeySize is the size of keys `leptonctl keygen` makes: AES-256.
const GossipKeySize = 32

// NewGossipKey returns a new random gossip encryption key, base64 encoded.
func NewGossipKey() (string, error) {
	key := make([]byte, GossipKeySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// DecodeGossipKey decodes a base64 gossip key and checks its length is one
// memberlist accepts (16, 24 or 32 bytes: AES-128, -192 or -256).
func DecodeGossipKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %w; make one with `leptonctl keygen`", err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("decodes to %d bytes, want 16, 24 or 32; make one with `leptonctl keygen`", len(key))
}
