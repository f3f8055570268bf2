// Package e2e holds the end-to-end tests: real leptond processes on
// loopback, driven through the API and the real leptonctl binary.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/leptonmesh/lepton/internal/testcluster"
)

func TestMain(m *testing.M) {
	if _, err := testcluster.Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testcluster.Cleanup()
	os.Exit(code)
}
