#!/bin/bash
# notebook-lifecycle runner: runs the plan of one lifecycle hook on the notebook instance.
#
# Usage: run.sh HOOK DEADLINE [FROM LOG]
#   HOOK      on-start or on-create (names the log file)
#   DEADLINE  seconds the foreground steps may take together; 0 means no deadline
#   FROM LOG  continue the plan at step FROM, appending to LOG (used after a deadline)
#
# The decoder that SageMaker runs unpacks the bundle into the install dir and
# execs this file as root, with cwd / and stdout going to CloudWatch.
#
# Guarantees: every step runs as its user with stdin from /dev/null; one failing
# step never stops the others; this script always exits 0, within the deadline.
# A step still running at the deadline is left running detached (its output is
# still logged) and the remaining steps continue, in order, in the background.
#
# Plan: $here/plan, one step a line: NAME<TAB>USER<TAB>MODE(fg|bg)<TAB>HOW(exec|bash)<TAB>PATH
# This file is shipped minified (comment lines and indentation removed): keep it
# free of heredocs and multi-line strings.
set -u
hook=$1
budget=$2
from=${3:-0}
log=${4:-}
here=${0%/*}
dir=${here%/*}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
cd /
umask 022

now() {
  local t
  t=$(date +%s%N)
  echo $((t / 1000000))
}
t0=$(now)

# The persistent log lives on the EBS volume, root-owned, readable by ec2-user.
# ec2-user owns ~/SageMaker, so never follow a symlink there: replace it.
if [ -z "$log" ]; then
  base=/home/ec2-user/SageMaker/.lifecycle
  logdir=$base/logs
  if [ -d /home/ec2-user/SageMaker ]; then
    for d in "$base" "$logdir"; do
      if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then
        rm -f "$d"
      fi
      mkdir -p "$d" && chown root:root "$d" && chmod 755 "$d"
    done
  else
    logdir=/var/log/notebook-lifecycle
    mkdir -p "$logdir"
  fi
  log=$logdir/$hook-$(date -u +%Y%m%dT%H%M%SZ)-$$.log
  if ! (set -C && : >"$log") 2>/dev/null; then
    log=$(mktemp /tmp/notebook-lifecycle-XXXXXX.log)
  fi
  chmod 644 "$log"
  # keep the last 10 logs of this hook
  find "$logdir" -maxdepth 1 -type f -name "$hook-*.log" -printf '%f\n' 2>/dev/null | sort | head -n -10 |
    while read -r old; do rm -f "$logdir/$old"; done
fi

# From here on, everything goes to the log; flush copies what is new to fd 3 (stdout).
exec 3>&1 >>"$log" 2>&1
sent=$(stat -c %s "$log")
flush() {
  local size
  size=$(stat -c %s "$log")
  if [ "$size" -gt "$sent" ]; then
    tail -c +$((sent + 1)) "$log" | head -c $((size - sent)) >&3
    sent=$size
  fi
}
if [ "$from" = 0 ]; then
  echo "notebook-lifecycle: $hook starts $(date -u +%FT%TZ); install dir $dir; log $log"
else
  echo "notebook-lifecycle: $hook continues in the background from step $((from + 1))"
fi

# The deadline: a watchdog signals USR1, which interrupts `wait`.
late=0
trap 'late=1' USR1
wd=
if [ "$budget" -gt 0 ]; then
  remaining=$((budget - ($(now) - t0) / 1000))
  [ "$remaining" -gt 0 ] || remaining=1
  (
    trap 'kill $s 2>/dev/null; exit 0' TERM
    sleep "$remaining" &
    s=$!
    wait $s
    kill -USR1 $$
  ) 3>&- </dev/null &
  wd=$!
fi

names=()
users=()
states=()
secs=()
i=0
rest=-1
while IFS=$'\t' read -r name user mode how path; do
  if [ "$i" -lt "$from" ]; then
    i=$((i + 1))
    continue
  fi
  if [ "$late" = 1 ] && [ "$mode" = fg ]; then
    rest=$i
    break
  fi
  cmd=("$dir/$path")
  [ "$how" = exec ] || cmd=(/bin/bash "$dir/$path")
  [ "$user" = root ] || cmd=(sudo -H -i -u "$user" "${cmd[@]}")
  echo "==> [$name] as $user ($mode)"
  flush
  start=$(now)
  tag=${name//[\\|&]/_}
  setsid "${cmd[@]}" </dev/null > >(sed -u "s|^|[$tag] |" 3>&-) 2>&1 3>&- &
  pid=$!
  if [ "$mode" = bg ]; then
    state=started
  else
    wait "$pid"
    rc=$?
    if [ "$late" = 1 ] && kill -0 "$pid" 2>/dev/null; then
      state=detached
    elif [ "$rc" = 0 ]; then
      state=ok
    else
      state="failed($rc)"
    fi
  fi
  took=$(($(now) - start))
  echo "<== [$name] $state after $((took / 1000)).$(printf %03d $((took % 1000)))s"
  names+=("$name")
  users+=("$user")
  states+=("$state")
  secs+=("$((took / 1000)).$(printf %03d $((took % 1000)))")
  i=$((i + 1))
done <"$here/plan"

if [ -n "$wd" ]; then
  kill "$wd" 2>/dev/null
fi
if [ "$rest" -ge 0 ]; then
  echo "notebook-lifecycle: deadline of ${budget}s reached; steps from $((rest + 1)) on continue in the background (see $log)"
  setsid /bin/bash "$0" "$hook" 0 "$rest" "$log" </dev/null >/dev/null 2>&1 3>&- &
fi

total=$(($(now) - t0))
echo
echo "notebook-lifecycle summary ($hook)"
printf '%-40s %-9s %-11s %9s\n' STEP USER STATUS SECONDS
for j in "${!names[@]}"; do
  printf '%-40s %-9s %-11s %9s\n' "${names[$j]}" "${users[$j]}" "${states[$j]}" "${secs[$j]}"
done
if [ "$from" = 0 ]; then
  echo "total $((total / 1000)).$(printf %03d $((total % 1000)))s (deadline ${budget}s, platform limit 300s)"
fi
flush
exit 0
