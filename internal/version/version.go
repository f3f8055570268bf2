// Package version holds the build's version, set at link time by the Makefile.
package version

import "runtime"

// Version is the release version; the Makefile sets it with -ldflags "-X".
var Version = "0.1.0-dev"

// Commit is the git commit the binary was built from, when known.
var Commit = "unknown"

// Info is the version report shared by leptond, leptonctl and the API.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

// Get returns the version report of this binary.
func Get() Info {
	return Info{Version: Version, Commit: Commit, Go: runtime.Version()}
}
