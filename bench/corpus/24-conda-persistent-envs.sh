#!/bin/bash
# Conda environments on the persistent volume show up as Jupyter kernels.
#
# 22-pip-conda-config.sh points envs_dirs at ~/SageMaker/.conda/envs; here we
# register a kernel for each env there that has ipykernel, drop kernels whose
# env is gone, and create the team's analytics env when it does not exist yet
# (detached: it takes longer than the 5 minutes a lifecycle hook may run).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

here=$(cd "$(dirname "$0")" && pwd)
envs=$NB_PERSIST/.conda/envs
kernels=$NB_HOME/.local/share/jupyter/kernels
conda=$NB_CONDA/condabin/conda
[ -x "$conda" ] || conda=$NB_CONDA/bin/conda
[ -x "$conda" ] || die "no conda under $NB_CONDA"
mkdir -p "$envs" "$kernels"

registered=0
for env in "$envs"/*/; do
  [ -d "$env" ] || continue
  env=${env%/}
  name=${env##*/}
  py=$env/bin/python
  if [ ! -x "$py" ]; then
    continue
  fi
  if ! "$py" -c 'import ipykernel' 2>/dev/null; then
    log "$name has no ipykernel; not registering (conda install -n $name ipykernel)"
    continue
  fi
  # --user: kernels go under ~/.local, which is recreated at every start
  if "$py" -m ipykernel install --user --name "persist-$name" --display-name "conda: $name (persistent)" >/dev/null 2>&1; then
    registered=$((registered + 1))
  else
    warn "ipykernel install failed for $name"
  fi
done

# Kernels pointing at an env that was deleted leave a dead entry in the launcher.
for spec in "$kernels"/persist-*/kernel.json; do
  [ -f "$spec" ] || continue
  argv0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["argv"][0])' "$spec" 2>/dev/null)
  if [ -n "$argv0" ] && [ ! -x "$argv0" ]; then
    log "removing stale kernel $(basename "$(dirname "$spec")")"
    rm -rf "$(dirname "$spec")"
  fi
done
log "registered $registered persistent kernels"

# The team env: created once, in the background, logged to the volume.
spec=$here/conf/analytics-env.yml
target=$envs/analytics
logdir=$NB_STATE/logs
if [ -f "$spec" ] && [ ! -d "$target" ]; then
  mkdir -p "$logdir"
  if [ -e "$target.creating" ]; then
    warn "an earlier creation of $target did not finish; retrying"
    rm -rf "$target" "$target.creating"
  fi
  touch "$target.creating"
  log "creating $target in the background (log: $logdir/conda-analytics.log)"
  nohup bash -c "
    unset SUDO_UID SUDO_GID SUDO_USER
    '$conda' env create --quiet -p '$target' -f '$spec' &&
      '$target/bin/python' -m ipykernel install --user --name persist-analytics --display-name 'conda: analytics (persistent)' &&
      rm -f '$target.creating'
  " >"$logdir/conda-analytics.log" 2>&1 </dev/null &
  disown || true
fi
exit 0
