package testcluster

import (
	"fmt"
	"os"

	"github.com/leptonmesh/lepton/internal/linkemu"
)

// NewEmulatedNet is NewNet with the veth link replaced by a linkemu link
// with profile p: the same namespaces, and TUN devices named as the veth
// ends were, so agents get addresses exactly as with NewNet and every
// packet between the clouds crosses the emulated WAN. Partition and Heal
// work as on a veth link (a device that is down refuses packets). The link
// is closed when the test ends, before the namespaces are deleted; use it
// to change the profile between runs or to read its counters.
func (c *Cluster) NewEmulatedNet(p linkemu.Profile) (*Net, *linkemu.Link, error) {
	c.t.Helper()
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return nil, nil, fmt.Errorf("%w: an emulated link needs TUN devices: %v", ErrNoNetns, err)
	}
	n, err := c.newNamespaces()
	if err != nil {
		return nil, nil, err
	}
	link, err := linkemu.Open(n.Source.Name, n.Source.Link, n.Target.Name, n.Target.Link, p)
	if err != nil {
		return nil, nil, fmt.Errorf("emulated link between %s and %s: %w", n.Source.Name, n.Target.Name, err)
	}
	// Cleanups run last first: this one runs before the namespaces go.
	c.t.Cleanup(func() {
		if err := link.Close(); err != nil {
			c.t.Logf("close emulated link: %v", err)
		}
	})
	return n, link, nil
}
