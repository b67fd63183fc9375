#!/bin/bash
# Clone the repositories listed in conf/repos.txt into ~/SageMaker/repos, and
# fast-forward the ones that are already there and clean. Nothing is ever
# reset or stashed: a repo with local changes is left alone.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

here=$(cd "$(dirname "$0")" && pwd)
list=$here/conf/repos.txt
dest=$NB_PERSIST/repos
[ -r "$list" ] || { log "no $list"; exit 0; }
mkdir -p "$dest"

while read -r url dir branch; do
  case "$url" in ''|'#'*) continue ;; esac
  dir=${dir:-$(basename "$url" .git)}
  path=$dest/$dir
  if [ ! -d "$path/.git" ]; then
    log "cloning $url into $path"
    timeout 120 git clone --quiet ${branch:+--branch "$branch"} "$url" "$path" ||
      warn "clone of $url failed"
    continue
  fi
  if [ -n "$(git -C "$path" status --porcelain 2>/dev/null)" ]; then
    log "$dir has local changes; not updating"
    continue
  fi
  timeout 60 git -C "$path" pull --quiet --ff-only || warn "$dir: fast-forward failed"
done <"$list"
