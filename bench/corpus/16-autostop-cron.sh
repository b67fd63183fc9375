#!/bin/bash
# Install the idle checker (autostop.py, next to this script) in root's crontab.
#
# Picks an interpreter that can import boto3 (JupyterSystemEnv first: the
# system python3 on AL2 has no boto3); autostop.py falls back to the aws CLI
# when none can. IDLE_TIMEOUT_SECONDS=0 in the settings disables it.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

here=$(cd "$(dirname "$0")" && pwd)
script=$here/autostop.py
idle=${IDLE_TIMEOUT_SECONDS:-3600}
logdir=$NB_STATE/logs
marker="# team-autostop"

if [ "$idle" = 0 ]; then
  log "autostop disabled (IDLE_TIMEOUT_SECONDS=0); removing the cron entry"
  crontab -l 2>/dev/null | grep -v "$marker" | crontab - || true
  exit 0
fi
[ -r "$script" ] || die "missing $script"

python=
for candidate in \
  "$NB_CONDA/envs/JupyterSystemEnv/bin/python" \
  "$NB_CONDA/envs/python3/bin/python" \
  /usr/bin/python3; do
  if [ -x "$candidate" ] && "$candidate" -c 'import boto3' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  python=/usr/bin/python3
  warn "no interpreter with boto3; autostop will use the aws CLI"
fi

if ! command -v crontab >/dev/null 2>&1; then
  # AL2023 has no cron by default; 11-os-packages.sh installs cronie
  warn "crontab not found; is cronie installed? autostop NOT active"
  exit 0
fi

install -d -o root -g root -m 755 "$logdir"
flags="--idle $idle"
[ "${AUTOSTOP_IGNORE_CONNECTIONS:-true}" = true ] && flags="$flags --ignore-connections"
line="*/5 * * * * $python $script $flags >>$logdir/autostop.log 2>&1 $marker"

current=$(crontab -l 2>/dev/null || true)
if printf '%s\n' "$current" | grep -qxF "$line"; then
  log "cron entry already present"
else
  { printf '%s\n' "$current" | grep -v "$marker" | sed '/^$/d'; echo "$line"; } | crontab -
  log "installed: $line"
fi

# keep the log from growing without bound on the persistent volume
if [ -f "$logdir/autostop.log" ] && [ "$(stat -c %s "$logdir/autostop.log")" -gt 5242880 ]; then
  mv -f "$logdir/autostop.log" "$logdir/autostop.log.1"
fi

# a dry run now catches a broken interpreter at start instead of never stopping
"$python" "$script" --idle "$idle" --dry-run >/dev/null 2>&1 || warn "autostop dry run failed; check $logdir/autostop.log"
exit 0
