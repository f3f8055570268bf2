package config

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/leptonmesh/lepton/internal/pki"
)

// checkTLS resolves the three TLS paths, loads them with pki.LoadIdentity and
// checks that the certificate speaks for this node.
func (c *Config) checkTLS(p *problems, dir string) {
	issue := "leptonctl tls cert create --name " + c.NodeName
	files := []struct {
		key  string
		path *string
		what string
	}{
		{"tls.ca_file", &c.TLS.CAFile, "the cluster CA certificate (ca.pem from `leptonctl tls ca create`)"},
		{"tls.cert_file", &c.TLS.CertFile, "this node's certificate; issue one with: " + issue},
		{"tls.key_file", &c.TLS.KeyFile, "the key written with tls.cert_file"},
	}
	complete := true
	for _, f := range files {
		if *f.path == "" {
			p.add(f.key, "required: %s", f.what)
			complete = false
			continue
		}
		*f.path = resolve(dir, *f.path)
	}
	if !complete {
		return
	}
	id, err := pki.LoadIdentity(c.TLS.CAFile, c.TLS.CertFile, c.TLS.KeyFile)
	if err != nil {
		var fe *pki.FileError
		if !errors.As(err, &fe) {
			p.addErr("tls", err, "%v", err)
			return
		}
		p.addErr("tls."+fe.Field, err, "%s", fileProblem(fe, issue))
		return
	}
	if nodeNameRE.MatchString(c.NodeName) && id.Name != c.NodeName {
		p.add("tls.cert_file", "%s: certificate is for %q but node_name is %q; issue one with: %s", c.TLS.CertFile, id.Name, c.NodeName, issue)
		return
	}
	c.Identity = id
}

// fileProblem says what is wrong with one TLS file and what to do.
func fileProblem(fe *pki.FileError, issue string) string {
	switch {
	case errors.Is(fe.Err, fs.ErrNotExist):
		return fmt.Sprintf("%s does not exist; check the path (relative paths start at the config file's directory)", fe.Path)
	case errors.Is(fe.Err, fs.ErrPermission):
		return fmt.Sprintf("%s: permission denied; leptond must be able to read it", fe.Path)
	case errors.Is(fe.Err, pki.ErrNotSignedByCA):
		return fmt.Sprintf("%s: %v; issue one from the CA in tls.ca_file with: %s", fe.Path, fe.Err, issue)
	case fe.Field == "key_file":
		return fmt.Sprintf("%s: %v; use the -key.pem file written together with tls.cert_file", fe.Path, cause(fe.Err))
	}
	return fmt.Sprintf("%s: %v", fe.Path, cause(fe.Err))
}
