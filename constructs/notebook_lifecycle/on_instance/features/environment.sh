#!/bin/bash
# Feature environment / bin_dir (root, every start): install the prepared profile.sh as
# /etc/profile.d/zz-notebook-lifecycle.sh (login shells, `sudo -i`, and Jupyter, which the
# platform starts from a login shell, read it), and create ~/SageMaker/.bin as ec2-user.
# Values in profile.sh are shell-quoted at synth time: nothing in them is evaluated.
# Always exits 0. Shipped minified: no heredocs, no multi-line strings.
set -u
here=${BASH_SOURCE[0]%/*}
NL_BIN_DIR=0
# shellcheck source=/dev/null
. "$here/environment.conf"
dest=/etc/profile.d/zz-notebook-lifecycle.sh
if cp "$here/profile.sh" "$dest.tmp" && chmod 644 "$dest.tmp" && mv -f "$dest.tmp" "$dest"; then
  echo "wrote $dest ($(grep -c '^export ' "$dest") exports)"
fi
if [ "$NL_BIN_DIR" = 1 ]; then
  bin=/home/ec2-user/SageMaker/.bin
  # ec2-user owns ~/SageMaker: made as ec2-user, root follows no link of theirs
  sudo -n -u ec2-user mkdir -p $bin && echo "$bin is ready"
  # made by root earlier? -h: a link is changed itself, never what it points to
  if [ "$(stat -c %U $bin)" != ec2-user ]; then
    chown -h ec2-user:ec2-user $bin && echo "gave $bin to ec2-user"
  fi
fi
# Jupyter reads the environment when it starts: restart it if it already runs (not blocking)
if [ ! -d /run/systemd/system ]; then
  echo "no systemd: jupyter-server not restarted"
elif systemctl is-active --quiet jupyter-server 2>/dev/null; then
  systemctl --no-block try-restart jupyter-server.service && echo "restarting jupyter-server for the new environment"
fi
exit 0
