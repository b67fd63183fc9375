#!/bin/bash
# Feature persist_dirs (ec2-user, every start): each listed ~/X becomes a symlink to
# ~/SageMaker/.persist/X. On the first start the existing ~/X moves there; on later starts
# what the fresh image put in ~/X is added to the persisted folder when it lacks that name
# (the persisted copy wins), and the rest is dropped. A link ~/X that points elsewhere is
# replaced; a file ~/X or ~/SageMaker/.persist/X is left alone. ~/.ssh is kept at mode 700,
# private keys at 600 (*.pub 644). Runs as ec2-user, the owner of everything it touches.
# Always exits 0. Shipped minified: no heredocs, no multi-line strings.
set -u
# "$d"/* lists every entry, dotfiles too (never . or ..), and nothing in an empty folder
shopt -s dotglob nullglob
here=${BASH_SOURCE[0]%/*}
store=/home/ec2-user/SageMaker/.persist
[ "$(id -un)" = ec2-user ] || { echo "runs as ec2-user only"; exit 0; }
mkdir -p $store && chmod 700 $store || exit 0
# persist-dirs.conf is generated: every line ends with a newline
while IFS= read -r rel; do
  link=/home/ec2-user/$rel
  keep=$store/$rel
  if [[ -e $keep && ! -d $keep || ! -L $link && -e $link && ! -d $link ]]; then
    echo "$link or $keep is not a folder; left alone"
    continue
  fi
  mkdir -p "${keep%/*}" "${link%/*}" || continue
  if [ -L "$link" ] || [ ! -e "$link" ]; then
    mkdir -p "$keep" || continue
  elif [ ! -e "$keep" ]; then
    mv "$link" "$keep" || continue
    echo "moved $link to $keep"
  else
    # a fresh copy from the image: add what the persisted folder lacks, drop the rest
    # (only once every move worked: a failed one leaves ~/X as it is)
    ok=1
    for e in "$link"/*; do
      n=$keep/${e##*/}
      [ -e "$n" ] || [ -L "$n" ] || { mv "$e" "$keep/" && echo "added $e to $keep"; } || ok=0
    done
    if [ $ok = 0 ] || ! rm -rf "$link"; then
      echo "could not merge $link into $keep; left alone"
      continue
    fi
  fi
  # -T: never a link inside a folder ~/X; a link ~/X (ours or pointing elsewhere) is replaced
  ln -sfT "$keep" "$link" && echo "$link -> $keep"
  if [ "$rel" = .ssh ]; then
    chmod 700 "$keep"
    find "$keep" -maxdepth 1 -type f \( -name '*.pub' -exec chmod 644 {} + -o -exec chmod 600 {} + \)
  fi
done <"$here/persist-dirs.conf"
exit 0
