#!/bin/bash
# Feature environment / bin_dir (root, every start): install the prepared profile.sh as
# /etc/profile.d/zz-notebook-lifecycle.sh (login shells, `sudo -i`, and Jupyter, which the
# platform starts from a login shell, read it), and with bin_dir create ~/SageMaker/.bin as
# ec2-user. Values in profile.sh are shell-quoted at synth time: nothing in them is evaluated.
# Two blocks (shipped.shell_blocks) go only into bundles that need them (features.py):
# `deploy` with deploy-time values, `bin` with bin_dir.
# Always exits 0. Shipped minified: no heredocs, no multi-line strings.
set -u
here=${BASH_SOURCE[0]%/*}
dest=/etc/profile.d/zz-notebook-lifecycle.sh
ok=1
cp "$here/profile.sh" $dest.tmp || ok=0
#{deploy
# Deploy-time values (environment.conf: NL_DEPLOY_VALUES, their names) arrive as base64 in
# <name>.b64, written by the lifecycle script from CloudFormation's Fn::Base64; decoded here
# and single-quoted, so whatever their characters, they are data.
NL_DEPLOY_VALUES=
# shellcheck source=/dev/null
. "$here/environment.conf"
s="'" q="'\''"
# names are shell identifiers (checked at synth time): splitting them is intended
# shellcheck disable=SC2086
for n in $NL_DEPLOY_VALUES; do
  # the x keeps trailing newlines of the value, which $(...) would strip
  v=$(base64 -d "$here/$n.b64" && printf x) || { echo "deploy-time value $n: cannot decode it; not exported"; continue; }
  v=${v%x}
  printf "export %s='%s'\n" "$n" "${v//$s/$q}" >>$dest.tmp || ok=0
done
#}deploy
[ $ok = 1 ] && chmod 644 $dest.tmp && mv -f $dest.tmp $dest && echo "wrote $dest ($(grep -c '^export ' $dest) exports)"
#{bin
bin=/home/ec2-user/SageMaker/.bin
# ec2-user owns ~/SageMaker: made as ec2-user, root follows no link of theirs
sudo -n -u ec2-user mkdir -p $bin && echo "$bin is ready"
# made by root earlier? -c: says so when it changes an owner; -h: a link is changed itself,
# never what it points to
chown -ch ec2-user: $bin
#}bin
# Jupyter reads the environment when it starts: restart it if it already runs (not blocking)
if [ ! -d /run/systemd/system ]; then
  echo "no systemd: jupyter-server not restarted"
elif systemctl is-active --quiet jupyter-server 2>/dev/null; then
  systemctl --no-block try-restart jupyter-server.service && echo "restarting jupyter-server"
fi
exit 0
