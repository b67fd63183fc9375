#!/bin/bash
# A bin directory on the persistent volume, on everyone's PATH.
#
# Tools people download by hand (aws-cli v2, kubectl, rclone, duckdb, ...) land
# in ~/SageMaker/.bin and survive restarts. Also persist bash history.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

bin=$NB_PERSIST/.bin
install -d -o ec2-user -g ec2-user -m 755 "$bin"

write_if_changed /etc/profile.d/persistent-bin.sh 644 <<'EOF_PROFILE' >/dev/null
# Written by 17-persist-bin-path.sh: persistent tools first on PATH.
if [ -d /home/ec2-user/SageMaker/.bin ]; then
  case ":$PATH:" in
    *:/home/ec2-user/SageMaker/.bin:*) ;;
    *) PATH="/home/ec2-user/SageMaker/.bin:$PATH" ;;
  esac
  export PATH
fi
# History outlives the instance; one file per user.
if [ "$(id -u)" -ne 0 ] && [ -d /home/ec2-user/SageMaker/.platform ]; then
  export HISTFILE=/home/ec2-user/SageMaker/.platform/bash_history.$(id -un)
  export HISTSIZE=50000 HISTFILESIZE=100000 HISTCONTROL=ignoreboth
  shopt -s histappend
fi
EOF_PROFILE

# Jupyter terminals start non-login shells on some images; make sure ~/.bashrc
# pulls the profile snippet in as well.
rc=$NB_HOME/.bashrc
if ! grep -q 'persistent-bin.sh' "$rc" 2>/dev/null; then
  echo '[ -r /etc/profile.d/persistent-bin.sh ] && . /etc/profile.d/persistent-bin.sh' >>"$rc"
  chown ec2-user:ec2-user "$rc"
fi
n=$(find "$bin" -maxdepth 1 -type f -perm -u+x | wc -l)
log "$bin is on PATH ($n tools)"
