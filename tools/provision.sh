#!/usr/bin/env bash
# Install the system packages the tests need (tools/system-packages.txt) when missing.
# As root with apt-get: installs them. Otherwise: one line saying what to install, exit 1.
# Used by `make test` and `.ci/run`. PROVISION_LIST=FILE reads another list.
set -euo pipefail
cd "$(dirname "$0")/.."
list=${PROVISION_LIST:-tools/system-packages.txt}

have() {  # have 'cmd|/abs/path*|...': true when one alternative exists
  local alt path
  IFS='|' read -r -a alts <<<"$1"
  for alt in "${alts[@]}"; do
    if [[ $alt == /* ]]; then
      for path in $alt; do [[ -e $path ]] && return 0; done
    elif command -v "$alt" >/dev/null 2>&1; then
      return 0
    fi
  done
  return 1
}

missing() {  # prints the packages of the unmet lines, and their services on fd 3
  local check pkgs service
  while read -r check pkgs service; do
    [[ -z $check || $check == \#* ]] && continue
    have "$check" && continue
    tr ',' ' ' <<<"$pkgs"
    if [[ -n ${service:-} ]]; then echo "$service" >&3; fi
  done <"$list"
  return 0
}

pkgs=$(missing 3>/dev/null | xargs)
[[ -z $pkgs ]] && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs these system packages, missing here: $pkgs (Debian/Ubuntu: sudo apt-get install --no-install-recommends $pkgs; or run make test as root)" >&2
  exit 1
fi
services=$(missing 3>&1 >/dev/null | xargs)
echo "installing system packages for the tests: $pkgs"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs
# The tests start their own servers on free loopback ports, never the system services.
if command -v systemctl >/dev/null 2>&1; then
  for s in $services; do systemctl stop "$s" >/dev/null 2>&1 || true; done
fi
left=$(missing 3>/dev/null | xargs)
if [[ -n $left ]]; then
  echo "apt-get installed $pkgs but these are still missing: $left" >&2
  exit 1
fi
