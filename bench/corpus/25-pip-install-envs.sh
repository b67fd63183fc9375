#!/bin/bash
# Install conf/requirements-common.txt into every conda env that has pip,
# except JupyterSystemEnv (the server's own env; upgrading it breaks Jupyter).
#
# Runs detached and sequentially: parallel installs into several envs have
# corrupted package caches, and the whole thing takes 3-8 minutes, longer than
# a lifecycle hook may run. The log of each run goes to the persistent volume.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

here=$(cd "$(dirname "$0")" && pwd)
req=$here/conf/requirements-common.txt
logdir=$NB_STATE/logs
lock=/tmp/pip-install-envs.lock
[ -r "$req" ] || die "missing $req"
mkdir -p "$logdir"
log_file=$logdir/pip-install-$(date -u +%Y%m%d-%H%M%S).log

# Keep the last 5 logs.
ls -1t "$logdir"/pip-install-*.log 2>/dev/null | tail -n +5 | xargs -r rm -f

worker() {
  exec 9>"$lock"
  if ! flock -n 9; then
    echo "another install is running; exiting"
    return 0
  fi
  local ok=0 failed=0 env name pip
  for env in "$NB_CONDA"/envs/* "$NB_PERSIST"/.conda/envs/*; do
    [ -d "$env" ] || continue
    name=${env##*/}
    case "$name" in JupyterSystemEnv|R|*.creating) continue ;; esac
    pip=$env/bin/pip
    [ -x "$pip" ] || continue
    echo "=== $name ($(date -u +%H:%M:%S))"
    # The env's own python, never `source activate`: activation scripts of
    # some envs fail under set -u and leave the shell half-configured.
    if "$env/bin/python" -m pip install --quiet --upgrade-strategy only-if-needed -r "$req"; then
      ok=$((ok + 1))
    else
      echo "!!! $name: pip install failed"
      failed=$((failed + 1))
    fi
  done
  echo "done: $ok envs updated, $failed failed ($(date -u +%H:%M:%S))"
}

export -f worker
export NB_CONDA NB_PERSIST lock req
log "installing into every env in the background; log: $log_file"
nohup bash -c worker >"$log_file" 2>&1 </dev/null &
disown || true
exit 0
