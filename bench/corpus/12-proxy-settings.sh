#!/bin/bash
# Point everything at the corporate egress proxy: login shells, Jupyter
# kernels, git, pip/conda (through the environment) and the package manager.
#
# Without PROXY_URL in the settings this removes what an earlier start wrote,
# so turning the proxy off is a restart away.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

profile=/etc/profile.d/zz-corp-proxy.sh
ipy_dir=$NB_HOME/.ipython/profile_default/startup
ipy_file=$ipy_dir/00-corp-proxy.py

if [ -z "${PROXY_URL:-}" ]; then
  log "no PROXY_URL: removing proxy settings"
  rm -f "$profile" "$ipy_file"
  exit 0
fi

# Instance metadata, the Jupyter server and AWS endpoints reached through
# VPC endpoints must bypass the proxy.
region=$(aws_region 2>/dev/null || echo "${DEFAULT_REGION:-eu-west-1}")
no_proxy="localhost,127.0.0.1,169.254.169.254,169.254.170.2,.${region}.amazonaws.com,s3.amazonaws.com"
if [ -n "${NO_PROXY_EXTRA:-}" ]; then
  no_proxy="$no_proxy,$NO_PROXY_EXTRA"
fi

write_if_changed "$profile" 644 <<EOF_PROFILE
# Written by 12-proxy-settings.sh on every start; edit conf/settings.env instead.
export http_proxy="$PROXY_URL"
export https_proxy="$PROXY_URL"
export HTTP_PROXY="$PROXY_URL"
export HTTPS_PROXY="$PROXY_URL"
export no_proxy="$no_proxy"
export NO_PROXY="$no_proxy"
EOF_PROFILE

# Kernels are not login shells; give them the same variables at IPython start.
install -d -o ec2-user -g ec2-user -m 755 "$ipy_dir"
write_if_changed "$ipy_file" 644 <<EOF_IPY
# Written by 12-proxy-settings.sh; edit conf/settings.env instead.
import os

for _name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
    os.environ.setdefault(_name, "$PROXY_URL")
for _name in ("no_proxy", "NO_PROXY"):
    os.environ.setdefault(_name, "$no_proxy")
del _name
EOF_IPY
chown ec2-user:ec2-user "$ipy_file"

# git does read https_proxy, but only in login shells; make it explicit.
as_user git config --global http.proxy "$PROXY_URL" || warn "git config http.proxy failed"

# yum/dnf: one proxy line in the main section
for conf in /etc/dnf/dnf.conf /etc/yum.conf; do
  [ -f "$conf" ] || continue
  if grep -q '^proxy=' "$conf"; then
    sed -i "s|^proxy=.*|proxy=$PROXY_URL|" "$conf"
  else
    sed -i "/^\[main\]/a proxy=$PROXY_URL" "$conf"
  fi
done

# The Jupyter server itself (extensions that call out, e.g. jupyterlab-git) reads
# /etc/environment through its systemd unit; 19-restart-jupyter.sh restarts it.
touch /etc/environment
sed -i '/^\(http\|https\|no\)_proxy=/Id' /etc/environment
{
  echo "http_proxy=$PROXY_URL"
  echo "https_proxy=$PROXY_URL"
  echo "no_proxy=$no_proxy"
} >>/etc/environment
install -d -o ec2-user -g ec2-user -m 755 "$NB_STATE" && touch "$NB_STATE/.restart-jupyter"
log "proxy $PROXY_URL configured (no_proxy: $no_proxy)"
