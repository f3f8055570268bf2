#!/usr/bin/env bash
# Installs what `make bench` compares Lepton with, from Debian's packages,
# when it is missing: rsync, rclone, OpenSSH's server (sshd, sftp-server)
# and client (ssh, ssh-keygen). Safe to run again: it installs nothing when
# everything is there. Installing needs root; `make test` never needs any
# of this.
set -euo pipefail

need=()
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
{ [ -x /usr/sbin/sshd ] && [ -x /usr/lib/openssh/sftp-server ]; } || need+=(openssh-server)
{ command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; } || need+=(openssh-client)

if [ ${#need[@]} -eq 0 ]; then
	echo "bench/deps.sh: rsync, rclone, sshd and ssh are installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/deps.sh: missing Debian packages: ${need[*]}" >&2
	echo "  installing them needs root: sudo bash bench/deps.sh" >&2
	echo "  (or: sudo apt-get install --no-install-recommends ${need[*]})" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "bench/deps.sh: missing ${need[*]} and no apt-get (not Debian?): install them by hand" >&2
	exit 1
fi

echo "bench/deps.sh: installing ${need[*]}"
# openssh-server's install would start the system's sshd on port 22; the
# benchmark runs its own, so keep services from starting while installing
# (policy-rc.d, as Debian's container images do), unless one is in place.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${need[@]}"
echo "bench/deps.sh: installed ${need[*]}"
