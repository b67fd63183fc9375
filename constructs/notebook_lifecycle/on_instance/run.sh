#!/bin/bash
# notebook-lifecycle runner: runs the plan of one lifecycle hook on the notebook instance.
#
# Usage: run.sh HOOK DEADLINE [FROM LOG]
#   HOOK      on-start or on-create (names the log file)
#   DEADLINE  seconds the foreground steps may take together; 0 means no deadline
#   FROM LOG  continue the plan at step FROM (0-based), appending to LOG (used after a deadline)
# or: run.sh --step N   (internal) exec step N of the plan as the calling user; sudo runs this
#   so that a file name never passes through the user's login shell.
#
# The decoder that SageMaker runs unpacks the bundle into the install dir and
# execs this file as root, with cwd / and stdout going to CloudWatch.
#
# Guarantees: every step runs as its user with stdin from /dev/null; one failing
# step never stops the others; this script always exits 0, within the deadline.
# A step still running at the deadline is left running detached (its output is
# still logged) and the remaining steps continue, in order, in the background.
#
# Plan: $h/plan, one step a line: NAME<TAB>USER<TAB>fg|bg<TAB>exec|bash<TAB>PATH
# This file is shipped minified (comment lines and indentation removed): keep it
# free of heredocs and multi-line strings. Its size counts against the 16,384
# character budget of every bundle: keep it short.
set -u
h=${0%/*}
d=${h%/*}
if [ "${1-}" = --step ]; then
  IFS=$'\t' read -r n u m x p < <(sed -n "$(($2 + 1))p" "$h/plan")
  [ "$x" = exec ] && exec "$d/$p"
  exec /bin/bash "$d/$p"
fi
hook=$1
budget=$2
from=${3-0}
log=${4-}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
cd /
umask 022
ms() {
  date +%s%3N
}
sec() {
  printf %d.%03d $(($1 / 1000)) $(($1 % 1000))
}
t0=$(ms)

# The persistent log: on the EBS volume, root-owned, readable by ec2-user. ec2-user owns
# ~/SageMaker and can swap a name there for a symlink at any moment, so nothing here
# follows one: an odd entry is renamed away (rename does not follow links), folders get
# their mode from mkdir, and the log is opened relative to a verified working directory,
# which later renames cannot redirect (only root can change what is in it).
if [ -z "$log" ]; then
  L=/home/ec2-user/SageMaker/.lifecycle
  [ -d "${L%/*}" ] || L=/var/log/notebook-lifecycle
  for x in "$L" "$L/logs"; do
    if [ -L "$x" ] || { [ -e "$x" ] && [ "$(stat -c %u:%F:%a "$x")" != 0:directory:755 ]; }; then
      mv -fT "$x" "$x.moved-$$" 2>/dev/null || rm -f "$x"
    fi
    mkdir -m 755 "$x" 2>/dev/null
  done
  log=$(mktemp /tmp/notebook-lifecycle-XXXXXX.log)
  if cd "$L/logs" && [ "$(pwd -P)" = "$L/logs" ] && [ "$(stat -c %u:%a .)" = 0:755 ]; then
    n=$hook-$(date -u +%Y%m%dT%H%M%SZ)-$$.log
    (set -C && : >"$n") 2>/dev/null && rm -f "$log" && log=$n
    # keep the 10 newest logs of this hook
    # shellcheck disable=SC2012
    ls -1t "$hook"-*.log 2>/dev/null | tail -n +11 | xargs -r rm -f --
  fi
  chmod 644 "$log"
  # Everything goes to the log; f copies what is new in it to fd 3 (stdout, CloudWatch).
  exec 3>&1 >>"$log" 2>&1
  [ "${log#/}" != "$log" ] || log=$PWD/$log
  cd /
else
  # a continuation after the deadline: stdout is the log already; CloudWatch is gone
  exec 3>/dev/null
fi
# the log through our own descriptor, whatever becomes of its name
s=$(stat -L -c %s /proc/$$/fd/1)
f() {
  local z
  z=$(stat -L -c %s /proc/$$/fd/1)
  [ "$z" -gt "$s" ] && tail -c +$((s + 1)) /proc/$$/fd/1 | head -c $((z - s)) >&3
  s=$z
}
echo "notebook-lifecycle: $hook $(date -u +%FT%TZ) from step $((from + 1)); log $log"

# The deadline: a watchdog sends USR1, which interrupts `wait`.
late=0
trap 'late=1' USR1
w=
if [ "$budget" -gt 0 ]; then
  (
    trap 'kill $z 2>/dev/null; exit' TERM
    sleep $((budget - ($(ms) - t0) / 1000)) &
    z=$!
    wait $z
    kill -USR1 $$
  ) 3>&- </dev/null &
  w=$!
fi

sum=
i=-1
rest=
while IFS=$'\t' read -r n u m x p; do
  i=$((i + 1))
  [ "$i" -lt "$from" ] && continue
  if [ "$late" = 1 ] && [ "$m" = fg ]; then
    rest=$i
    break
  fi
  if [ "$u" = root ]; then
    c=("$d/$p")
    [ "$x" = exec ] || c=(/bin/bash "$d/$p")
  else
    c=(sudo -H -i -u "$u" /bin/bash "$0" --step "$i")
  fi
  echo "==> $n ($u, $m)"
  f
  t=$(ms)
  r=started
  if [ "$m" = bg ]; then
    # background output interleaves with later steps: tag each line with the step's name
    setsid "${c[@]}" </dev/null 3>&- > >(exec 3>&-; sed -u "s|^|[${n//[\\|&]/_}] |") 2>&1 &
  else
    setsid "${c[@]}" </dev/null 3>&- &
    pid=$!
    wait $pid
    e=$?
    if [ "$late" = 1 ] && kill -0 $pid 2>/dev/null; then
      r=detached
    elif [ $e = 0 ]; then
      r=ok
    else
      r="failed($e)"
    fi
  fi
  t=$(sec $(($(ms) - t)))
  echo "<== $n: $r after ${t}s"
  sum+=$(printf '\n%-40s %-9s %-11s %9s' "$n" "$u" "$r" "$t")
done <"$h/plan"

[ -n "$w" ] && kill $w 2>/dev/null
if [ -n "$rest" ]; then
  echo "notebook-lifecycle: ${budget}s deadline: steps $((rest + 1))+ go on in the background"
  setsid /bin/bash "$0" "$hook" 0 "$rest" "$log" </dev/null 3>&- &
fi
printf '\nnotebook-lifecycle summary (%s)\n%-40s %-9s %-11s %9s%s\ntotal %ss (deadline %ss, platform limit 300s)\n' "$hook" STEP USER STATUS SECONDS "$sum" "$(sec $(($(ms) - t0)))" "$budget"
f
exit 0
