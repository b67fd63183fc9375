#!/bin/bash
# Feature persist_dirs (ec2-user, every start): each listed ~/X becomes a symlink to
# ~/SageMaker/.persist/X. On the first start the existing ~/X moves there; on later starts
# what the fresh image put in ~/X is added to the persisted folder when it lacks that name
# (the persisted copy wins), and the rest is dropped. ~/.ssh is kept at mode 700, private
# keys at 600. Runs as ec2-user, the owner of everything it touches.
# Always exits 0. Shipped minified: no heredocs, no multi-line strings.
set -u
here=${BASH_SOURCE[0]%/*}
store=/home/ec2-user/SageMaker/.persist
[ "$(id -un)" = ec2-user ] || { echo "runs as ec2-user only"; exit 0; }
mkdir -p $store && chmod 700 $store || exit 0
while IFS= read -r rel || [ -n "$rel" ]; do
  link=/home/ec2-user/$rel
  keep=$store/$rel
  if [ -L "$link" ] && [ "$(readlink "$link")" != "$keep" ]; then
    rm -f "$link" && echo "$link was a link elsewhere; replaced"
  elif [ -e "$link" ] && [ ! -L "$link" ] && [ ! -d "$link" ]; then
    echo "$link is not a folder; left alone"
    continue
  fi
  if [ -e "$keep" ] && [ ! -d "$keep" ]; then
    echo "$keep is not a folder; $link left alone"
    continue
  fi
  mkdir -p "${keep%/*}" "${link%/*}" || continue
  if [ -d "$link" ] && [ ! -L "$link" ]; then
    if [ ! -e "$keep" ]; then
      mv "$link" "$keep" || continue
      echo "moved $link to $keep"
    else
      # a fresh copy from the image: keep what the persisted folder lacks
      ok=1
      for e in "$link"/* "$link"/.[!.]* "$link"/..?*; do
        n=${e##*/}
        if [ -e "$e" ] || [ -L "$e" ]; then
          if [ ! -e "$keep/$n" ] && [ ! -L "$keep/$n" ]; then
            if mv "$e" "$keep/"; then echo "added $link/$n to $keep"; else ok=0; fi
          fi
        fi
      done
      [ $ok = 1 ] || { echo "could not merge $link into $keep; left as it is"; continue; }
      rm -rf "$link"
    fi
  fi
  mkdir -p "$keep" || continue
  if [ ! -L "$link" ]; then
    ln -s "$keep" "$link.nl" && mv -T "$link.nl" "$link" && echo "$link -> $keep"
  fi
  if [ "$rel" = .ssh ]; then
    chmod 700 "$keep"
    find "$keep" -maxdepth 1 -type f ! -name '*.pub' -exec chmod 600 {} +
    find "$keep" -maxdepth 1 -type f -name '*.pub' -exec chmod 644 {} +
  fi
done <"$here/persist-dirs.conf"
exit 0
