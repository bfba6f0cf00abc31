#!/usr/bin/env bash
# The `make run` demo: a whole Varco site on one machine.
#
#   varco-admin (SQLite, embedded MQTT broker on loopback, demo = true)
#   two varco-door processes, "Ingresso" and "Magazzino", on the two vpcd
#     readers of pcscd (virtual CIE cards) with simulated relays (fake GPIO)
#   virtual CIEs: anna and bruno enrolled (EF.SOD verified by the admin
#     against the demo's test CSCA), carla not enrolled, a clone of anna
#
# Then `varco tap --door ingresso --card anna` (or the panel's Demo page)
# taps a card over pcscd, and the entry appears live in the panel.
# Ctrl-C stops everything. Without a terminal (CI) it taps three cards,
# checks the entry log and exits.
#
# Usage: .ci/demo.sh BIN-DIR   (pcscd running: .ci/with-pcscd.sh does it)
# Environment: VARCO_DEMO_DIR (default ${TMPDIR:-/tmp}/varco-demo),
# VARCO_DEMO_PORT (panel port, default 8080 or the next free one),
# VARCO_DEMO_CHECK=1 runs the self-check even on a terminal.
set -euo pipefail

bin=$(cd "$1" && pwd)
varco=$bin/varco
demo=${VARCO_DEMO_DIR:-${TMPDIR:-/tmp}/varco-demo}
site=demo
# Passwords: varcodemo-admin, varcodemo-hr, ... (at least 12 characters).
pw=${VARCO_DEMO_PASSWORD:-varcodemo}
password=$pw-admin
vpcd_ports=(35963 35964)

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
free_port() { # first free TCP port from $1
	local p=$1
	while listening "$p"; do p=$((p + 1)); done
	echo "$p"
}

for t in curl jq ss setsid; do command -v $t >/dev/null || die "$t is needed (make run installs it)"; done
listening "${vpcd_ports[0]}" || die "pcscd's vpcd reader is not listening on ${vpcd_ports[0]}: run through .ci/with-pcscd.sh"

# A fresh demo directory each run; refuse to wipe a directory that is
# not an earlier demo's.
if [ -e "$demo" ]; then
	[ -f "$demo/.varco-demo" ] || [ -z "$(ls -A "$demo")" ] || die "$demo exists and is not a Varco demo: set VARCO_DEMO_DIR"
	if [ -f "$demo/pids" ]; then
		while read -r pid; do kill -0 "$pid" 2>/dev/null && die "a demo is already running (pid $pid); stop it first"; done <"$demo/pids"
	fi
	rm -rf "$demo"
fi
mkdir -p "$demo"/{cards,logs}
touch "$demo/.varco-demo"
chmod 700 "$demo"
log=$demo/logs

pids=()
cleanup() {
	local code=$?
	trap - EXIT INT TERM
	if [ ${#pids[@]} -gt 0 ]; then
		echo
		echo "stopping the demo..."
		# Newest first: the doors (and the station) while varco-admin's
		# broker is still there, then varco-admin.
		for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[i]}"; done
	fi
	rm -f "$demo/pids"
	if [ "$code" -ne 0 ]; then
		echo "demo: failed; logs in $log" >&2
		for f in "$log"/*.log; do
			[ -s "$f" ] || continue
			echo "--- last lines of $f" >&2
			grep -v 'msg="http request"' "$f" | tail -15 >&2 || true
		done
	fi
	exit "$code"
}
stop() { # pid: SIGTERM, then SIGKILL if it has not exited within 10 s
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		echo "demo: $(ps -o comm= -p "$1") (pid $1) did not stop within 10 s of SIGTERM: killing it" >&2
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}
trap cleanup EXIT
# Ctrl-C (or SIGTERM) is how the demo ends: a clean stop, status 0.
trap 'exit 0' INT TERM

start() { # name, command...: runs a child with its log in $log/name.log
	local name=$1
	shift
	# A session of its own: Ctrl-C reaches this script alone, which stops
	# the children in order (doors before the broker they report to).
	setsid "$@" >"$log/$name.log" 2>&1 </dev/null &
	pids+=($!)
	echo $! >>"$demo/pids"
}

wait_for() { # what, url: waits until url answers 200 (30 s)
	for _ in $(seq 300); do
		curl -fs -o /dev/null "$2" && return 0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || die "$1 exited"; done
		sleep 0.1
	done
	die "$1 did not answer at $2"
}

step "Virtual CIE cards and their test PKI ($demo)"
"$varco" card pki -out "$demo/pki" >/dev/null
newcard() { # name, nis, generation
	"$varco" card new --nis "$2" --gen "$3" --pki "$demo/pki" -out "$demo/cards/$1.json" >/dev/null
	echo "  $1: NIS $2, CIE $3"
}
newcard anna 012345678901 2022
newcard bruno 098765432109 2016
newcard carla 055555555555 2022
"$varco" card new --negative clone --clone-of "$demo/cards/anna.json" -out "$demo/cards/anna-clone.json" >/dev/null
echo "  anna-clone: anna's NIS, key file and EF.SOD on another chip (it cannot sign with anna's key)"

step "varco-admin (SQLite, embedded broker on loopback)"
http_port=${VARCO_DEMO_PORT:-$(free_port 8080)}
listening "$http_port" && die "port $http_port is busy (VARCO_DEMO_PORT)"
mqtt_port=$(free_port 18883)
admin_metrics=$(free_port 19466)
base=http://127.0.0.1:$http_port
broker=ssl://127.0.0.1:$mqtt_port
mkdir -m 700 "$demo/admin"
cat >"$demo/varco-admin.toml" <<EOF
# varco-admin of the demo (.ci/demo.sh)
listen = "127.0.0.1:$http_port"
data_dir = "$demo/admin"
metrics_listen = "127.0.0.1:$admin_metrics"
csca_dir = "$demo/pki/trusted"
demo = true
demo_dir = "$demo"

[log]
level = "info"

[mqtt]
site = "$site"
embedded = true
listen = "127.0.0.1:$mqtt_port"
EOF
start varco-admin env VARCO_ADMIN_PASSWORD="$password" "$bin/varco-admin" -config "$demo/varco-admin.toml"
wait_for varco-admin "$base/healthz"
echo "  $base (broker $broker)"

# The API: log in as admin with a session (cookie + CSRF token), make an
# API token with it, and use the token from then on.
jar=$demo/admin-cookies.txt
csrf=$(curl -fsS -c "$jar" -H 'Content-Type: application/json' -H "Origin: $base" \
	-d "$(jq -n --arg p "$password" '{username: "admin", password: $p}')" "$base/api/v1/auth/login" | jq -r .csrf_token)
token=$(curl -fsS -b "$jar" -H 'Content-Type: application/json' -H "Origin: $base" -H "X-CSRF-Token: $csrf" \
	-d '{"name": "demo.sh", "role": "admin"}' "$base/api/v1/tokens" | jq -r .token)
rm -f "$jar"
[ -n "$token" ] && [ "$token" != null ] || die "no API token"
api() { # method, path, [json body]: prints the answer, fails on an error status
	local out code
	out=$(curl -sS -o - -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $token" \
		${3:+-H 'Content-Type: application/json' -d "$3"} "$base/api/v1$2")
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	[ "${code:0:1}" = 2 ] || die "$1 $2: $code $out"
	printf '%s' "$out"
}
jid() { jq -r .id; }

step "Doors, people, a schedule, groups, cards and users through the API"
site_id=$(api GET /sites | jq -r '.[0].id')
ingresso=$(api POST /doors "$(jq -n --argjson s "$site_id" '{site_id: $s, name: "Ingresso", location: "Piano terra", controller_id: "ingresso"}')" | jid)
magazzino=$(api POST /doors "$(jq -n --argjson s "$site_id" '{site_id: $s, name: "Magazzino", location: "Seminterrato", controller_id: "magazzino"}')" | jid)
echo "  doors: Ingresso (ingresso), Magazzino (magazzino)"
person() { # employee no, name, surname
	api POST /people "$(jq -n --arg n "$1" --arg a "$2" --arg s "$3" '{employee_no: $n, name: $a, surname: $s, active: true}')" | jid
}
p_anna=$(person D001 Anna Rossi)
p_bruno=$(person D002 Bruno Bianchi)
p_carla=$(person D003 Carla Verdi)
echo "  people: Anna Rossi, Bruno Bianchi, Carla Verdi (no card yet)"
# Monday to Friday, 07:00-20:00 (minutes of the day).
office=$(api POST /schedules "$(jq -n '{name: "Orario d'"'"'ufficio", days: [[], [{start: 420, end: 1200}], [{start: 420, end: 1200}], [{start: 420, end: 1200}], [{start: 420, end: 1200}], [{start: 420, end: 1200}], []], open_on_holidays: false}')" | jid)
echo "  schedule: Orario d'ufficio (Mon-Fri 07:00-20:00)"
enrol() { # person id, card name: POST /cards, EF.SOD verified against the CSCA set
	jq --argjson pid "$1" '{person_id: $pid, nis, public_key: .key_file, sod}' "$demo/cards/$2.json" >"$demo/enrol-$2.json"
	api POST /cards "@$demo/enrol-$2.json" >/dev/null
	rm -f "$demo/enrol-$2.json"
	echo "  enrolled $2's card (EF.SOD verified by varco-admin)"
}
enrol "$p_anna" anna
enrol "$p_bruno" bruno
api POST /groups "$(jq -n --argjson i "$ingresso" --argjson m "$magazzino" --argjson a "$p_anna" --argjson b "$p_bruno" \
	'{name: "Personale", schedule_id: null, door_ids: [$i], person_ids: [$a, $b]}')" >/dev/null
api POST /groups "$(jq -n --argjson m "$magazzino" --argjson b "$p_bruno" --argjson s "$office" \
	'{name: "Magazzinieri", schedule_id: $s, door_ids: [$m], person_ids: [$b]}')" >/dev/null
echo "  groups: Personale (Anna, Bruno: Ingresso, always), Magazzinieri (Bruno: Magazzino, office hours)"
for role in hr facilities viewer; do
	api POST /users "$(jq -n --arg u "$role" --arg p "$pw-$role" --arg r "$role" '{username: $u, password: $p, role: $r}')" >/dev/null
done
echo "  users: hr, facilities, viewer"
: "$p_carla"

step "Two varco-door processes on the vpcd readers, simulated relays"
doors_json="[]"
i=0
for name in ingresso magazzino; do
	title=${name^}
	dir=$demo/door-$name
	mkdir -p "$dir"
	"$varco" door provision --data-dir "$demo/admin" --door "$name" --broker "$broker" --site "$site" -out "$dir/mqtt" >"$log/provision-$name.log" 2>&1 ||
		die "varco door provision $name: $(cat "$log/provision-$name.log")"
	port=$(free_port $((19471 + i)))
	vport=${vpcd_ports[i]}
	cat >"$dir/varco-door.toml" <<EOF
# varco-door "$title" of the demo (.ci/demo.sh): vpcd reader, fake GPIO
controller_id = "ctl-$name"
state_dir = "$dir"
metrics_addr = "127.0.0.1:$port"
gpio = "fake"

[site]
id = "$site"
time_zone = "Europe/Rome"
site_public_key = "$(cat "$dir/mqtt/site.pub")"

[mqtt]
broker = "$broker"
ca = "$dir/mqtt/ca.crt"
reconnect_min = "200ms"
reconnect_max = "2s"

[log]
level = "info"

[clock]
rtc = true
ntp_check = false

[[doors]]
id = "$name"
name = "$title"
reader = "virtual"
vpcd_port = $vport
relay_pin = "${name^^}_RELAY"
contact_pin = "${name^^}_CONTACT"
contact_active_low = true
release_time = "3s"
EOF
	start "varco-door-$name" "$bin/varco-door" -config "$dir/varco-door.toml"
	wait_for "varco-door $name" "http://127.0.0.1:$port/metrics"
	# The fake contact pin starts high: "open" for an active-low contact.
	curl -fsS -d "pin=${name^^}_CONTACT&level=low" "http://127.0.0.1:$port/debug/gpio" >/dev/null
	doors_json=$(jq --arg n "$name" --arg t "$title" --arg v "127.0.0.1:$vport" --arg m "http://127.0.0.1:$port" \
		'. + [{name: $n, title: $t, vpcd: $v, metrics: $m}]' <<<"$doors_json")
	echo "  $title: reader Virtual PCD 00 0$i (vpcd $vport), metrics and /debug/gpio on http://127.0.0.1:$port"
	i=$((i + 1))
done
# Wait until both doors hold the admin's revision of their allowlist.
for name in ingresso magazzino; do
	door_id=$([ $name = ingresso ] && echo "$ingresso" || echo "$magazzino")
	m=$(jq -r --arg n $name '.[] | select(.name == $n) | .metrics' <<<"$doors_json")
	for try in $(seq 300); do
		want=$(api GET "/doors/$door_id" | jq -r .revision)
		have=$(curl -fs "$m/metrics" | awk -v s="varco_door_allowlist_revision{door=\"$name\"}" '$1 == s {print $2}')
		[ "${have:-0}" = "$want" ] && break
		[ "$try" = 300 ] && die "door $name did not reach revision $want (at ${have:-none})"
		sleep 0.1
	done
	echo "  $name: allowlist revision $want, in sync"
done

# The HR desk's enrolment station. vpcd offers two readers and the doors
# use both, so the desk's station reads the virtual cards `varco tap`
# hands it on a loopback port (varco enroll --virtual): the same
# enrolment read and challenge signature, without pcscd.
step "Enrolment station banco-hr (the HR desk)"
"$varco" station provision --data-dir "$demo/admin" --station banco-hr --broker "$broker" --site "$site" -out "$demo/station" >"$log/provision-station.log" 2>&1 ||
	die "varco station provision: $(cat "$log/provision-station.log")"
crt=$(ls "$demo/station"/*.crt | grep -v '/ca.crt$' | head -1)
dport=$(free_port 19480)
start varco-enroll "$varco" enroll --broker "$broker" --cert "$crt" --key "${crt%.crt}.key" --virtual "127.0.0.1:$dport"
doors_json=$(jq --arg d "127.0.0.1:$dport" '. + [{name: "banco-hr", title: "Banco HR (registrazione)", vpcd: "", metrics: "", desk: $d}]' <<<"$doors_json")
for _ in $(seq 100); do listening "$dport" && break; sleep 0.1; done
listening "$dport" || die "the enrolment station did not start; see $log/varco-enroll.log"
echo "  station banco-hr, virtual desk on 127.0.0.1:$dport"

jq -n --arg a "$base" --arg v "$varco" --argjson d "$doors_json" '{admin: $a, varco: $v, doors: $d, cards: [
	{name: "anna", file: "cards/anna.json", note: "Anna Rossi, CIE 2022, enrolled (Ingresso)"},
	{name: "bruno", file: "cards/bruno.json", note: "Bruno Bianchi, CIE 2016, enrolled (Ingresso; Magazzino in office hours)"},
	{name: "carla", file: "cards/carla.json", note: "Carla Verdi, genuine CIE, not enrolled"},
	{name: "anna-clone", file: "cards/anna-clone.json", note: "a clone of Anna'"'"'s card"}]}' >"$demo/demo.json"

tap() { "$varco" tap --demo-dir "$demo" "$@"; }

selfcheck() {
	step "Self-check: three taps at Ingresso, then the entry log"
	tap --door ingresso --card anna
	tap --door ingresso --card carla
	tap --door ingresso --card anna-clone
	local want=("granted:" "denied:unknown" "denied:clone_suspected")
	for _ in $(seq 100); do
		got=$(api GET "/events?door_id=$ingresso&limit=10" | jq -r '[.events[] | select(.kind == "granted" or .kind == "denied") | "\(.kind):\(.reason // "")"] | reverse | join(" ")')
		[ "$got" = "${want[*]}" ] && break
		sleep 0.1
	done
	echo "  /api/v1/events of Ingresso: $got"
	[ "$got" = "${want[*]}" ] || die "the entry log shows \"$got\", want \"${want[*]}\""
	step "Self-check: HR enrols Carla's card at banco-hr"
	sid=$(api POST /enrol/sessions "{\"station\":\"banco-hr\",\"person_id\":$p_carla}" | jq -r .id)
	tap --door banco-hr --card carla >/dev/null
	res=$(api GET "/enrol/sessions/$sid?wait=20s")
	state=$(jq -r .state <<<"$res")
	echo "  enrolment session: $state $(jq -r '.card.nis // .reason // ""' <<<"$res")"
	[ "$state" = verified ] || die "enrolment at banco-hr: $res"
	echo "  ok"
}

step "Varco is running"
bold "  Panel:    $base/"
echo "  Logins:   admin / $password         (everything)"
echo "            hr / $pw-hr               (people, cards, enrolment)"
echo "            facilities / $pw-facilities (doors, entry log, schedules)"
echo "            viewer / $pw-viewer       (read only)"
echo "  Tap a card (or use the panel's Demo page):"
echo "    $varco tap --door ingresso --card anna        # granted, the relay releases"
echo "    $varco tap --door ingresso --card carla       # denied: not enrolled"
echo "    $varco tap --door ingresso --card anna-clone  # denied: suspected clone"
echo "    $varco tap --door magazzino --card bruno      # granted in office hours only"
echo "  Demo directory: $demo (logs in $log)"
echo "  Enrol a card: in the panel, Registra tessera → Carla Verdi, station banco-hr, then"
echo "    $varco tap --door banco-hr --card carla       # HR sees it verified live"

if [ -t 0 ] && [ -z "${VARCO_DEMO_CHECK:-}" ]; then
	echo
	bold "Ctrl-C stops everything."
	# Returns when a child exits (or at Ctrl-C, through the trap).
	wait -n "${pids[@]}" || true
	die "a demo process exited; see $log"
fi
selfcheck
