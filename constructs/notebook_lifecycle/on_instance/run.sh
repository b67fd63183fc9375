#!/bin/bash
# notebook-lifecycle runner: runs the plan of one lifecycle hook on the notebook instance.
#
# Usage: run.sh HOOK DEADLINE
#   HOOK      on-start or on-create (names the log file)
#   DEADLINE  seconds the foreground steps may take together; 0 means no deadline
# Internal forms:
#   run.sh HOOK DEADLINE STATE LOG   the continuation: finish the plan from the state the first part
#                             saved in the folder STATE, appending to LOG (no deadline)
#   run.sh --step N           exec step N of the plan as the calling user; sudo runs this so that a
#                             file name never passes through the user's login shell.
#
# The decoder that SageMaker runs unpacks the bundle into the install dir and
# execs this file as root, with cwd / and stdout going to CloudWatch.
#
# Guarantees: every step runs as its user with stdin from /dev/null; one failing
# step never stops the others; this script always exits 0, within the deadline.
# A step still running at the deadline is left running detached, and the rest of the
# plan goes on in a background continuation, in order: each step waits for the one
# before it, up to NL_STEP_LIMIT seconds (900 by default; then that one is logged as
# detached and the next starts). The continuation also waits (as long) for the
# background steps, logs every outcome and ends the log with the final summary.
# Times come from /proc/uptime: a clock step at boot (NTP) changes nothing.
# The log keeps at most 1 MiB of each foreground step's output (its first and last
# 512 KiB; 64 KiB once the log is past 8 MiB) and 20000 lines of each background
# step's; a line says what was cut. If the volume is full, the log is in /tmp.
#
# Plan: $h/plan, one step a line: NAME<TAB>USER<TAB>fg|bg<TAB>exec|bash<TAB>PATH
# This file is shipped minified (comment lines and indentation removed): keep it
# free of heredocs and multi-line strings. Its size counts against the 16,384
# character budget of every bundle: keep it short.
set -u
h=${0%/*}
d=${h%/*}
case ${1-} in
  --step)
    IFS=$'\t' read -r n u m x p < <(sed -n "$(($2 + 1))p" "$h/plan")
    [ "$x" = exec ] && exec "$d/$p"
    exec /bin/bash "$d/$p"
    ;;
esac
hook=$1
budget=$2
T=${3-}
log=${4-}
C=${3:+1}
lim=${NL_STEP_LIMIT:-900}
t=0
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
cd /
umask 022
# k: milliseconds since boot (monotonic)
clk() {
  read -r k _ </proc/uptime
  k=${k/./}0
  k=$((10#$k))
}
# sec VAR MS: VAR=MS as seconds (s.mmm)
sec() {
  printf -v "$1" %d.%03d $(($2 / 1000)) $(($2 % 1000))
}

if [ -z "$T" ]; then
  clk
  t0=$k
  # The persistent log: on the EBS volume, root-owned, readable by ec2-user. ec2-user owns
  # ~/SageMaker and can swap a name there for a symlink at any moment, so nothing here
  # follows one: an odd entry is renamed away (rename does not follow links; only the newest
  # one moved away is kept), folders get their mode from mkdir, and the log is opened
  # relative to a verified working directory, which later renames cannot redirect.
  L=/home/ec2-user/SageMaker/.lifecycle
  [ -d "${L%/*}" ] || L=/var/log/notebook-lifecycle
  for x in "$L" "$L/logs"; do
    if [ -L "$x" ] || { [ -e "$x" ] && [ "$(stat -c %u:%F:%a "$x")" != 0:directory:755 ]; }; then
      rm -rf "$x".moved-*
      mv -fT "$x" "$x.moved-$$" 2>/dev/null || rm -f "$x"
    fi
    mkdir -m 755 "$x" 2>/dev/null
  done
  log=$(mktemp /tmp/notebook-lifecycle-XXXXXX.log)
  if cd "$L/logs" && [ "$(pwd -P)" = "$L/logs" ] && [ "$(stat -c %u:%a .)" = 0:755 ]; then
    n=$hook-$(date -u +%Y%m%dT%H%M%SZ)-$$.log
    # a volume that takes no byte keeps the log in /tmp
    if (set -C && printf x >"$n" && : >|"$n") 2>/dev/null; then
      rm -f "$log"
      log=$n
    else
      rm -f "$n"
    fi
    # keep the 10 newest logs of this hook
    # shellcheck disable=SC2012
    ls -1t "$hook"-*.log 2>/dev/null | tail -n +11 | xargs -r rm -f --
  fi
  chmod 644 "$log"
  # Everything goes to the log; f copies what is new in it to fd 3 (stdout, CloudWatch).
  exec 3>&1 >>"$log" 2>&1
  [ "${log#/}" != "$log" ] || log=$PWD/$log
  cd /
  # root's own folder: exit status files, the state for the continuation
  T=$(mktemp -d)
else
  # the continuation: stdout is the log already; CloudWatch is gone
  exec 3>/dev/null
  # shellcheck source=/dev/null
  . "$T/s"
fi
# the log through our own descriptor, whatever becomes of its name
s=$(stat -L -c %s /proc/$$/fd/1)
f() {
  local z
  z=$(stat -L -c %s /proc/$$/fd/1)
  [ "$z" -gt "$s" ] && tail -c +$((s + 1)) /proc/$$/fd/1 | head -c $((z - s)) >&3
  s=$z
}
# cut OFFSET: the log keeps at most c bytes of what was written since OFFSET (head and tail)
cut() {
  local z c=1048576
  z=$(stat -L -c %s /proc/$$/fd/1)
  [ "$1" -gt 8388608 ] && c=65536
  [ $((z - $1)) -gt $c ] || return 0
  tail -c $((c / 2)) /proc/$$/fd/1 >"$T/c"
  truncate -s $(($1 + c / 2)) /proc/$$/fd/1
  printf '\nnotebook-lifecycle: %d bytes of output cut here (%d kept)\n' $((z - $1 - c)) $c
  cat "$T/c"
  echo
}
# go: start step i (fields n u m x p) in a new session under a wrapper that writes its exit
# status to $T/i. A step's parent is this wrapper, never the runner: a step that kills its
# parent (kill -9 $PPID) takes only the wrapper with it.
go() {
  if [ "$u" = root ]; then
    c=("$d/$p")
    [ "$x" = exec ] || c=(/bin/bash "$d/$p")
  else
    c=(sudo -H -i -u "$u" /bin/bash "$0" --step "$i")
  fi
  echo "==> $n ($u, $m)"
  f
  clk
  N[i]=$n V[i]=$u B[i]=$k R[i]=started S[i]=0
  # shellcheck disable=SC2016
  c=(setsid /bin/bash -c '"${@:2}";echo $? >"$1"' w "$T/$i" "${c[@]}")
  if [ "$m" = bg ]; then
    # background output interleaves with later steps: tag each line with the step's name
    "${c[@]}" </dev/null 3>&- > >(exec 3>&-; sed -u -n "s|^|[${n//[\\|&]/_}] |;1,20000p;20001s/.*/notebook-lifecycle: more output cut/p") 2>&1 &
  else
    "${c[@]}" </dev/null 3>&- &
  fi
  W[i]=$!
}
# st J: the outcome of step J into R and S; 1 while it runs
st() {
  local e
  clk
  S[$1]=$((k - B[$1]))
  if [ -s "$T/$1" ]; then
    read -r e <"$T/$1"
    R[$1]=ok
    [ "$e" = 0 ] || R[$1]="failed($e)"
  elif kill -0 "${W[$1]}" 2>/dev/null; then
    return 1
  else
    # its wrapper died first: the step killed its parent
    R[$1]=orphaned
  fi
}
# hold J: wait for step J, up to lim seconds (then it is detached)
hold() {
  clk
  local e=$((k + lim * 1000))
  until st "$1"; do
    if [ $k -ge $e ]; then
      R[$1]=detached
      break
    fi
    sleep 0.5
  done
  sec t "${S[$1]}"
  echo "<== ${N[$1]}: ${R[$1]} after ${t}s"
}
# the summary: the longest name (in characters) sets the first column
tab() {
  local j a w=40
  for j in "${!N[@]}"; do
    a=${N[j]//[$'\200'-$'\277']/}
    [ ${#a} -gt "$w" ] && w=${#a}
  done
  printf '\nnotebook-lifecycle summary (%s)\n%-*s %-9s %-11s %9s\n' "$hook" "$w" STEP USER STATUS SECONDS
  for j in "${!N[@]}"; do
    a=${N[j]//[$'\200'-$'\277']/}
    sec t "${S[j]}"
    printf '%-*s %-9s %-11s %9s\n' $((w + ${#N[j]} - ${#a})) "${N[j]}" "${V[j]}" "${R[j]}" "$t"
  done
  clk
  sec t $((k - t0))
}

l=0
w=
if [ -n "$C" ]; then
  echo "notebook-lifecycle: $hook continues after the deadline (steps wait up to ${lim}s each)"
  for j in "${!R[@]}"; do
    [ "${R[j]}" = detached ] && hold "$j"
  done
else
  echo "notebook-lifecycle: $hook $(date -u +%FT%TZ); log $log"
  # the platform as found (cheap checks: no program runs but cat)
  F="bash $BASH_VERSION"
  ok() {
    if "${@:2}" 2>/dev/null; then F+=", $1"; else F+=", no $1"; fi
  }
  hash python3 2>/dev/null
  y=${BASH_CMDS[python3]-}
  ok "python3${y:+ $y}" test -n "$y"
  shopt -s nullglob
  z=(/usr/lib*/python3*/lib-dynload/_lzma*)
  ok "lzma module" test -n "${z[*]}"
  ok /usr/sbin/runuser test -x /usr/sbin/runuser
  ok systemd test -d /run/systemd/system
  ok crontab hash crontab
  z=(/etc/systemd/system/jupyter*.service /usr/lib/systemd/system/jupyter*.service)
  ok "jupyter unit${z[*]/#*\// }" test -n "${z[*]}"
  shopt -u nullglob
  y=free
  [[ $(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null) =~ :20FB\ 0+:0000\ 0A ]] && y=taken
  F+=", port 8443 $y"
  echo "notebook-lifecycle: facts: $F"
  # The deadline: a watchdog sends USR1, which interrupts `wait`.
  trap 'l=1' USR1
  if [ "$budget" -gt 0 ]; then
    (
      trap 'kill $! 2>/dev/null; exit' TERM
      sleep "$budget" &
      wait $!
      kill -USR1 $$
    ) 3>&- </dev/null &
    w=$!
  fi
fi

i=-1
rest=
while IFS=$'\t' read -r n u m x p; do
  i=$((i + 1))
  [ -n "${N[i]-}" ] && continue
  if [ "$l" = 1 ] && [ "$m" = fg ]; then
    rest=$i
    break
  fi
  go
  if [ "$m" = fg ]; then
    o=$s
    if [ -n "$C" ]; then
      hold $i
    else
      [ "$l" = 1 ] || wait "${W[i]}"
      st $i || R[i]=detached
      sec t "${S[i]}"
      echo "<== $n: ${R[i]} after ${t}s"
    fi
    cut "$o"
  fi
  f
done <"$h/plan"

if [ -n "$C" ]; then
  for j in "${!R[@]}"; do
    [ "${R[j]}" = started ] && hold "$j"
  done
  tab
  echo "total ${t}s since the start (the final summary, after the deadline)"
  rm -rf "$T"
  exit 0
fi
[ -n "$w" ] && kill "$w" 2>/dev/null
q=
for j in "${!R[@]}"; do
  [[ ${R[j]} = started || ${R[j]} = detached ]] && q=1
done
if [ -n "$rest$q" ]; then
  [ -n "$rest" ] && echo "notebook-lifecycle: ${budget}s deadline: steps $((rest + 1))+ go on in the background"
  [ -n "$q" ] && echo "notebook-lifecycle: steps still running; their outcome follows in the log"
  declare -p N V B R S W t0 >"$T/s"
  setsid /bin/bash "$0" "$hook" "$budget" "$T" "$log" </dev/null 3>&- &
else
  rm -rf "$T"
fi
tab
echo "total ${t}s (deadline ${budget}s, platform limit 300s)"
f
exit 0
