#!/bin/bash
# One hot SKU over HTTP with API keys: the yardstick script ../shared/peers/engine-http-hot-sku.sh (which predates
# keys) adapted. The merchant stocks with the operator key, wrk reserves with a platform key, every order id unique,
# durable acknowledgements. Prints "engine_http_hot_sku_rps N", p50/p99 and the non-2xx count.
# Usage: engine-http-hot-sku.sh [CHECKOUT=.] [connections=64] [seconds=15] [wrk-threads=2]
# Also prints the CPU time wrk itself spent per request (its user + system time over the measured run).
# Environment: COUNTERS=1 adds the service's allocation, CPU time, context switches (also by thread name) and thread-pool work items per request,
# its collections and the JIT time of the measured run (dotnet-counters, /proc);
# TRACE=file.nettrace records a profile of the measured run (dotnet-trace; TRACE_PROFILE=cpu-sampling for on-CPU
# samples, gc-verbose for allocations, default thread-time samples); SERVICE_DLL=path runs that build instead (A/B runs against a copied build output);
# NO_BUILD=1 uses the existing Release build as is; DOTNET_* settings pass through to the service.
set -euo pipefail
repo=$(cd "${1:-.}" && pwd) conns=${2:-64} secs=${3:-15} threads=${4:-2}
dir=$(mktemp -d /tmp/engine-http.XXXX); port=$((20000 + RANDOM % 20000))
dll=${SERVICE_DLL:-$repo/src/Restock.Actors.Service/bin/Release/net10.0/Restock.Actors.Service.dll}
if [ -z "${SERVICE_DLL:-}" ] && { [ -z "${NO_BUILD:-}" ] || [ ! -f "$dll" ]; }; then
  (cd "$repo" && dotnet build -c Release -nologo -v q src/Restock.Actors.Service >/dev/null)
fi
operator="restock_bench-operator-$RANDOM$RANDOM"
# Started from another folder, as a deployment starts it: the service finds its appsettings.json beside the dll.
(cd "$dir" && RESTOCK_CONNECTION_STRING="Data Source=$dir/restock.db" RESTOCK_HTTP_URLS="http://127.0.0.1:$port" \
  RESTOCK_OPERATOR_KEY="$operator" exec dotnet "$dll" > "$dir/log" 2>&1) &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [ -z "${KEEP_LOG:-}" ] || cp "$dir/log" "$KEEP_LOG"; rm -rf '"$dir" EXIT
for i in $(seq 240); do curl -sf -o /dev/null "127.0.0.1:$port/readyz" && break; sleep 0.5; done
auth="authorization: Bearer $operator"
curl -sf -X PUT "127.0.0.1:$port/shops/shop-bench/skus/hot/stock" -H "$auth" -H content-type:application/json \
  -d '{"adjustmentId":"a1","quantity":100000000}' >/dev/null
platform=$(curl -sf -X POST "127.0.0.1:$port/keys" -H "$auth" -H content-type:application/json \
  -d '{"kind":"platform","label":"wrk"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[ -n "$platform" ] || { echo "no platform key issued" >&2; exit 1; }
cat > "$dir/reserve.lua" <<LUA
-- setup runs in the main Lua state; thread:set gives each thread its own global tid, so order ids never repeat.
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
-- Like the yardstick's C client, the constant part of every request is made once per thread (in init): the request
-- line and headers up to Content-Length, and the body's start; per request only the order id's number, the body and
-- its length. Every request still carries a new order id (a real, durable reservation).
local n = 0
local head, body_start
local body_end = '","quantity":1,"paymentWindowSeconds":3600}'
function init(args)
  local run = args[1] or "r"  -- warm-up and measured runs use different ids
  local headers = {["content-type"] = "application/json", ["authorization"] = "Bearer $platform"}
  -- wrk.format without a body ends with the blank line; cut it to append the length.
  local formatted = wrk.format("POST", "/skus/hot/reservations", headers)
  head = formatted:sub(1, -3) .. "Content-Length: "
  body_start = '{"orderId":"' .. run .. tid .. "-"
end
function request()
  n = n + 1
  local body = body_start .. n .. body_end
  return head .. #body .. "\r\n\r\n" .. body
end
function done(summary, latency, requests)
  io.write(string.format("p50_ms %.2f p99_ms %.2f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
# hh:mm:ss for the diagnostic tools' --duration (the trace's takes a day in front), whatever the run's length.
hms() { printf '%02d:%02d:%02d' $(($1 / 3600)) $(($1 % 3600 / 60)) $(($1 % 60)); }
# warm-up, then the measured run
wrk -t"$threads" -c"$conns" -d3s -s "$dir/reserve.lua" "http://127.0.0.1:$port" -- warm >/dev/null 2>&1 || true
if [ -n "${COUNTERS:-}" ]; then
  # Allocation and collections of the service during the measured run (dotnet-counters, one line a second).
  # Bounded: dotnet-counters once kept running past its duration (session 8), which left the script waiting for ever.
  timeout $((secs + 30)) ~/.dotnet/tools/dotnet-counters collect -p "$pid" --format csv -o "$dir/counters.csv" --refresh-interval 1 \
    --duration "$(hms "$secs")" --counters System.Runtime >/dev/null 2>&1 &
  counters=$!
  sleep 1
fi
if [ -n "${TRACE:-}" ]; then
  # A CPU sample profile of the service during the measured run, kept at $TRACE (.nettrace).
  # cpu-sampling (on-CPU samples, root only) goes through perf_events; the other profiles through EventPipe.
  verb=collect; [ "${TRACE_PROFILE:-}" != cpu-sampling ] || verb=collect-linux
  ~/.dotnet/tools/dotnet-trace $verb -p "$pid" --profile "${TRACE_PROFILE:-dotnet-sampled-thread-time}" -o "$TRACE" \
    --duration "00:$(hms "$secs")" >/dev/null 2>&1 &
  tracer=$!
  sleep 2
fi
# Context switches of all the service's threads (each a thread going to sleep or being preempted): wake-ups per request.
switches() { cat /proc/"$pid"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }
# The same by thread name (thread-pool workers, the socket engine's epoll thread, the journal's writer...), voluntary
# (went to sleep: a wake-up follows) and involuntary (preempted), to see which hand-off the switches come from.
switches_by_thread() {
  # A thread may end between the listing and the read: skip it.
  for t in /proc/"$pid"/task/*; do
    name=$(tr ' ' _ 2>/dev/null < "$t/comm") && status=$(cat "$t/status" 2>/dev/null) || continue
    echo "$status" | awk -v name="$name" '/^voluntary_ctxt/ { v = $2 } /^nonvoluntary_ctxt/ { i = $2 } END { print name, v + 0, i + 0 }'
  done
}
[ -z "${COUNTERS:-}" ] || { switched=$(switches); switches_by_thread > "$dir/switches.before"; }
# `times` in the same subshell, after wrk ends: the CPU the client itself spent (user and system), for its cost per request.
out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$dir/reserve.lua" "http://127.0.0.1:$port" -- main 2>&1; times)
[ -z "${COUNTERS:-}" ] || { switched=$(( $(switches) - switched )); switches_by_thread > "$dir/switches.after"; }
[ -z "${COUNTERS:-}" ] || wait $counters || true
[ -z "${TRACE:-}" ] || wait $tracer || true
reserved=$(curl -s "127.0.0.1:$port/skus/hot" -H "authorization: Bearer $platform" | sed -n 's/.*"reserved":\([0-9]*\).*/\1/p')
echo "reserved after both runs: $reserved (every request a new order: warm-up + measured requests)"
# How many requests went to the SKU in shared messages (callers that waited while its messages were under way), both runs;
# and the SKU's group commits: events per journal write and the mean time from its write to the journal's answer (its
# commit cycle, fsync included).
curl -s "127.0.0.1:$port/metrics" -H "$auth" | awk -v all="$reserved" '
  /^restock_sku_shared_message_size[a-z_]*_sum/ { sum = $2 } /^restock_sku_shared_message_size[a-z_]*_count/ { n = $2 }
  /^restock_journal_batch_size_sum/ { events = $2 } /^restock_journal_batch_size_count/ { writes = $2 }
  /^restock_journal_write_latency[a-z_]*_sum/ { wait = $2 } /^restock_journal_write_latency[a-z_]*_count/ { waited = $2 }
  END { if (n > 0 && all > 0) printf "shared_messages %d, %.1f requests each, %.0f%% of all requests\n", n, sum / n, 100 * sum / all
    if (writes > 0 && waited > 0) printf "journal_writes %d, %.1f events each, %.2f ms mean from write to answer\n", writes, events / writes, wait / waited }'

echo "$out" | grep -E 'requests in|Requests/sec|Non-2xx|p50_ms|Socket errors' || true
rps=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
echo "engine_http_hot_sku_rps $rps"
requests=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
echo "$out" | tail -1 | awk -v reqs="$requests" '
  function secs(t) { split(t, p, "m"); return p[1] * 60 + substr(p[2], 1, length(p[2]) - 1) }
  reqs > 0 { printf "wrk_cpu_us_per_request %.1f (user %s, system %s)\n", (secs($1) + secs($2)) / reqs * 1e6, $1, $2 }'
if [ -n "${COUNTERS:-}" ]; then
  # Per request, from the service's mean rates over the run: these hold still while the machine's load moves.
  awk -F, -v rps="$rps" -v sw="$switched" -v reqs="$requests" '
    $3 ~ /total_allocated/ { alloc += $5; n++ }
    $3 ~ /thread_pool.work_item.count/ { items += $5 }
    $3 ~ /jit.compilation.time/ { jit += $5 }
    $3 ~ /jit.compiled_methods/ { methods += $5 }
    $3 ~ /cpu.time/ { cpu += $5 }
    $3 ~ /gc.collections/ { split($3, g, "generation="); gen[substr(g[2], 1, 4)] += $5 }
    $3 ~ /gc.pause.time/ { pause += $5 }
    END { if (n > 0 && rps > 0) printf "per_request alloc_bytes %.0f cpu_us %.0f; over %d s: gen0 %d gen1 %d gen2 %d collections, %.2f s paused\n",
      alloc / n / rps, cpu / n / rps * 1e6, n, gen["gen0"], gen["gen1"], gen["gen2"], pause
      if (reqs > 0) printf "per_request context_switches %.2f thread_pool_work_items %.2f; JIT %.2f s, %d methods\n", sw / reqs, items / n / rps, jit, methods }' "$dir/counters.csv"
  # Threads that ended during the run are missing from the second snapshot: their switches count in the total only.
  awk -v reqs="$requests" 'FNR == NR { v[$1] -= $2; i[$1] -= $3; next } { v[$1] += $2; i[$1] += $3; c[$1]++ }
    END { line = "per_request context_switches by thread (voluntary/involuntary):"
      for (k in c) if (reqs > 0 && (v[k] + i[k]) / reqs >= 0.01) line = line sprintf(" %s x%d %.2f/%.2f;", k, c[k], v[k] / reqs, i[k] / reqs)
      print line }' "$dir/switches.before" "$dir/switches.after"
fi
