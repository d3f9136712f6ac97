#!/usr/bin/env bash
# make sdk: generate the TypeScript and C# (Unity) SDKs from openapi.yaml and
# asyncapi.yaml into dist/sdk/ (ignored, never committed), compile them
# (tsc --strict; Mono's mcs at C# 7.2), then run the end-to-end programs built
# on them against a live `paradise serve` (embedded default, free loopback
# port, throwaway data directory). Exits non-zero on any failure.
#
# Also: HubClient's TypeScript unit tests (sdk/ts/test, node --test); the
# TypeScript walk through Stoplight Prism's validation proxy; the C# walk
# restarting the server once (HubClient must reconnect). npm ci runs only
# when sdk/package-lock.json changed since the last install.
#
# Output:
#   dist/sdk/ts/rest/api.d.ts   REST types for openapi-fetch (openapi-typescript)
#   dist/sdk/ts/ws/             one type per hub frame/payload + ClientFrame/ServerFrame unions (Modelina)
#   dist/sdk/cs/Rest/, Ws/      C# models (Newtonsoft.Json attributes; Modelina) + ParadiseClient,
#                               Rest/ChatStreamEvent.cs (SSE event parser), Ws/Frames.cs (frame parser)
#   dist/sdk/cs/bin/Paradise.Sdk.dll  the C# models, compiled (from dist/sdk/unity/Runtime)
#   dist/sdk/ts/                the npm package @paradise/sdk (lib/: ESM + .d.ts), packed
#                               to dist/sdk/paradise-sdk-<version>.tgz
#   dist/sdk/unity/             the UPM package com.paradise.sdk (package.json, Runtime/ + .asmdef;
#                               generated C# plus the hand-written sdk/cs/Runtime: HubClient, transport)
#
# Needs: node + npm (tools pinned in sdk/package-lock.json, Prism included),
# go, redis-server, and Mono's C# compiler with Json.NET and System.Net.Http
# (Debian: apt-get install mono-mcs libnewtonsoft-json-cil-dev
# libmono-system-net-http4.0-cil redis-server).
# OPENAPI / ASYNCAPI override the spec files (default: the repo's).
# SDK_GENERATE_ONLY=1 stops after generating and compiling (no server, no e2e).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
openapi=$(realpath "${OPENAPI:-openapi.yaml}")
asyncapi=$(realpath "${ASYNCAPI:-asyncapi.yaml}")
out=$root/dist/sdk

step() { printf '\n== %s\n' "$*"; }
timed() {
	local start=$SECONDS
	"$@"
	local what="$*"
	what=${what//$root\//}
	printf '   (%ss) %s\n' "$((SECONDS - start))" "${what:0:100}"
}
die() { echo "sdk/run.sh: $*" >&2; exit 1; }

# Prerequisites, checked up front so that a missing one fails clearly.
command -v node >/dev/null || die "node is missing"
command -v npm >/dev/null || die "npm is missing"
command -v go >/dev/null || die "go is missing"
command -v curl >/dev/null || die "curl is missing"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || die "redis-server is missing: apt-get install redis-server"
command -v mcs >/dev/null || die "mcs (Mono C# compiler) is missing: apt-get install mono-mcs libnewtonsoft-json-cil-dev"
command -v mono >/dev/null || die "mono is missing: apt-get install mono-mcs libnewtonsoft-json-cil-dev"
pkg-config --exists newtonsoft-json 2>/dev/null || die "Newtonsoft.Json for Mono is missing (pkg-config newtonsoft-json): apt-get install libnewtonsoft-json-cil-dev"
# The C# e2e program reads the streamed chat reply with HttpClient.
[[ -f $(dirname "$(command -v mono)")/../lib/mono/4.5/System.Net.Http.dll ]] ||
	die "System.Net.Http for Mono is missing: apt-get install libmono-system-net-http4.0-cil"

step "npm ci (sdk/package-lock.json)"
# Skipped when node_modules was installed from this very lock file (the
# stamp is a copy of the lock taken after the last successful npm ci).
stamp=sdk/node_modules/.package-lock.stamp
if cmp -s sdk/package-lock.json "$stamp"; then
	echo "   node_modules matches sdk/package-lock.json: skipped"
else
	(cd sdk && timed npm ci --no-audit --no-fund --loglevel=error)
	cp sdk/package-lock.json "$stamp"
fi
bin=$root/sdk/node_modules/.bin

step "generate into dist/sdk/"
rm -rf "$out"
mkdir -p "$out/ts/rest" "$out/cs" "$out/build"
# --default-non-nullable false: a property with a default (ChatRequest.stream)
# stays optional, as clients need not send it.
timed "$bin/openapi-typescript" "$openapi" -o "$out/ts/rest/api.d.ts" --silent --default-non-nullable false
timed node sdk/scripts/gen-ws-ts.mjs "$asyncapi" "$out/ts/ws"
timed node sdk/scripts/gen-ts-pkg.mjs "$openapi" "$asyncapi" "$out/ts"
timed node sdk/scripts/gen-cs.mjs "$openapi" "$out/cs/Rest" Paradise.Rest
timed node sdk/scripts/gen-cs.mjs "$asyncapi" "$out/cs/Ws" Paradise.Ws

step "compile: tsc --strict, mcs -langversion:7.2; npm pack"
# The npm package: ESM + .d.ts in dist/sdk/ts/lib; the generated REST types
# ship as they are (rest/api.d.ts, also where the admin console reads them)
# and are copied beside the compiled sources that import them.
ln -sfn "$root/sdk/node_modules" "$out/ts/node_modules" # openapi-fetch's types, for tsc only
timed "$bin/tsc" -p "$out/ts"
rm "$out/ts/node_modules"
# HubClient's unit tests (backoff, heartbeat; fake clock and socket) on the
# compiled package; test/ is not packed.
mkdir -p "$out/ts/test" && cp sdk/ts/test/*.test.mjs "$out/ts/test/"
timed node --test "$out"/ts/test/*.test.mjs >"$out/build/ts-unit.log" 2>&1 || { cat "$out/build/ts-unit.log" >&2; die "TypeScript unit tests failed"; }
unit_tests=$(sed -n 's/^# pass //p' "$out/build/ts-unit.log")
echo "   TypeScript unit tests: $unit_tests passed"
mkdir -p "$out/ts/lib/rest" && cp "$out/ts/rest/api.d.ts" "$out/ts/lib/rest/api.d.ts"
(cd "$out/ts" && timed npm pack --silent --pack-destination "$out" >/dev/null)
tgz=$(ls "$out"/paradise-sdk-*.tgz)
# The TypeScript e2e program is a client team's project: it installs the
# packed SDK (and ws for Node) into its own folder and compiles against it.
e2e_ts=$out/e2e-ts
mkdir -p "$e2e_ts"
cp sdk/e2e/ts/e2e.ts sdk/e2e/ts/tsconfig.json "$e2e_ts/"
printf '{"name":"paradise-sdk-e2e","private":true,"type":"module"}\n' >"$e2e_ts/package.json"
ver() { node -p "require('$root/sdk/package-lock.json').packages['node_modules/$1'].version"; }
(cd "$e2e_ts" && timed npm install --prefer-offline --no-audit --no-fund --loglevel=error "$tgz" \
	"ws@$(ver ws)" "@types/ws@$(ver @types/ws)" "@types/node@$(ver @types/node)")
timed "$bin/tsc" -p "$e2e_ts"
# The Unity (UPM) package: the generated C# under Runtime/ with an assembly
# definition; Json.NET comes from com.unity.nuget.newtonsoft-json. The C#
# e2e program is compiled against these files, not dist/sdk/cs/.
upm=$out/unity
mkdir -p "$upm/Runtime/Rest" "$upm/Runtime/Ws"
cp "$out"/cs/Rest/*.cs "$upm/Runtime/Rest/"
cp "$out"/cs/Ws/*.cs "$upm/Runtime/Ws/"
# The hand-written runtime (HubClient's core, the REST transport, the
# numeric enum converter, Unity-only helpers) beside the generated code.
cp -R sdk/cs/Runtime/. "$upm/Runtime/"
node -e '
const fs = require("fs");
const [dir, ts] = process.argv.slice(1);
const version = JSON.parse(fs.readFileSync(ts, "utf8")).version;
fs.writeFileSync(dir + "/package.json", JSON.stringify({
  name: "com.paradise.sdk", version, displayName: "Paradise SDK",
  description: "Paradise REST client and hub frame models for contract " + version + " (generated from openapi.yaml and asyncapi.yaml).",
  unity: "2019.4",
  dependencies: { "com.unity.nuget.newtonsoft-json": "3.2.1" },
}, null, 2) + "\n");
fs.writeFileSync(dir + "/Runtime/Paradise.Sdk.asmdef", JSON.stringify({
  name: "Paradise.Sdk", rootNamespace: "Paradise", references: [],
  overrideReferences: true, precompiledReferences: ["Newtonsoft.Json.dll"], autoReferenced: true, noEngineReferences: false,
}, null, 2) + "\n");
' "$upm" "$out/ts/package.json"
mkdir -p "$out/cs/bin"
mcsflags=(-langversion:7.2 -warnaserror+ -nologo -pkg:newtonsoft-json -r:System.Runtime.Serialization)
mapfile -t runtime < <(find "$upm/Runtime" -name '*.cs' | sort)
timed mcs "${mcsflags[@]}" -r:System.Net.Http -target:library -out:"$out/cs/bin/Paradise.Sdk.dll" "${runtime[@]}"
# The Unity-only branches (UnityWebRequest transport, HubClientRunner),
# compiled against stand-ins with UnityEngine's signatures; not shipped.
timed mcs "${mcsflags[@]}" -define:UNITY_5_3_OR_NEWER -target:library -out:"$out/build/unity-check.dll" sdk/cs/unity-stubs/*.cs "${runtime[@]}"
timed mcs "${mcsflags[@]}" -r:System.Net.Http -r:"$out/cs/bin/Paradise.Sdk.dll" -out:"$out/cs/bin/e2e.exe" sdk/e2e/cs/*.cs
# mono loads references from the program's folder (or the GAC).
nj=$(pkg-config --libs newtonsoft-json | sed 's/^-r://; s/ *$//')
[[ -f $nj ]] && cp -f "$nj" "$out/cs/bin/"

if [[ ${SDK_GENERATE_ONLY:-} == 1 ]]; then
	echo "SDKs generated and compiled in dist/sdk/"
	exit 0
fi

step "start paradise serve (embedded default)"
timed go build -o "$out/bin/paradise" ./cmd/paradise
tmp=$(mktemp -d)
pid=
cs_pid= prism_pid= front_pid= redis_pid=
cleanup() {
	for p in $cs_pid $prism_pid $front_pid; do
		kill "$p" 2>/dev/null || true
	done
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ -n $redis_pid ]]; then
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port=$(free_port)
export PARADISE_DATA_DIR=$tmp/data
# A private Redis (no persistence) rather than the server's in-process one:
# tokens live in Redis, and the C# walk restarts the server and expects its
# hub sessions to come back with the same tokens.
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
	redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
	sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null || { cat "$tmp/redis.log" >&2; die "redis-server did not start"; }
export REDIS_URL=redis://127.0.0.1:$redis_port/0
admin_user=sdk_admin
admin_password=sdk-admin-password
"$out/bin/paradise" createsuperuser --username "$admin_user" --password "$admin_password" >"$tmp/createsuperuser.log" 2>&1 ||
	{ cat "$tmp/createsuperuser.log" >&2; die "createsuperuser failed"; }
url=http://127.0.0.1:$port
# start_server starts `paradise serve` on $port (same data directory, so
# tokens survive a restart) and waits until it is ready; sets pid.
# No LLM provider: chat answers with the development provider; 5ms between
# its words (40ms by default) keeps the chat walks short. Voice rooms are
# on with a made-up RTC app (tokens are only signed, no vendor is called).
start_server() {
	PARADISE_RTC_APP_ID=e2e0123456789abcdef01234 PARADISE_RTC_APP_KEY=e2e-rtc-app-key \
		PARADISE_LLM_DEV_DELAY=${PARADISE_LLM_DEV_DELAY:-5ms} PARADISE_METRICS_ADDR=127.0.0.1:0 PARADISE_ADDR=127.0.0.1:$port "$out/bin/paradise" serve >>"$tmp/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		curl -fsS "$url/readyz" >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "paradise serve exited"; }
		sleep 0.1
	done
	curl -fsS "$url/readyz" >/dev/null || { cat "$tmp/server.log" >&2; die "paradise serve not ready at $url"; }
}
stop_server() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
}
start_server
echo "   serving at $url (pid $pid)"

rc=0
step "Prism validation proxy (openapi.yaml; every response checked)"
# The TypeScript walk runs through Stoplight Prism's proxy with --errors: a
# response that breaks openapi.yaml becomes a 500 VIOLATIONS answer (the
# walk fails) and a logged violation (this script fails). Requests are not
# validated (the walk sends invalid ones on purpose to see the server's 400
# envelopes). prism-front.mjs sends what Prism cannot carry (WebSocket
# upgrades, Server-Sent Event streams) straight to the server.
prism_port=$(free_port)
front_port=$(free_port)
"$bin/prism" proxy "$openapi" "$url" --host 127.0.0.1 --port "$prism_port" --errors --validate-request=false >"$tmp/prism.log" 2>&1 &
prism_pid=$!
node sdk/scripts/prism-front.mjs "$front_port" "http://127.0.0.1:$prism_port" "$url" >"$tmp/prism-front.log" 2>&1 &
front_pid=$!
for _ in $(seq 600); do
	grep -q 'Prism is listening' "$tmp/prism.log" && grep -q 'listening' "$tmp/prism-front.log" && break
	kill -0 "$prism_pid" 2>/dev/null || { cat "$tmp/prism.log" >&2; die "prism exited"; }
	sleep 0.2
done
grep -q 'Prism is listening' "$tmp/prism.log" || { cat "$tmp/prism.log" >&2; die "prism did not start"; }
echo "   prism at 127.0.0.1:$prism_port (pid $prism_pid), the walk's front door at 127.0.0.1:$front_port"

step "TypeScript e2e (the packed @paradise/sdk), through Prism"
start=$SECONDS
PARADISE_URL=http://127.0.0.1:$front_port PARADISE_ADMIN_USER=$admin_user PARADISE_ADMIN_PASSWORD=$admin_password \
	node "$e2e_ts/build/e2e.js" | tee "$tmp/e2e-ts.log" || rc=1
printf '   (%ss)\n' "$((SECONDS - start))"
kill "$front_pid" "$prism_pid" 2>/dev/null || true
wait "$front_pid" "$prism_pid" 2>/dev/null || true
front_pid= prism_pid=
sed 's/^/   /' "$tmp/prism-front.log" | tail -n 1
if grep -q 'Violation\|✖' "$tmp/prism.log"; then
	echo "--- Prism reported contract violations:" >&2
	grep -B2 -A8 'Violation\|✖' "$tmp/prism.log" | sed 's/\x1b\[[0-9;]*m//g' | head -n 80 >&2
	rc=1
else
	echo "   Prism: $(grep -c 'Received forward response' "$tmp/prism.log") responses validated, no violations"
fi

step "C# e2e (Mono)"
start=$SECONDS
# The walk checks that HubClient reconnects after a server restart: it
# writes $PARADISE_RESTART_FILE, and this loop takes (removes) the file,
# then restarts the server on the same port and data directory. Taken
# first: the clients may be back before start_server returns, and the
# walk checks the file is gone once they are.
restart_file=$tmp/restart-server
PARADISE_URL=$url PARADISE_RESTART_FILE=$restart_file mono "$out/cs/bin/e2e.exe" >"$tmp/e2e-cs.log" 2>&1 &
cs_pid=$!
while kill -0 "$cs_pid" 2>/dev/null; do
	if [[ -f $restart_file ]]; then
		echo "   restarting the server (asked by the C# walk)"
		rm -f "$restart_file"
		stop_server
		start_server
		echo "   serving again at $url (pid $pid)"
	fi
	sleep 0.1
done
wait "$cs_pid" || rc=1
cs_pid=
cat "$tmp/e2e-cs.log"
printf '   (%ss)\n' "$((SECONDS - start))"

if [[ $rc != 0 ]]; then
	echo "--- server log (tail)" >&2
	tail -n 40 "$tmp/server.log" >&2
	die "end-to-end tests failed"
fi
checks() { sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 passed, \2 failed/p' "$1" | tail -n 1; }
echo
echo "sdk: generated, compiled and end-to-end tested (dist/sdk/)"
echo "   TypeScript unit tests: $unit_tests passed"
echo "   TypeScript e2e checks: $(checks "$tmp/e2e-ts.log")"
echo "   C# e2e checks:         $(checks "$tmp/e2e-cs.log")"
