#!/usr/bin/env bash
# Flat native profile of one case with perf (C++ frames of the addon, libc, V8 and JIT'd JS).
#   benchmarks/profile/perf-flat.sh <impl> <case id> [seconds] [rows]
# e.g. benchmarks/profile/perf-flat.sh native merge3/128KB/text 4 40
# Writes /tmp/rtc-perf/<name>.data; prints self time by symbol, with nlohmann's long
# basic_json<...> type shortened to Json.
set -euo pipefail
impl=${1:-native}; case_id=${2:-merge3/128KB/text}; secs=${3:-4}; rows=${4:-40}
here="$(cd "$(dirname "$0")" && pwd)"
out=/tmp/rtc-perf; mkdir -p "$out"
name="$(echo "$impl-$case_id" | tr '/' '_')"
cd "$out" && perf record ${PERF_DELAY_MS:+-D $PERF_DELAY_MS} -F 1999 -g -o "$out/$name.data" -- node --perf-basic-prof "$here/focus.js" --impl="$impl" --case="$case_id" --seconds="$secs" 2>&1 | grep -v '^\[ perf record'
echo "--- self time by symbol ($out/$name.data)"
perf report -i "$out/$name.data" --no-children --sort dso,symbol -g none --percent-limit 0.4 2>/dev/null \
  | grep -v '^#' | grep -v '^$' \
  | sed -E 's/nlohmann::json_abi_v[0-9_]+::basic_json<nlohmann::json_abi_v[0-9_]+::ordered_map, std::vector, std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, bool, long, unsigned long, double, std::allocator, nlohmann::json_abi_v[0-9_]+::adl_serializer, std::vector<unsigned char, std::allocator<unsigned char> > >/Json/g; s/std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >/std::string/g; s/ +$//' \
  | cut -c1-220 | head -n "$rows"
