#!/usr/bin/env bash
# PERF_DELAY_MS=<ms> skips set-up (store filling) before sampling starts.
# Inclusive ("children") native profile of one case with perf and DWARF call graphs, so time in
# malloc/free is charged to the C++ function that caused it.
#   benchmarks/profile/perf-tree.sh <impl> <case id> [seconds] [grep pattern]
set -euo pipefail
impl=${1:-native}; case_id=${2:-merge3/128KB/text}; secs=${3:-3}
pat=${4:-'rtc::|RealtimeCore::|realloc_insert|uninit_copy|~basic_json|destroy|napi_|Utf8|malloc$|_int_free|JS:\^'}
here="$(cd "$(dirname "$0")" && pwd)"
out=/tmp/rtc-perf; mkdir -p "$out"
name="$(echo "$impl-$case_id" | tr '/' '_')-dwarf"
cd "$out" && perf record ${PERF_DELAY_MS:+-D $PERF_DELAY_MS} -F 499 --call-graph dwarf,16384 -o "$out/$name.data" -- node --perf-basic-prof "$here/focus.js" --impl="$impl" --case="$case_id" --seconds="$secs" 2>&1 | grep -v '^\[ perf record'
echo "--- inclusive / self time ($out/$name.data)"
perf report -i "$out/$name.data" --children --sort symbol -g none 2>/dev/null | grep -v '^#' | grep -E "$pat" \
  | sed -E 's/nlohmann::json_abi_v[0-9_]+::basic_json<[^>]*<[^>]*>[^>]*>[^>]*>[^>]*>( > >)?/Json/g; s/std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >/std::string/g; s/ +$//' \
  | cut -c1-180 | head -45
