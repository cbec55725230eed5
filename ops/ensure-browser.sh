#!/usr/bin/env bash
# What the browser tests need besides Node packages (the test command's set-up, like ensure-services.sh
# for PostgreSQL): Debian's chromium, which Playwright drives, and pdftotext (poppler-utils), which reads
# generated PDF price lists back. Uses them when present, else (root on Debian) installs them, else says
# what to do. Idempotent; prints every step it takes.
set -euo pipefail

say() { echo "magistral: $*"; }

CHROMIUM="${MAGISTRAL_CHROMIUM:-/usr/bin/chromium}"
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing ${missing[*]} for the browser tests (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  }
  exit 0
fi
echo "magistral: the browser tests need ${missing[*]}: install them (Debian: sudo apt-get install ${missing[*]}), or set MAGISTRAL_CHROMIUM to a Chromium binary" >&2
exit 1
