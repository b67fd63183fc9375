#!/bin/bash
# PID 1 of the sandbox: private mount/PID/UTS/IPC/network namespaces. Arg: scratch dir.
# shellcheck disable=SC2015  # `a && b || fail`: any failure of the chain is fatal, as meant
set -u
S=$1
# shellcheck source=/dev/null  # written by the emulator for each run
. "$S/conf.sh"
m=$S/m
t=$S/t
B=/run/notebook-emulator
SPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { printf '%s\n' "$*" >>"$S/error"; }
inbox() { chroot "$m" /usr/bin/env -i PATH=$SPATH HOME=/root LANG=C.UTF-8 "$@"; }
ncalls() { inbox /bin/sh -c "wc -l <$B/calls.jsonl 2>/dev/null || echo 0"; }

mount -t tmpfs -o mode=700 emulator "$t" || { say "cannot mount a tmpfs"; exit 71; }
mkdir "$t/upper" "$t/work"
if ! err=$(mount -t overlay -o "lowerdir=/,upperdir=$t/upper,workdir=$t/work" emulator "$m" 2>&1); then
  say "cannot mount an overlay of / ($err)"; exit 72
fi
# its own network: loopback only; FORWARD ports reach the host's 127.0.0.1 through forward.py
ip link set lo up || { say "cannot bring up the loopback interface"; exit 73; }
if [ "${#FORWARD[@]}" -gt 0 ]; then
  "$PYTHON" "$FWD" in "$S/fwd" "${FORWARD[@]}" </dev/null >>"$S/error" 2>&1 &
  for _ in $(seq 100); do [ -e "$S/fwd/ready-in" ] && break; sleep 0.05; done
  [ -e "$S/fwd/ready-in" ] || { say "cannot forward ports ${FORWARD[*]}"; exit 73; }
fi
# a minimal /dev (not the host's): the usual character devices, its own ptys, shm and the fd links
mount -t tmpfs -o mode=755,nosuid dev "$m/dev" &&
  for d in null:3 zero:5 full:7 random:8 urandom:9; do mknod -m 666 "$m/dev/${d%:*}" c 1 "${d#*:}" || exit 1; done &&
  mknod -m 666 "$m/dev/tty" c 5 0 && mkdir "$m/dev/pts" "$m/dev/shm" &&
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$m/dev/pts" && ln -s pts/ptmx "$m/dev/ptmx" &&
  ln -s /proc/self/fd "$m/dev/fd" && ln -s /proc/self/fd/0 "$m/dev/stdin" &&
  ln -s /proc/self/fd/1 "$m/dev/stdout" && ln -s /proc/self/fd/2 "$m/dev/stderr" ||
  { say "cannot make /dev in the sandbox"; exit 73; }
mount -t proc proc "$m/proc" &&
  mount -t tmpfs -o mode=1777,nosuid,nodev shm "$m/dev/shm" &&
  mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$m/tmp" &&
  mount -t tmpfs -o mode=755,nosuid,nodev run "$m/run" &&
  mount -t tmpfs -o mode=755 home "$m/home" || { say "cannot mount /proc, /dev, /tmp, /run or /home in the sandbox"; exit 73; }
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$m/sys" 2>/dev/null || true
# kernel settings are not namespaced: a script's sysctl must not change the host's (as in a container)
mount --bind "$m/proc/sys" "$m/proc/sys" && mount -o remount,bind,ro "$m/proc/sys" ||
  { say "cannot make /proc/sys read-only in the sandbox"; exit 73; }
# host folders the caller wants visible at the same place (read-only), e.g. a virtualenv under /tmp or /home
for b in "${BINDS[@]}"; do
  mkdir -p "$m$b" && mount --bind "$b" "$m$b" && mount -o remount,bind,ro "$m$b" ||
    { say "cannot bind $b into the sandbox"; exit 73; }
  # its parents must let ec2-user through (the checkout may sit in a 0700 folder such as /root)
  p=$b
  while p=${p%/*}; [ -n "$p" ]; do chmod a+x "$m$p" || { say "cannot open the way to $b"; exit 73; }; done
done
mkdir "$m$B" && cp -r "$S/box/." "$m$B/" || { say "cannot copy the emulator's files"; exit 73; }
if ! out=$(cd / && inbox /bin/bash $B/prepare.sh 2>&1); then say "preparing the sandbox failed: $out"; exit 73; fi
mount --bind "$VOLUME" "$m/home/ec2-user/SageMaker" || { say "cannot mount the volume $VOLUME"; exit 73; }
if ! out=$(cd / && inbox /bin/bash $B/volume.sh 2>&1); then say "preparing the volume failed: $out"; exit 73; fi
rm -rf "$m$B/stubs" "$m$B/prepare.sh" "$m$B/volume.sh"

# cron=True: a cron daemon runs, as on AL2 (crond under systemd); it dies with the namespace
if [ "$CRON" = 1 ]; then inbox cron >/dev/null 2>&1 || say "cannot start cron (ignored)"; fi

if [ -n "$SETUP" ]; then
  (cd / && umask 022 && exec timeout -s KILL "$AFTER_TIMEOUT" chroot "$m" /usr/bin/env -i PATH=$SPATH HOME=/root LANG=C.UTF-8 /bin/bash -c "$SETUP") \
    </dev/null >"$S/setup.out" 2>&1
  rc=$?
  echo "$rc" >"$S/setup.rc"
  [ "$rc" = 0 ] || exit 74
fi

# Real instances have PIDs in the thousands; so should ours (log names use them).
echo $((2000 + RANDOM % 20000)) >/proc/sys/kernel/ns_last_pid 2>/dev/null || true

: >"$S/marks"
i=0
while [ "$i" -lt "$NHOOKS" ]; do
  case ${HOOK_NAMES[$i]} in on-create) prefix=OnCreate ;; *) prefix=OnStart ;; esac
  f=/tmp/${prefix}_$(date -u +%Y-%m-%d-%H-%M)$(tr -dc a-z0-9 </dev/urandom | head -c 8)
  # shellcheck disable=SC2016  # expanded by the inner shell
  inbox /bin/sh -c 'umask 077 && cat >"$1" && chmod 700 "$1"' sh "$f" <"$S/hook.$i" || { say "cannot write $f"; exit 73; }
  ncalls >>"$S/marks"
  a=$(date +%s%N)
  (umask "$UMASK" && cd / && exec timeout -s KILL "$TIMEOUT" chroot "$m" /usr/bin/env -i "${HOOK_ENV[@]}" /bin/bash -c "$f") \
    </dev/null >"$S/out.$i" 2>&1
  rc=$?
  b=$(date +%s%N)
  echo "$rc $((b - a))" >"$S/res.$i"
  for p in $(find /proc/[0-9]*/fd -maxdepth 1 -lname "$S/out.$i" 2>/dev/null | cut -d/ -f3 | sort -un); do
    printf '%s: %s\n' "$p" "$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)" >>"$S/held.$i"
  done
  i=$((i + 1))
  [ "$rc" = 0 ] || break
done

# the runner's continuation (steps after the deadline, background steps): wait for it, bounded
: >"$S/drain"
if [ "$DRAIN" != 0 ]; then
  a=$SECONDS
  # the hooks have returned, so any runner left is the continuation: matched also in the moment between
  # its fork (it still shows the runner's own arguments) and its exec (they gain the state folder)
  while pgrep -f 'notebook-lifecycle/run\.sh on-[a-z]+ [0-9]+' >/dev/null; do
    if [ $((SECONDS - a)) -ge "$DRAIN" ]; then echo running >"$S/drain"; break; fi
    echo "done" >"$S/drain"
    sleep 0.2
  done
fi
# each hook's persistent log, as it is now (read inside: a planted symlink cannot lead outside)
k=0
while [ -e "$S/out.$k" ]; do
  lp=$(sed -n '1s/^notebook-lifecycle: .*; log //p' "$S/out.$k")
  [ -n "$lp" ] && inbox cat -- "$lp" >"$S/log.$k" 2>/dev/null
  k=$((k + 1))
done
case $LINGER in 0 | 0.0) ;; *) sleep "$LINGER" ;; esac
ncalls >>"$S/marks"

j=0
while [ "$j" -lt "$NAFTER" ]; do
  snippet=$(cat "$S/after.$j")
  (cd / && umask 022 && exec timeout -s KILL "$AFTER_TIMEOUT" chroot "$m" /usr/bin/env -i PATH=$SPATH HOME=/root LANG=C.UTF-8 /bin/bash -c "$snippet") \
    </dev/null >"$S/after.$j.out" 2>&1
  echo $? >"$S/after.$j.rc"
  j=$((j + 1))
done
inbox cat $B/calls.jsonl >"$S/calls.jsonl" 2>/dev/null
: >"$S/done"
exit 0
