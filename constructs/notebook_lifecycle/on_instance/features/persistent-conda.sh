#!/bin/bash
# Feature persistent_conda (ec2-user, every start): conda environments live on the volume,
# in ~/SageMaker/.conda/envs (listed first in envs_dirs of ~/.condarc, so `conda create`
# puts new ones there), and each one with ipykernel is registered as a Jupyter kernel.
# Always exits 0. Shipped minified: no heredocs, no multi-line strings.
set -u
envs=/home/ec2-user/SageMaker/.conda/envs
rc=/home/ec2-user/.condarc
kernels=/home/ec2-user/.local/share/jupyter/kernels
[ "$(id -un)" = ec2-user ] || { echo "runs as ec2-user only"; exit 0; }
mkdir -p $envs || exit 0
# envs_dirs: ours first, then the image's. Edited as text (conda is slow, maybe absent),
# and only when our folder is not listed yet: a second run changes nothing. A file without
# envs_dirs gets the image's folder first, and then ours before it, as any other file.
touch $rc
if grep -Eq "^\s*-\s*['\"]?$envs/?['\"]?\s*$" $rc; then
  echo "$rc lists $envs"
else
  if ! grep -q '^envs_dirs:' $rc; then
    # a last line without its newline gets one first (sed's idiom; an empty file stays empty)
    # (the backslash ends the text of `a`: no quote is escaped)
    # shellcheck disable=SC1003
    sed -i '$a\' $rc
    printf 'envs_dirs:\n  - %s\n' /home/ec2-user/anaconda3/envs >>$rc
  fi
  if grep -q '^envs_dirs:\s*$' $rc; then
    sed -i "s|^envs_dirs:\s*\$|envs_dirs:\\n  - $envs|" $rc && echo "added $envs first to envs_dirs in $rc"
  else
    echo "not added $envs first to envs_dirs in $rc (not a block list): add it yourself"
  fi
fi
# kernels of environments that are gone (if ~/.local is persisted)
for k in "$kernels"/conda-env-*; do
  if [ -f "$k/nl-env" ] && [ ! -x "$(cat "$k/nl-env")/bin/python" ]; then
    rm -rf "$k" && echo "removed kernel ${k##*/}: its environment is gone"
  fi
done
n=0
# (files match too: they have no bin/python)
for env in "$envs"/*; do
  name=${env##*/}
  py=$env/bin/python
  [ -x "$py" ] || continue
  n=$((n + 1))
  # find_spec gives None (an AttributeError, exit 1) without ipykernel, which is not imported
  if ! "$py" -c 'import importlib.util as u;u.find_spec("ipykernel").name' 2>/dev/null; then
    echo "$name: no ipykernel; skipped (conda install -n $name ipykernel)"
    continue
  fi
  # kernel names allow [a-z0-9._-] only (tr works byte by byte: é is __)
  k=conda-env-$(printf %s "${name,,}" | tr -c a-z0-9._- _)
  if "$py" -m ipykernel install --user --name "$k" --display-name "$name (conda, persistent)" >/dev/null; then
    echo "$env" >"$kernels/$k/nl-env"
    echo "$name: kernel $k"
  fi
done
echo "$n environment(s) in $envs"
exit 0
