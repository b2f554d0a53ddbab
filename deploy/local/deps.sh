#!/usr/bin/env bash
# Installs what the tests, the benchmarks and `make demo` need beyond Go:
# Debian's clickhouse-server package (ClickHouse 18.16), which layoffwatch
# starts itself on loopback ports with its own config and data directory,
# docker-compose, to validate docker-compose.yml, prometheus, whose promtool
# checks deploy/prometheus (config and alert rule tests), and chromium, the
# headless browser the gateway's web-form test drives.
# Needs root (or sudo) when something is missing; does nothing otherwise.
set -euo pipefail

need=()
command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || command -v clickhouse >/dev/null 2>&1 || need+=(clickhouse-server)

# docker-compose validates docker-compose.yml in the tests (no Docker engine
# is needed for that); prometheus brings promtool, which checks
# deploy/prometheus/prometheus.yml and runs the alert rule tests;
# chromium runs the gateway's browser test (headless).
# More: EXTRA="pkg ..." deploy/local/deps.sh
for pkg in docker-compose prometheus chromium ${EXTRA:-}; do
  case "$pkg" in
    prometheus) command -v promtool >/dev/null 2>&1 || need+=(prometheus) ;;
    *) command -v "$pkg" >/dev/null 2>&1 || need+=("$pkg") ;;
  esac
done

[ ${#need[@]} -eq 0 ] && exit 0

echo "deps: installing ${need[*]} from Debian's packages" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root to apt-get install ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps the packages from starting their own servers (ClickHouse
# on port 9000, Prometheus on 9090): layoffwatch starts ClickHouse itself,
# with its own config, and the tests need only promtool.
$sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "deps: done" >&2
