#!/bin/bash
# Feature autostop (root, every start): run autostop.py every 5 minutes under a systemd timer
# where systemd runs, else from /etc/cron.d where a cron daemon runs, else as one detached
# loop (pidfile; a re-run replaces it); its log line names the one taken and why. The check
# runs with the root-owned /usr/bin/python3; autostop.py itself finds a Python with boto3 for
# the AWS calls and runs it as ec2-user.
# A first check runs here, at once: it starts the idle clock (autostop.py writes its state file,
# on the root volume: one per boot, kept when this runs again) and logs what it found.
# Schedules are rewritten, never appended. Always exits 0. Shipped minified (no heredocs).
# autostop.conf (always written by features.py) sets NL_IDLE_MINUTES and NL_IGNORE_CONNECTIONS.
set -u
here=${BASH_SOURCE[0]%/*}
# shellcheck source=/dev/null
. "$here/autostop.conf"
py=/usr/bin/python3
[ -x $py ] || { echo "ERROR no $py: autostop is off"; exit 0; }
cmd=("$py" "$here/autostop.py" --quiet --idle-seconds $((NL_IDLE_MINUTES * 60)))
[ "$NL_IGNORE_CONNECTIONS" = 1 ] && cmd+=(--ignore-connections)
"${cmd[@]}"
every="every 5 minutes, stopping after $NL_IDLE_MINUTES idle minutes"
name=notebook-lifecycle-autostop
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  unit=/etc/systemd/system/$name
  printf '%s\n' "[Service]" "Type=oneshot" "ExecStart=${cmd[*]}" >$unit.service
  printf '%s\n' "[Timer]" "OnCalendar=*:0/5" "[Install]" "WantedBy=timers.target" >$unit.timer
  systemctl daemon-reload
  systemctl enable $name.timer 2>&1
  systemctl restart $name.timer && echo "systemd timer $name.timer: $every" || echo "ERROR $name.timer did not start"
elif [ -d /etc/cron.d ] && { pgrep -x crond || pgrep -x cron; } >/dev/null; then
  # written aside (cron skips names with a dot), then renamed: cron never reads half a file
  echo "*/5 * * * * root ${cmd[*]} >/dev/null 2>>/var/log/jupyter.log" >/etc/cron.d/.$name
  chmod 644 /etc/cron.d/.$name && mv -f /etc/cron.d/.$name /etc/cron.d/$name && echo "no systemd, cron runs: /etc/cron.d/$name: $every"
else
  # a previous loop (this script run again) is replaced; the pid is checked to be ours first
  pid=/run/$name.pid
  old=$(cat $pid 2>/dev/null)
  grep -qs autostop.py "/proc/$old/cmdline" && kill "$old"
  setsid bash -c 'while sleep 300; do "$@"; done' autostop-loop "${cmd[@]}" </dev/null >/dev/null 2>>/var/log/jupyter.log &
  echo $! >$pid
  echo "no systemd, no cron daemon: a detached loop (pid $!) runs $every"
fi
exit 0
