#!/usr/bin/env bash
# make sdk: generate the TypeScript and C# (Unity) SDKs from openapi.yaml and
# asyncapi.yaml into dist/sdk/ (ignored, never committed), compile them
# (tsc --strict; Mono's mcs at C# 7.2), then run the end-to-end programs built
# on them against a live `paradise serve` (embedded default, free loopback
# port, throwaway data directory). Exits non-zero on any failure.
#
# Output:
#   dist/sdk/ts/rest/api.d.ts   REST types for openapi-fetch (openapi-typescript)
#   dist/sdk/ts/ws/             one type per hub frame/payload + ClientFrame/ServerFrame unions (Modelina)
#   dist/sdk/cs/Rest/, Ws/      C# models (Newtonsoft.Json attributes; Modelina) + ParadiseClient,
#                               Rest/ChatStreamEvent.cs (SSE event parser), Ws/Frames.cs (frame parser)
#   dist/sdk/cs/bin/Paradise.Sdk.dll  the C# models, compiled (from dist/sdk/unity/Runtime)
#   dist/sdk/ts/                the npm package @paradise/sdk (lib/: ESM + .d.ts), packed
#                               to dist/sdk/paradise-sdk-<version>.tgz
#   dist/sdk/unity/             the UPM package com.paradise.sdk (package.json, Runtime/ + .asmdef)
#
# Needs: node + npm (tools pinned in sdk/package-lock.json), go, and Mono's
# C# compiler with Json.NET and System.Net.Http (Debian: apt-get install
# mono-mcs libnewtonsoft-json-cil-dev libmono-system-net-http4.0-cil).
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
command -v mcs >/dev/null || die "mcs (Mono C# compiler) is missing: apt-get install mono-mcs libnewtonsoft-json-cil-dev"
command -v mono >/dev/null || die "mono is missing: apt-get install mono-mcs libnewtonsoft-json-cil-dev"
pkg-config --exists newtonsoft-json 2>/dev/null || die "Newtonsoft.Json for Mono is missing (pkg-config newtonsoft-json): apt-get install libnewtonsoft-json-cil-dev"
# The C# e2e program reads the streamed chat reply with HttpClient.
[[ -f $(dirname "$(command -v mono)")/../lib/mono/4.5/System.Net.Http.dll ]] ||
	die "System.Net.Http for Mono is missing: apt-get install libmono-system-net-http4.0-cil"

step "npm ci (sdk/package-lock.json)"
(cd sdk && timed npm ci --no-audit --no-fund --loglevel=error)
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
timed mcs "${mcsflags[@]}" -target:library -out:"$out/cs/bin/Paradise.Sdk.dll" "$upm"/Runtime/Rest/*.cs "$upm"/Runtime/Ws/*.cs
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
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export PARADISE_DATA_DIR=$tmp/data
admin_user=sdk_admin
admin_password=sdk-admin-password
"$out/bin/paradise" createsuperuser --username "$admin_user" --password "$admin_password" >"$tmp/createsuperuser.log" 2>&1 ||
	{ cat "$tmp/createsuperuser.log" >&2; die "createsuperuser failed"; }
# No LLM provider: chat answers with the development provider; 5ms between
# its words (40ms by default) keeps the chat walks short. Voice rooms are
# on with a made-up RTC app (tokens are only signed, no vendor is called).
PARADISE_RTC_APP_ID=e2e0123456789abcdef01234 PARADISE_RTC_APP_KEY=e2e-rtc-app-key \
	PARADISE_LLM_DEV_DELAY=${PARADISE_LLM_DEV_DELAY:-5ms} PARADISE_METRICS_ADDR=127.0.0.1:0 PARADISE_ADDR=127.0.0.1:$port "$out/bin/paradise" serve >"$tmp/server.log" 2>&1 &
pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 100); do
	curl -fsS "$url/readyz" >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "paradise serve exited"; }
	sleep 0.1
done
curl -fsS "$url/readyz" >/dev/null || { cat "$tmp/server.log" >&2; die "paradise serve not ready at $url"; }
echo "   serving at $url (pid $pid)"

rc=0
step "TypeScript e2e (the packed @paradise/sdk)"
start=$SECONDS
PARADISE_URL=$url PARADISE_ADMIN_USER=$admin_user PARADISE_ADMIN_PASSWORD=$admin_password \
	node "$e2e_ts/build/e2e.js" || rc=1
printf '   (%ss)\n' "$((SECONDS - start))"

step "C# e2e (Mono)"
start=$SECONDS
PARADISE_URL=$url mono "$out/cs/bin/e2e.exe" || rc=1
printf '   (%ss)\n' "$((SECONDS - start))"

if [[ $rc != 0 ]]; then
	echo "--- server log (tail)" >&2
	tail -n 40 "$tmp/server.log" >&2
	die "end-to-end tests failed"
fi
echo
echo "sdk: generated, compiled and end-to-end tested (dist/sdk/)"
