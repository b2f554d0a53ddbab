#!/usr/bin/env bash
# Installs Debian's zookeeper package (it brings its Java runtime) for
# `make test-cluster`, when missing. layoffwatch starts ZooKeeper itself on a
# loopback port with its own config and data directory.
set -euo pipefail
[ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1 && exit 0
echo "deps: installing zookeeper from Debian's packages" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root to apt-get install zookeeper" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
$sudo apt-get install -y -qq zookeeper >/dev/null
echo "deps: done" >&2
