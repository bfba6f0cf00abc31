#!/usr/bin/env bash
# Runs a command with pcscd available: if nothing listens on the vpcd port
# 127.0.0.1:35963, starts `pcscd --foreground` for the duration of the
# command and stops it afterwards. A pcscd that was already running is left
# alone. Usage: .ci/with-pcscd.sh CMD ARGS...
set -euo pipefail

listening() { ss -Hltn 'sport = :35963' 2>/dev/null | grep -q .; }

started=""
if ! listening; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "pcscd is not running (nothing listens on 127.0.0.1:35963); start it with:" >&2
		echo "  sudo pcscd --foreground &" >&2
		exit 1
	fi
	log=$(mktemp -t varco-pcscd.XXXXXX.log)
	# A session of its own: a Ctrl-C meant for the command does not stop
	# pcscd under it; the EXIT trap stops it after the command.
	setsid pcscd --foreground >"$log" 2>&1 &
	started=$!
	trap 'kill "$started" 2>/dev/null; wait "$started" 2>/dev/null || true' EXIT
	for _ in $(seq 1 100); do
		listening && break
		kill -0 "$started" 2>/dev/null || { echo "pcscd exited; log:" >&2; cat "$log" >&2; exit 1; }
		sleep 0.1
	done
	listening || { echo "pcscd did not open 127.0.0.1:35963; log: $log" >&2; exit 1; }
	echo "started pcscd (pid $started, log $log)" >&2
fi
# Ctrl-C goes to the command (same process group), which decides how to
# end; this script then stops pcscd and returns the command's status.
trap ':' INT
"$@"
