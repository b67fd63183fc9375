#!/bin/bash
# Dotfiles that should outlive a restart: the whole of ~/.config, ~/.aws
# credentials people add by hand, the IPython history and some tool caches.
# Each one becomes a symlink into ~/SageMaker/.home; the first start copies
# what the image already has there, later starts only relink.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

store=$NB_PERSIST/.home
mkdir -p "$store"

persist() {
  local rel=$1 kind=$2
  local src=$NB_HOME/$rel dest=$store/$rel
  mkdir -p "$(dirname "$dest")" "$(dirname "$src")"
  if [ -L "$src" ] && [ "$(readlink "$src")" = "$dest" ]; then
    return 0
  fi
  if [ -e "$src" ] && [ ! -L "$src" ]; then
    if [ ! -e "$dest" ]; then
      mv "$src" "$dest"
    else
      # Both exist: the persistent copy wins, keep the image's one aside.
      mv "$src" "$src.image-$(date +%s)"
    fi
  fi
  if [ ! -e "$dest" ]; then
    if [ "$kind" = dir ]; then mkdir -p "$dest"; else touch "$dest"; fi
  fi
  ln -sfn "$dest" "$src"
}

persist .config dir
persist .aws dir
persist .ipython/profile_default/history.sqlite file
persist .cache/pre-commit dir
persist .local/share/jupyter/runtime dir
persist .gitconfig.local file
persist .netrc file
chmod 600 "$store/.netrc"

# ~/.gitconfig is rewritten by 20-git-config.sh; personal settings go in the
# persistent ~/.gitconfig.local, included from it.
git config --global include.path "$NB_HOME/.gitconfig.local"
log "persistent dotfiles under $store"
