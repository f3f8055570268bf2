package main

import (
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/pki"
)

// maxDays bounds --days well below where a time.Duration overflows.
const maxDays = 100 * 365

// nodeName is what `tls cert create --name` accepts: the node name syntax
// the agent config and pki.CreateCert check, checked here too so a bad name
// is a usage error (exit 2) that names the flag.
var nodeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// writtenFiles is what `tls ... create --json` prints.
type writtenFiles struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

func newTLSCmd(g *globals) *cobra.Command {
	tls := &cobra.Command{
		Use:   "tls",
		Short: "Create the cluster CA and node certificates",
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	ca := &cobra.Command{Use: "ca", Short: "Manage the cluster CA", Args: cobra.ArbitraryArgs, RunE: runGroup}
	ca.AddCommand(newCACreateCmd(g))
	cert := &cobra.Command{Use: "cert", Short: "Manage node certificates", Args: cobra.ArbitraryArgs, RunE: runGroup}
	cert.AddCommand(newCertCreateCmd(g))
	tls.AddCommand(ca, cert)
	return tls
}

func newCACreateCmd(g *globals) *cobra.Command {
	var dir string
	var days int
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create the cluster CA: DIR/ca.pem and DIR/ca-key.pem",
		Long: `Create the certificate authority that signs every node certificate. Keep
ca-key.pem off the agents: only "tls cert create" needs it. An existing CA is
never overwritten.`,
		Example: "  leptonctl tls ca create --dir /etc/lepton/ca",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			validity, err := daysFlag(days)
			if err != nil {
				return err
			}
			certPath, keyPath, err := pki.CreateCA(dir, pki.CAOptions{Validity: validity})
			if err != nil {
				return fmt.Errorf("create CA: %w", err)
			}
			return printWritten(cmd, g, certPath, keyPath)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write ca.pem and ca-key.pem to")
	cmd.Flags().IntVar(&days, "days", int(pki.DefaultCAValidity/(24*time.Hour)), "days the CA is valid")
	_ = cmd.MarkFlagDirname("dir")
	return cmd
}

func newCertCreateCmd(g *globals) *cobra.Command {
	var (
		caDir, dir, name string
		ips, dnsNames    []string
		days             int
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a node certificate: DIR/NAME.pem and DIR/NAME-key.pem",
		Long: `Create a certificate for one agent, signed by the CA in --ca-dir. NAME must be
the agent's node name: peers check that the certificate and the gossiped name
agree. It is valid for both server and client authentication.`,
		Example: "  leptonctl tls cert create --ca-dir ca --name src-1 --ip 10.0.0.5 --dir certs",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageErrorf("--name is required: the agent's node name")
			}
			if !nodeName.MatchString(name) {
				return usageErrorf("invalid --name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit, at most 63 characters", name)
			}
			opts := pki.CertOptions{Name: name, DNSNames: dnsNames}
			for _, s := range ips {
				ip := net.ParseIP(s)
				if ip == nil {
					return usageErrorf("invalid --ip %q: not an IP address", s)
				}
				opts.IPs = append(opts.IPs, ip)
			}
			for _, d := range dnsNames {
				if d == "" {
					return usageErrorf("invalid --dns: empty name")
				}
			}
			validity, err := daysFlag(days)
			if err != nil {
				return err
			}
			opts.Validity = validity
			certPath, keyPath, err := pki.CreateCert(caDir, dir, opts)
			if err != nil {
				return fmt.Errorf("create certificate for %s: %w", name, err)
			}
			return printWritten(cmd, g, certPath, keyPath)
		},
	}
	f := cmd.Flags()
	f.StringVar(&caDir, "ca-dir", ".", "directory holding ca.pem and ca-key.pem")
	f.StringVar(&name, "name", "", "node name of the agent (required)")
	f.StringVar(&dir, "dir", ".", "directory to write NAME.pem and NAME-key.pem to")
	f.StringArrayVar(&ips, "ip", nil, "IP address to add as a SAN (repeatable)")
	f.StringArrayVar(&dnsNames, "dns", nil, "DNS name to add as a SAN after NAME (repeatable)")
	f.IntVar(&days, "days", int(pki.DefaultCertValidity/(24*time.Hour)), "days the certificate is valid (at most the CA's)")
	_ = cmd.MarkFlagDirname("ca-dir")
	_ = cmd.MarkFlagDirname("dir")
	return cmd
}

func daysFlag(days int) (time.Duration, error) {
	if days < 1 || days > maxDays {
		return 0, usageErrorf("invalid --days %d: want 1 to %d", days, maxDays)
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

func printWritten(cmd *cobra.Command, g *globals, certPath, keyPath string) error {
	out := cmd.OutOrStdout()
	if g.json {
		return printJSON(out, writtenFiles{Cert: certPath, Key: keyPath})
	}
	fmt.Fprintf(out, "Wrote %s\nWrote %s\n", certPath, keyPath)
	return nil
}
