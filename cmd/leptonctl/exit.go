package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
)

// Exit codes, as scripts see them.
const (
	exitOK      = 0 // success
	exitFailure = 1 // the operation failed: agent unreachable, 401, 409, 5xx, local I/O
	exitUsage   = 2 // bad usage or input: unknown command or flag, wrong arguments, API 400/404
)

// usageError marks an error caused by how leptonctl was invoked; run prints
// the command's usage after it and exits with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// inputError marks bad input that is not a matter of how leptonctl was
// invoked, such as a job file with a wrong key: exit 2, without usage.
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

// exitCode maps an error from the command tree to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var input inputError
	if isUsageError(err) || errors.As(err, &input) {
		return exitUsage
	}
	var apiErr *api.APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusNotFound) {
		return exitUsage
	}
	return exitFailure
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// oneArg wants exactly one positional argument, called name in messages.
func oneArg(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("%q takes one argument, %s; got %d", cmd.CommandPath(), name, len(args))
		}
		return nil
	}
}

// runGroup is the RunE of a command that only groups subcommands: with no
// argument it shows help, with an unknown one it fails as a usage error
// (cobra would otherwise print help and exit 0).
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
	}
	if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", suggestions[0])
	}
	return usageError{errors.New(msg)}
}
