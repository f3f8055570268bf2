// Package volume is Lepton's only door to the file system of a volume: a
// root that no path escapes, the source-side scanner and the target-side
// writes (temp files, metadata, atomic renames) with rsync -aHS fidelity.
// The entries it scans and acts on are manifest.Entry values; the file
// system work lives in the *_linux.go files.
package volume

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// tempDir is Lepton's own area at the top of a volume. Walk skips it and
// target writes refuse to land in it.
const tempDir = ".lepton"

// tmpRoot holds per-job temp directories and the link staging directory.
const tmpRoot = tempDir + "/tmp"

// linkStage is where symlinks and hardlinks are made before their rename.
const linkStage = tmpRoot + "/links"

// inTempArea reports whether a clean relative path lies in Lepton's area.
func inTempArea(rel string) bool {
	return rel == tempDir || strings.HasPrefix(rel, tempDir+"/")
}

// TempRel is the deterministic temp path of one file of a job, relative to
// the volume root. Every receiver of a shared volume computes the same name,
// so receivers writing different chunks of one file meet in one temp file.
func TempRel(job string, file uint64) string {
	return tmpRoot + "/" + job + "/" + strconv.FormatUint(file, 10) + ".part"
}

// maxJobLen bounds a job id used as a directory name.
const maxJobLen = 200

// checkJob rejects a job id that is not a single, plain path element.
func checkJob(job string) error {
	switch {
	case job == "" || job == "." || job == "..":
		return fmt.Errorf("job id %q is not a valid directory name", job)
	case len(job) > maxJobLen:
		return fmt.Errorf("job id %.40q... is longer than %d bytes", job, maxJobLen)
	case strings.ContainsAny(job, "/\x00"):
		return fmt.Errorf("job id %q contains a slash or NUL", job)
	}
	return nil
}

// ErrNoSpace marks a write, truncate or fsync that failed because the target
// file system is full (ENOSPC) or the user's quota is spent (EDQUOT).
var ErrNoSpace = errors.New("no space left on the target volume")
