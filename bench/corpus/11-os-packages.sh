#!/bin/bash
# Install the OS packages listed in conf/os-packages.txt.
#
# The image is reset on every start, so this runs every time. dnf on AL2023,
# yum on AL2; EPEL only where the package needs it. A package that fails does
# not stop the others: we install one batch, then retry the failures one by one
# so the log says exactly which name is wrong.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

list="$(dirname "$0")/conf/os-packages.txt"
[ -r "$list" ] || die "missing $list"

flavor=$(os_flavor)
pm=$(pkg_manager) || die "neither dnf nor yum is available"
log "flavor $flavor, package manager $pm"

wanted=()
while read -r name only _; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ -n "${only:-}" ] && [ "${only:0:1}" != "#" ] && [ "$only" != "$flavor" ]; then
    continue
  fi
  wanted+=("$name")
done <"$list"

missing=()
for p in "${wanted[@]}"; do
  rpm -q "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  log "all ${#wanted[@]} packages already installed"
  exit 0
fi

opts=(-y -q)
if [ -n "${PROXY_URL:-}" ]; then
  # yum/dnf do not read https_proxy from the environment reliably under sudo
  opts+=("--setopt=proxy=$PROXY_URL")
fi
if [ "$flavor" = al2 ] && ! rpm -q epel-release >/dev/null 2>&1; then
  # the_silver_searcher and friends live in EPEL on AL2
  amazon-linux-extras install -y epel >/dev/null 2>&1 || warn "could not enable EPEL"
fi

log "installing ${#missing[@]} packages: ${missing[*]}"
if ! retry 3 "$pm" "${opts[@]}" install "${missing[@]}"; then
  warn "batch install failed; trying one at a time"
  failed=()
  for p in "${missing[@]}"; do
    "$pm" "${opts[@]}" install "$p" >/dev/null 2>&1 || failed+=("$p")
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    warn "could not install: ${failed[*]}"
  fi
fi

# cronie is not on AL2023 by default; the autostop job needs crond running
if command -v crond >/dev/null 2>&1 && command -v systemctl >/dev/null 2>&1; then
  systemctl enable --now crond >/dev/null 2>&1 || warn "could not start crond"
fi
exit 0
