#!/bin/bash
# notebook-lifecycle runner: runs the plan of one lifecycle hook on the notebook instance.
#
# Usage: run.sh HOOK DEADLINE
#   HOOK      on-start or on-create (names the log file)
#   DEADLINE  seconds the foreground steps may take together; 0 means no deadline
# Internal forms:
#   run.sh HOOK DEADLINE STATE LOG   the continuation: finish the plan from the state the first part
#                             saved in the folder STATE, appending to LOG (no deadline)
#   run.sh --step N           exec step N (line N) of the plan as the calling user: every step starts
#                             this way, as root directly and as ec2-user through sudo, so that
#                             a file name never passes through the user's login shell.
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
# Plan: $h/plan, one step a line: NAME<TAB>USER<TAB>fg|bg<TAB>exec|bash[<TAB>PATH] (no PATH: the NAME)
# This file is shipped minified (shipped.minify_shell: comment lines and indentation
# removed): keep it free of heredocs and multi-line strings. Its size counts against the
# 16,384 character budget of every bundle: keep it short. Hence the short names, all
# global (functions share them on purpose; none uses `local`), and no `set -u`.
# Blocks between the comment lines `#{NAME` and `#}NAME` are left out of a bundle whose
# plan does not need them (bundle.py, shipped.shell_blocks): `bg` when no step runs in the
# background, `wide` when every step name is ASCII, `bash` when every step has a #! line,
# `feat` (the facts only the features rely on) when no step is a feature. Each must leave
# valid code without it.
#   h this folder, d the install dir, H hook, D deadline (s), M per-step limit (s),
#   T root's state folder, G the log's path, P the log (our fd 1), $3 is set in the continuation,
#   k clock (ms since boot), t a time as text, t0 the start, s log size copied to CloudWatch,
#   l set at the deadline, w the watchdog's pid, r first step left for the continuation,
#   j step number (its line in the plan); n u m x p its plan fields; per step: N name, V user,
#   B began (ms), R status, S ms taken, W its wrapper's pid; b the summary's first column.
# Unquoted expansions here are numbers or fixed paths (type -P's too); `a= b=` sets empty
# values; `A && B || C` is used only where B cannot fail.
# shellcheck disable=SC2086,SC2206,SC2154,SC1007,SC2015,SC2046
h=${0%/*}
d=${h%/*}
if [ "$1" = --step ]; then
  IFS=$'\t' read -r n u m x p < <(sed -n "$2p" "$h/plan")
  # a step with a #! line is executed, one without is run by bash
  b=
  #{bash
  [ "$x" = exec ] || b=/bin/bash
  #}bash
  exec $b "$d/${p:-$n}"
fi
H=$1 D=$2 T=$3 G=$4 M=${NL_STEP_LIMIT:-900} P=/proc/$$/fd/1
l= w= r= s=0 b=40
# (umask 022 comes from the decoder, or the S3 fetcher, that starts us)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
cd /
# clk: k = milliseconds since boot (monotonic)
clk() {
  read -r k _ </proc/uptime
  k=$((10#${k/./}0))
}
# sec VAR: t = the milliseconds in VAR (an unset one: 0) as seconds (s.mmm)
sec() {
  printf -v t %d.%03d $(($1 / 1000)) $(($1 % 1000))
}
# z: z = bytes in the log so far (through our own descriptor, whatever becomes of its name)
z() {
  z=$(stat -Lc%s $P)
}
# f: copy what is new in the log to fd 3 (stdout: CloudWatch)
f() {
  z
  ((z > s)) && tail -c +$((s + 1)) $P | head -c $((z - s)) >&3
  s=$z
}
# hold [SECONDS]: wait for step j, up to SECONDS (none: just look), its outcome into R and
# S, and log it: its exit status, orphaned (its wrapper died first: the step killed its
# parent) or detached (still running after SECONDS)
hold() {
  clk
  a=$((k + ${1:-0} * 1000))
  while :; do
    clk
    S[j]=$((k - B[j]))
    if read -r e 2>/dev/null <$T/$j; then
      R[j]=ok
      ((e)) && R[j]=failed\($e\)
      break
    fi
    kill -0 ${W[j]} 2>/dev/null || { R[j]=orphaned; break; }
    ((k < a)) || { R[j]=detached; break; }
    sleep 0.5
  done
  sec S[j]
  echo "<== ${N[j]}: ${R[j]} after ${t}s"
}
# held STATUS: hold every step in that state, up to M seconds each
held() {
  for j in "${!R[@]}"; do
    [ ${R[j]} = $1 ] && hold $M
  done
}
# wid: a = step j's name length in characters (for the summary's columns), e = its bytes beyond a
wid() {
  a=${#N[j]} e=0
  #{wide: bytes of a UTF-8 character after its first do not count
  x=${N[j]//[$'\200'-$'\277']/}
  e=$((a - ${#x})) a=${#x}
  #}wide
}
# tab [TEXT]: the summary (row 0 is the header; b, the longest name, sets the first column), then
# the total time, the deadline and TEXT
tab() {
  N[0]=STEP V[0]=USER R[0]=STATUS
  echo
  echo "notebook-lifecycle summary ($H)"
  for j in "${!N[@]}"; do
    wid
    t=SECONDS
    ((j)) && sec S[j]
    printf '%-*s %-9s %-11s %9s\n' $((b + e)) "${N[j]}" ${V[j]} ${R[j]} $t
  done
  clk
  ((k -= t0))
  sec k
  echo "total ${t}s (deadline ${D}s, platform limit 300s)$1"
}

if [ -z "$3" ]; then
  clk
  t0=$k
  # The persistent log: on the EBS volume, root-owned, readable by ec2-user. ec2-user owns
  # ~/SageMaker and can swap a name there for a symlink at any moment, so nothing here
  # follows one: an odd entry (a symlink too: stat does not follow it) is renamed away
  # (rename does not follow links; only the newest one moved away is kept), folders get
  # their mode from mkdir, and the log is opened relative to a verified working directory,
  # which later renames cannot redirect. (stat's %u%f of a root-owned folder of mode 755: 041ed)
  L=/home/ec2-user/SageMaker/.lifecycle
  [ -d ${L%/*} ] || L=/var/log/notebook-lifecycle
  for x in $L $L/logs; do
    if y=$(stat -c%u%f $x 2>/dev/null) && [ $y != 041ed ]; then
      rm -rf $x.moved-*
      mv -fT $x $x.moved-$$ 2>/dev/null || rm -f $x
    fi
    mkdir -m755 $x 2>/dev/null
  done
  if cd $L/logs && [ "$(pwd -P)" = $L/logs ] && [ "$(stat -c%u%f .)" = 041ed ]; then
    n=$H-$(date -u +%Y%m%dT%H%M%SZ)-$$.log
    # a new file (noclobber) that takes a byte; a volume that takes none keeps the log in /tmp
    (set -C; printf x >$n && : >|$n) 2>/dev/null && G=$PWD/$n || rm -f $n
    # keep the 10 newest logs of this hook (names of ours, in a folder only root writes)
    # shellcheck disable=SC2012
    ls -t $H-*.log 2>/dev/null | tail -n+11 | xargs -r rm -f
  fi
  : "${G:=$(mktemp /tmp/notebook-lifecycle-XXXXXX.log)}"
  chmod 644 $G
  # Everything goes to the log (new: s=0 bytes of it copied so far); f copies what is new in
  # it to fd 3 (stdout, CloudWatch).
  exec 3>&1 >>$G 2>&1
  cd /
  # root's own folder: exit status files, the state for the continuation
  T=$(mktemp -d)
  echo "notebook-lifecycle: $H $(date -u +%FT%TZ); log $G"
  # The platform as found (cheap checks: no program runs but cat): for each check what it
  # found, or "no LABEL". fact LABEL FOUND...: FOUND is what type -P or a glob (nullglob; a [x]
  # makes a plain path a glob) found.
  F="bash $BASH_VERSION"
  fact() {
    a=${*:2}
    F+=", ${a:-no $1}"
  }
  shopt -s nullglob
  fact python3 $(type -P python3)
  fact "lzma module" /usr/lib*/python3*/*/_lzma*
  #{feat: what the features rely on (runuser, a scheduler, Jupyter's unit and port)
  fact /usr/sbin/runuser $(type -P /usr/sbin/runuser)
  fact systemd /run/systemd/syste[m]
  fact crontab $(type -P crontab)
  fact "jupyter unit" /{etc,usr/lib}/systemd/system/jupyter*.service
  y=free
  [[ $(cat /proc/net/tcp* 2>/dev/null) =~ :20FB\ 0+:0000\ 0A ]] && y=taken
  F+=", port 8443 $y"
  #}feat
  shopt -u nullglob
  echo "notebook-lifecycle: facts: $F"
  # The deadline: a watchdog sends USR1, which interrupts `wait`.
  trap l=1 USR1
  ((D)) && {
    (
      trap 'kill $!;exit' TERM
      sleep $D &
      wait
      kill -USR1 $$
    ) 3>&- </dev/null &
    w=$!
  }
else
  # the continuation: stdout is the log already; CloudWatch is gone
  exec 3>/dev/null
  # shellcheck source=/dev/null
  . $T/s
  z
  s=$z
  echo "notebook-lifecycle: $H goes on in the background, up to ${M}s a step"
  held detached
fi

j=0
while IFS=$'\t' read -r n u m x p; do
  ((++j))
  [ "${N[j]}" ] && continue
  if [ "$l$m" = 1fg ]; then
    r=$j
    break
  fi
  echo "==> $n ($u, $m)"
  f
  clk
  N[j]=$n V[j]=$u B[j]=$k R[j]=started
  wid
  ((a > b)) && b=$a
  # Start step j in a new session under a wrapper that writes its exit status to $T/j.
  # A step's parent is this wrapper, never the runner: a step that kills its parent
  # (kill -9 $PPID) takes only the wrapper with it.
  # shellcheck disable=SC2016
  c=(setsid /bin/bash -c '"${@:2}";echo $? >"$1"' w $T/$j)
  [ "$u" = root ] || c+=(sudo -H -i -u "$u")
  c+=(/bin/bash $0 --step $j)
  #{bg
  if [ $m = bg ]; then
    # background output interleaves with later steps: tag each line with the step's name
    "${c[@]}" </dev/null 3>&- > >(exec 3>&-; sed -u -n "s|^|[${n//[\\|&]/_}] |;1,20000p;20001s/.*/notebook-lifecycle: more output cut/p") 2>&1 &
    W[j]=$!
    continue
  fi
  #}bg
  "${c[@]}" </dev/null 3>&- &
  W[j]=$!
  o=$s
  # the continuation polls; the first part waits (until the deadline) and then looks once
  [ "$3$l" ] || wait ${W[j]}
  hold ${3:+$M}
  # The log keeps at most y bytes of what the step wrote (its head and tail): 1 MiB, 64 KiB
  # once the log is past 8 MiB.
  z
  y=$((o > 1 << 23 ? 1 << 16 : 1 << 20))
  if ((z - o > y)); then
    tail -c $((y / 2)) $P >$T/c
    truncate -s $((o + y / 2)) $P
    printf '\nnotebook-lifecycle: %d bytes of output cut here (%d kept)\n' $((z - o - y)) $y
    cat $T/c
    echo
  fi
  f
done <$h/plan

if [ "$3" ]; then
  #{bg: only background steps can still be "started" here
  held started
  #}bg
  tab ": the final summary"
else
  kill $w 2>/dev/null
  [ "$r" ] && echo "notebook-lifecycle: ${D}s deadline: steps $r+ go on in the background"
  [[ ${R[*]} =~ started|detached ]] && echo "notebook-lifecycle: steps still running go on in the background" && r=1
  if [ "$r" ]; then
    declare -p N V B R S W t0 b >$T/s
    setsid /bin/bash $0 $H $D $T $G </dev/null 3>&- &
    # the continuation removes T
    T=
  fi
  tab
  f
fi
rm -rf $T
exit 0
