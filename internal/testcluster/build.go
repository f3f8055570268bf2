// Package testcluster starts real leptond processes on loopback for
// end-to-end tests: it builds the binaries once, makes a CA, node
// certificates and a gossip key, picks free ports, writes each agent's
// config and data directory under a temp dir, and can kill -9, stop and
// restart agents. Tests drive the cluster with the real leptonctl binary or
// the API client. As root it can also place agents in two network
// namespaces, one per cloud, and cut the link between them (see NewNet).
package testcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// Binaries are the built leptond and leptonctl.
type Binaries struct {
	Leptond   string
	Leptonctl string
}

var (
	buildOnce sync.Once
	built     Binaries
	buildErr  error
)

// Build compiles leptond and leptonctl once per test process into a temp
// directory (removed by Cleanup). Set LEPTON_BIN_DIR to reuse binaries that
// `make build` produced.
func Build() (Binaries, error) {
	buildOnce.Do(func() {
		if dir := os.Getenv("LEPTON_BIN_DIR"); dir != "" {
			built = Binaries{Leptond: filepath.Join(dir, "leptond"), Leptonctl: filepath.Join(dir, "leptonctl")}
			return
		}
		dir, err := os.MkdirTemp("", "lepton-bin-")
		if err != nil {
			buildErr = err
			return
		}
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/leptond", "./cmd/leptonctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built = Binaries{Leptond: filepath.Join(dir, "leptond"), Leptonctl: filepath.Join(dir, "leptonctl")}
	})
	return built, buildErr
}

var (
	rogueOnce sync.Once
	rogue     string
	rogueErr  error
)

// BuildRogue compiles, once per test process, a leptond with the test-only
// build tag rogue: an agent with a valid certificate whose hostile
// behaviour LEPTON_ROGUE switches on (agent/rogue_on.go). Tests of
// authorisation run it as Spec.Rogue.
func BuildRogue() (string, error) {
	rogueOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			rogueErr = err
			return
		}
		dir, err := os.MkdirTemp("", "lepton-rogue-")
		if err != nil {
			rogueErr = err
			return
		}
		cmd := exec.Command("go", "build", "-tags", "rogue", "-o", dir+"/", "./cmd/leptond")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			rogueErr = fmt.Errorf("go build -tags rogue: %v\n%s", err, out)
			return
		}
		rogue = filepath.Join(dir, "leptond")
	})
	return rogue, rogueErr
}

// Cleanup removes binaries Build and BuildRogue made; call it from TestMain.
func Cleanup() {
	if os.Getenv("LEPTON_BIN_DIR") == "" && built.Leptond != "" {
		os.RemoveAll(filepath.Dir(built.Leptond))
	}
	if rogue != "" {
		os.RemoveAll(filepath.Dir(rogue))
	}
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the module root")
	}
	return filepath.Join(filepath.Dir(file), "..", ".."), nil
}
