#!/usr/bin/env bash
# Installs the current ClickHouse engine for the SQL-parity test
# (internal/sqlparity): chDB's libchdb.so, ClickHouse 26.7 in one shared
# library, from the npm package @chdb/lib-linux-x64-gnu. It is unpacked once
# into a cache outside the repository, checked against the sha512 pinned
# below (the registry's dist.integrity of that version), and its path is
# printed on stdout, for CHDB_LIB_PATH:
#
#   CHDB_LIB_PATH=$(deploy/local/deps-chdb.sh) go test ./internal/sqlparity
#
# `make test` does this. Needs npm (Debian's npm package, installed when
# missing, with root) and about 750 MB of disk the first time; nothing after.
set -euo pipefail

pkg="@chdb/lib-linux-x64-gnu"
version="26.7.3-stable.1"
integrity="sha512-XP97mMqnc5tZpKQywR8N7cLTsHNiTmHr30pC5mzo3jWmukjKn2IBa60c2B/gWUNcuFjOMjWoorQICCqBVj5wpw=="

dir="${LAYOFFWATCH_CHDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/layoffwatch/chdb/$version}"
lib="$dir/package/libchdb.so"

if [ -f "$dir/verified" ] && [ -f "$lib" ]; then
  echo "$lib"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "deps-chdb: installing Debian's npm package" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps-chdb: need root to apt-get install npm" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

echo "deps-chdb: fetching $pkg@$version (about 180 MB) into $dir" >&2
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
tgz="$(ls "$tmp"/*.tgz)"
got="$(node -e 'process.stdout.write("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
if [ "$got" != "$integrity" ]; then
  echo "deps-chdb: $pkg@$version: sha512 mismatch: got $got, want $integrity" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp"
[ -f "$tmp/package/libchdb.so" ] || { echo "deps-chdb: the package holds no libchdb.so" >&2; exit 1; }
rm -rf "$dir/package"
mv "$tmp/package" "$dir/package"
echo "$integrity" >"$dir/verified"
echo "deps-chdb: done" >&2
echo "$lib"
