#!/bin/bash
# Persistent ~/.ssh: keys and known_hosts live on the EBS volume, ~/.ssh is a
# symlink to it. Also write the client config for our Git hosts (through the
# proxy when there is one) and make sure the modes satisfy ssh.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

persist=$NB_PERSIST/.ssh
home_ssh=$NB_HOME/.ssh

mkdir -p "$persist"
chmod 700 "$persist"
if [ -d "$home_ssh" ] && [ ! -L "$home_ssh" ]; then
  # first start with this script: keep what the image put there (authorized_keys)
  cp -an "$home_ssh/." "$persist/" 2>/dev/null || true
  rm -rf "$home_ssh"
fi
ln -sfn "$persist" "$home_ssh"

# Private keys must be 600, ssh refuses them otherwise.
find "$persist" -maxdepth 1 -type f -name 'id_*' ! -name '*.pub' -exec chmod 600 {} +
find "$persist" -maxdepth 1 -type f -name '*.pub' -exec chmod 644 {} +

proxy_cmd=
if [ -n "${PROXY_URL:-}" ] && command -v nc >/dev/null 2>&1; then
  hostport=${PROXY_URL#*://}
  hostport=${hostport%/}
  proxy_cmd="ProxyCommand nc --proxy ${hostport} --proxy-type http %h %p"
fi

conf=$persist/config.d/10-team.conf
mkdir -p "$persist/config.d"
cat >"$conf" <<EOF_SSH
# Written by 21-ssh-config.sh on every start. Put your own hosts in ~/.ssh/config.
Host github.com
  HostName ssh.github.com
  Port 443
  User git
  ${proxy_cmd}

Host git.corp.example.com
  User git
  IdentityFile ~/.ssh/id_ed25519
  IdentitiesOnly yes

Host git-codecommit.*.amazonaws.com
  User ${CODECOMMIT_SSH_KEY_ID:-APKAEXAMPLEKEYID}
  IdentityFile ~/.ssh/id_codecommit

Host *
  ServerAliveInterval 60
  ServerAliveCountMax 5
  ControlMaster auto
  ControlPath /tmp/ssh-%r@%h:%p
  ControlPersist 10m
EOF_SSH
chmod 600 "$conf"

if ! grep -qs '^Include config.d/\*' "$persist/config"; then
  # Include must come first: ssh uses the first value it finds for each option
  { echo 'Include config.d/*'; cat "$persist/config" 2>/dev/null; } >"$persist/config.new"
  mv -f "$persist/config.new" "$persist/config"
  chmod 600 "$persist/config"
fi

if [ ! -f "$persist/id_ed25519" ]; then
  ssh-keygen -q -t ed25519 -N '' -C "$(whoami)@$(notebook_name 2>/dev/null || hostname)" -f "$persist/id_ed25519"
  log "new key $persist/id_ed25519.pub; add it to your Git host"
fi
