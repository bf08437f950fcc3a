#!/bin/bash
# The yardsticks and the service over HTTP back to back, with the ratios: Redis Lua pre-deduct (appendfsync always,
# then everysec) from ../shared/peers, then this folder's engine-http-hot-sku.sh (the peers' engine script predates
# API keys). Needs redis-server and wrk. Usage: compare.sh [CHECKOUT=.] [connections=64] [seconds=15]
# Environment: PEERS=folder of the yardstick scripts (default: ../shared/peers beside the checkout); the other
# variables of engine-http-hot-sku.sh (NO_BUILD, COUNTERS, SERVICE_DLL) pass through.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "${1:-.}" && pwd) conns=${2:-64} secs=${3:-15}
peers=${PEERS:-$repo/../shared/peers}
figure() { sed -n "s/^$1 \([0-9.]*\).*/\1/p" | tail -1; }
# Each run's output also to standard error through its descriptor: `tee /dev/stderr` opens the file anew, truncating one
# the caller opened for appending (`2>>log`).
shown() { while IFS= read -r line || [ -n "$line" ]; do printf '%s\n' "$line"; printf '%s\n' "$line" >&2; done; }
always=$("$peers/redis-hot-key.sh" always 32 200000 | shown | figure redis_hot_key_ops)
everysec=$("$peers/redis-hot-key.sh" everysec 32 300000 | shown | figure redis_hot_key_ops)
http=$("$here/engine-http-hot-sku.sh" "$repo" "$conns" "$secs" | shown | figure engine_http_hot_sku_rps)
echo "redis_always $always  redis_everysec $everysec  engine_http $http  (load $(cut -d' ' -f1-3 /proc/loadavg))"
awk -v h="$http" -v a="$always" -v e="$everysec" \
  'BEGIN { printf "engine_http / redis_always %.2f  engine_http / redis_everysec %.2f\n", (a > 0 ? h / a : 0), (e > 0 ? h / e : 0) }'
