package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/pki"
)

func newKeygenCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new gossip encryption key (AES-256, base64)",
		Long: `keygen prints a new random key for the agents' gossip encryption, alone on
stdout, to paste into every agent's config.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := pki.NewGossipKey()
			if err != nil {
				return fmt.Errorf("make gossip key: %w", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), key)
			return err
		},
	}
}
