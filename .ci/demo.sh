#!/usr/bin/env bash
# The `make run` demo at this stage of Varco: virtual CIE cards connected to
# pcscd through vpcd, read and verified by `varco cie read` exactly as a
# physical card on a USB reader would be; then varco-door guarding two
# virtual doors (firmware-config/virtual-demo.toml: vpcd readers, simulated
# relays) decides real taps. Usage: .ci/demo.sh BIN-DIR
set -euo pipefail
varco=$1/varco
door=$1/varco-door
tmp=$(mktemp -d -t varco-demo.XXXXXX)
serve_pid=""
door_pid=""
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	[ -n "$door_pid" ] && kill "$door_pid" 2>/dev/null
	wait 2>/dev/null || true
	[ -n "${KEEP_DEMO:-}" ] && cp "$tmp/door.log" /tmp/demo-door.log; rm -rf "$tmp"
}
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

step "varco-door: two virtual doors, simulated relays; Anna and Bruno may enter door 1"
sed "s|^state_dir = .*|state_dir = \"$tmp/door\"|" firmware-config/virtual-demo.toml >"$tmp/door.toml"
"$varco" card new --nis 055555555555 --gen 2022 --pki testdata/pki -out "$tmp/carla.json" >/dev/null
"$varco" card allowlist --door demo-1 -out "$tmp/allowlist.json" "$tmp/anna.json" "$tmp/bruno.json"
"$door" -config "$tmp/door.toml" -import "$tmp/allowlist.json" 2>&1 | sed 's/^/  door | /'
# Take the last card away first, or the door would read it as a tap.
kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; serve_pid=""; sleep 1
"$door" -config "$tmp/door.toml" 2>"$tmp/door.log" &
door_pid=$!
for _ in $(seq 50); do curl -fs http://127.0.0.1:9465/metrics >/dev/null 2>&1 && break; sleep 0.1; done

tap() { # card file, what to expect
	echo "-- $2"
	serve "$1"
	sleep 1.5
	grep -E 'kind=(granted|denied)' "$tmp/door.log" | tail -1 | sed 's/^/  door | /'
	curl -fs http://127.0.0.1:9465/debug/gpio | grep -i relay | sed 's/^/  gpio | /' || true
}
tap "$tmp/anna.json" "Anna taps door 1: granted, the relay is released"
tap "$tmp/anna-clone.json" "The clone of Anna's card: denied, clone_suspected (the card cannot sign with Anna's key)"
tap "$tmp/carla.json" "Carla's genuine card, not enrolled: denied, unknown"
echo "-- Decisions counted on http://127.0.0.1:9465/metrics:"
curl -fs http://127.0.0.1:9465/metrics | grep -E '^varco_door_(decisions_total|outbox_length|revision)' | sed 's/^/  /'

step "What else varco does"
"$varco" -h
if [ -t 0 ]; then
	echo
	echo "varco-door keeps running: tap a card with"
	echo "  $varco card serve --card $tmp/anna.json"
	echo "watch http://127.0.0.1:9465/debug/gpio and /metrics; Ctrl-C stops everything."
	wait "$door_pid" || true
fi
