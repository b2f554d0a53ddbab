#!/usr/bin/env bash
# Fetches the real employment series `make bench-quality` judges plans on,
# once, into a cache outside the repository, and prints the directory:
#
#   fedstl.idx, fedstl.bin — the FRED extract of Debian's gretl-data package
#   (241 monthly series, not seasonally adjusted; the benchmark reads paynsa,
#   US total nonfarm employment 1939-01 … 2022-09, with April 2020).
#
# The package is downloaded and unpacked, not installed (it depends on gretl
# and its GUI). No root needed. The BLS CES file of the fpp3 data (148 NSA
# series) is not in any registry this project may fetch from; set
# LAYOFFWATCH_REALDATA_FPP3 to a local copy of US_employment_fpp3_Monthly.txt
# to add it (never commit it).
set -euo pipefail
version=2022c-1
sha256=7790d2f1341c6d75643a31103169b228ae6a2f75aa413db6c7ff0de97dc91a66
dir="${XDG_CACHE_HOME:-$HOME/.cache}/layoffwatch/realdata/gretl-data-$version"
if [ -s "$dir/fedstl.idx" ] && [ -s "$dir/fedstl.bin" ]; then
  echo "$dir"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
download() { (cd "$tmp" && apt-get download "gretl-data=$version" >/dev/null 2>&1); }
if ! download && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true # a fresh machine may have no package index yet
  download || true
fi
ls "$tmp"/gretl-data_*.deb >/dev/null 2>&1 || {
  echo "deps-realdata: apt-get download gretl-data=$version failed (is Debian's package index current? try: sudo apt-get update)" >&2
  exit 1
}
deb=$(ls "$tmp"/gretl-data_*.deb)
got=$(sha256sum "$deb" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
  echo "deps-realdata: $deb has sha256 $got, expected $sha256" >&2
  exit 1
fi
dpkg-deb -x "$deb" "$tmp/x"
mkdir -p "$dir"
cp "$tmp/x/usr/share/gretl/db/fedstl.idx" "$tmp/x/usr/share/gretl/db/fedstl.bin" "$dir/"
echo "$dir"
