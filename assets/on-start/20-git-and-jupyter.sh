#!/bin/bash
# ec2-user, at every start. ~/.config is on the EBS volume (persist_dirs), so git's
# global config lives in ~/.config/git/config and edits made in a terminal survive.
set -eu
mkdir -p ~/.config/git && touch ~/.config/git/config
for kv in init.defaultBranch=main pull.rebase=false 'credential.helper=cache --timeout=28800'; do
  git config --global --get "${kv%%=*}" >/dev/null || git config --global "${kv%%=*}" "${kv#*=}"
done
# JupyterLab 4: no news feed or update checks.
d=~/.jupyter/lab/user-settings/@jupyterlab/apputils-extension
[ -e "$d/notification.jupyterlab-settings" ] || {
  mkdir -p "$d"
  echo '{"checkForUpdates": false, "fetchNews": "false"}' >"$d/notification.jupyterlab-settings"
}
