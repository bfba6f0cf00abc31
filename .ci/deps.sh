#!/usr/bin/env bash
# Installs the Debian packages a make target needs, when run as root, or
# prints the exact command and fails otherwise. Usage: .ci/deps.sh PKG...
set -euo pipefail

missing=()
for p in "$@"; do
	# "p:arch" names a foreign-architecture package (cross builds).
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

need_arch=()
for p in "${missing[@]}"; do
	case "$p" in *:*) a=${p#*:}; dpkg --print-foreign-architectures | grep -qx "$a" || need_arch+=("$a") ;; esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages: ${missing[*]}" >&2
	for a in $(printf '%s\n' "${need_arch[@]}" | sort -u); do
		echo "  sudo dpkg --add-architecture $a" >&2
	done
	echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi

for a in $(printf '%s\n' "${need_arch[@]}" | sort -u); do
	dpkg --add-architecture "$a"
done
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || echo "apt-get update reported errors (see above); trying the install anyway" >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
