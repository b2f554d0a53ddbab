#!/usr/bin/env bash
# Installs, from Debian's packages, what layoffwatch needs beyond Go, when
# it is missing; needs root (or sudo) only then, and does nothing otherwise.
#
#   deploy/local/deps.sh demo     # make demo, make bench-*: clickhouse-server (ClickHouse 18.16),
#                                 # which layoffwatch starts itself on loopback ports with its
#                                 # own config and data directory
#   deploy/local/deps.sh test     # make test: the above, docker-compose (validates
#                                 # docker-compose.yml; no Docker engine needed), prometheus
#                                 # (promtool checks deploy/prometheus; the prometheus server
#                                 # runs the live alert-rule test), chromium (the gateway's
#                                 # headless browser test) and prometheus-alertmanager (amtool
#                                 # checks deploy/alertmanager)
#   deploy/local/deps.sh cluster  # make test-cluster: zookeeper (with its Java runtime)
#
# More packages: EXTRA="pkg ..." deploy/local/deps.sh test
set -euo pipefail

mode="${1:-test}"
policy="${POLICY_RC_D:-/usr/sbin/policy-rc.d}" # overridable for deploy/local's test
need=()
missing() { command -v "$1" >/dev/null 2>&1 && return 1; return 0; }

if missing clickhouse-server && [ ! -x /usr/sbin/clickhouse-server ] && missing clickhouse; then
  need+=(clickhouse-server)
fi
case "$mode" in
  demo) ;;
  test)
    missing docker-compose && need+=(docker-compose)
    { missing promtool || missing prometheus; } && need+=(prometheus)
    missing chromium && need+=(chromium)
    missing amtool && need+=(prometheus-alertmanager)
    ;;
  cluster)
    { [ -f /usr/share/java/zookeeper.jar ] && ! missing java; } || need+=(zookeeper)
    ;;
  *) echo "deps: unknown mode $mode (want demo, test or cluster)" >&2; exit 2 ;;
esac
for pkg in ${EXTRA:-}; do
  missing "$pkg" && need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0

echo "deps: installing ${need[*]} from Debian's packages" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  missing sudo && { echo "deps: need root to apt-get install ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# policy-rc.d keeps the packages from starting their own servers (ClickHouse
# on port 9000, Prometheus on 9090, ZooKeeper on 2181): layoffwatch starts
# them itself, with its own config. Whatever policy-rc.d the machine had is
# put back afterwards, or none left behind.
saved="$policy.layoffwatch-saved"
if [ -e "$policy" ] && [ ! -e "$saved" ]; then
  $sudo mv "$policy" "$saved"
fi
restore() {
  if [ -e "$saved" ]; then
    $sudo mv -f "$saved" "$policy"
  else
    $sudo rm -f "$policy"
  fi
}
trap restore EXIT
$sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > "$1" && chmod +x "$1"' sh "$policy"

$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "deps: done" >&2
