#!/usr/bin/env bash
# The `make run` demo at this stage of Varco: virtual CIE cards connected to
# pcscd through vpcd, read and verified by `varco cie read` exactly as a
# physical card on a USB reader would be. Usage: .ci/demo.sh path/to/varco
set -euo pipefail
varco=$1
tmp=$(mktemp -d -t varco-demo.XXXXXX)
serve_pid=""
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

serve() { # card file, quirks
	if [ -n "$serve_pid" ]; then
		kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true
		# pcscd notices a vpcd card leaving at its next presence poll
		# (~400 ms); a card put in before that is not seen as a new tap.
		sleep 1
	fi
	"$varco" card serve --card "$1" --vpcd 127.0.0.1:35963 ${2:+--quirks "$2"} 2>>"$tmp/serve.log" &
	serve_pid=$!
}

step "Cards: a genuine 2022 CIE, a 2016 CIE, a clone of the first (same NIS and key file, other private key)"
"$varco" card new --nis 012345678901 --gen 2022 --pki testdata/pki -out "$tmp/anna.json"
"$varco" card new --nis 098765432109 --gen 2016 --pki testdata/pki -out "$tmp/bruno.json"
"$varco" card new --negative clone --clone-of "$tmp/anna.json" -out "$tmp/anna-clone.json"

step "Anna taps her 2022 card: full read with passive authentication against the test CSCA"
serve "$tmp/anna.json"
"$varco" cie read --reader "Virtual PCD 00 00" --full --csca testdata/pki/trusted --timeout 10s

step "Bruno's 2016 card, on a chip that answers 6A82 to the IAS select and hands the signature out with GET RESPONSE"
serve "$tmp/bruno.json" ias-6a82,getresponse
"$varco" cie read --reader "Virtual PCD 00 00" --full --csca testdata/pki/trusted --timeout 10s

step "Someone copies Anna's NIS, key file and EF.SOD onto another card"
serve "$tmp/anna-clone.json"
if "$varco" cie read --reader "Virtual PCD 00 00" --full --csca testdata/pki/trusted --timeout 10s; then
	echo "the clone was accepted: this is a bug" >&2
	exit 1
fi
echo "(refused, as it should be)"

step "A real CIE's EF.SOD verified offline against the real Italian CSCA set (JSON)"
"$varco" cie verify-sod --csca testdata/cie-real/csca --json testdata/cie-real/ef-sod-2022.bin

step "What else varco does"
"$varco" -h
