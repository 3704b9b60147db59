#!/usr/bin/env bash
# Installs the Debian packages the test suite needs and a fresh machine lacks:
#   postgresql  - tests start their own server in a temporary directory (initdb, pg_ctl)
#   chromium    - tests open the HTML report in headless Chromium
# Safe to run repeatedly: it installs only what is missing. Without root or apt-get it says what
# is missing and leaves it to the tests, which skip (or, with CI=true, fail).
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "Missing system packages: ${missing[*]} (install them with apt-get as root)." >&2
fi
