#!/bin/bash
# Git identity and sane defaults for ec2-user.
#
# The identity comes from ~/SageMaker/.platform/git-identity (two lines: name,
# email) so that it survives restarts; when the file is missing we derive it
# from the notebook's Owner tag, which our provisioning sets to the user's email.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
load_settings

identity=$NB_STATE/git-identity
name=
email=
if [ -r "$identity" ]; then
  { read -r name; read -r email; } <"$identity"
else
  owner=$(notebook_tag Owner 2>/dev/null || true)
  if [[ $owner == *@* ]]; then
    email=$owner
    # first.last@corp.example.com -> First Last
    name=$(echo "${owner%@*}" | tr '._' '  ' | awk '{for (i = 1; i <= NF; i++) $i = toupper(substr($i, 1, 1)) substr($i, 2)} 1')
    mkdir -p "$NB_STATE"
    printf '%s\n%s\n' "$name" "$email" >"$identity"
  fi
fi

if [ -n "$name" ] && [ -n "$email" ]; then
  git config --global user.name "$name"
  git config --global user.email "$email"
  log "git identity: $name <$email>"
else
  warn "no git identity: write your name and email into $identity"
fi

git config --global init.defaultBranch "${GIT_DEFAULT_BRANCH:-main}"
git config --global pull.rebase true
git config --global fetch.prune true
git config --global push.autoSetupRemote true
git config --global core.autocrlf input
git config --global core.editor "vim"
git config --global credential.helper 'cache --timeout=28800'

# nbdime makes notebook diffs readable; only when it is installed in the env
# that provides `git` on PATH for Jupyter terminals.
if command -v nbdime >/dev/null 2>&1; then
  nbdime config-git --enable --global >/dev/null 2>&1 || warn "nbdime config-git failed"
fi

# Large files: git-lfs comes from 11-os-packages.sh
if command -v git-lfs >/dev/null 2>&1; then
  git lfs install --skip-repo >/dev/null
fi
