#!/bin/bash
# Feature binaries (ec2-user, every start): download each binary of binaries.tsv
# (NAME<TAB>URL<TAB>SHA256 or -) into ~/SageMaker/.bin when it is missing: into a temporary
# file in the same folder, time-bounded, checked against the sha256 when one is given (fail
# closed: a mismatch, or a check that cannot run, deletes it), made executable, then renamed
# into place (atomic). Downloads use curl, else python3's urllib (said once in the log).
# A failed download is logged, never fatal. Always exits 0. Shipped minified: no heredocs,
# no multi-line strings.
set -u
here=${BASH_SOURCE[0]%/*}
bin=/home/ec2-user/SageMaker/.bin
mkdir -p $bin || exit 0
# the download command; it takes the file, then the address
get=(curl -fsSL --connect-timeout 10 --max-time 120 -o)
command -v curl >/dev/null || {
  echo "no curl: python3 downloads"
  # 10 s for each network operation, as curl's connect timeout; 120 s in all
  get=(timeout 120 python3 -c 'import socket,sys,urllib.request as u;socket.setdefaulttimeout(10);u.urlretrieve(sys.argv[2],sys.argv[1])')
}
# binaries.tsv is generated: every line ends with a newline
while IFS=$'\t' read -r name url sum; do
  dest=$bin/$name
  if [ -e "$dest" ] || [ -L "$dest" ]; then
    echo "$name: present; not downloaded"
    continue
  fi
  rm -f "$bin/.$name.nl-"*
  tmp=$(mktemp "$bin/.$name.nl-XXXXXX") || continue
  # (its errors reach the log: the runner logs stderr too)
  if ! "${get[@]}" "$tmp" "$url"; then
    echo "ERROR $name: download from $url failed; not installed"
  elif [ "$sum" != - ] && ! got=$(sha256sum "$tmp" 2>&1); then
    echo "ERROR $name: cannot check the sha256 (${got:-sha256sum failed}); not installed"
  elif [ "$sum" != - ] && [ "${got%% *}" != "${sum,,}" ]; then
    echo "ERROR $name: sha256 mismatch (expected $sum, got ${got%% *}); not installed"
  elif chmod 755 "$tmp" && mv -f "$tmp" "$dest"; then
    echo "$name: installed from $url ($(stat -c %s "$dest") bytes)"
  fi
  rm -f "$tmp"
done <"$here/binaries.tsv"
exit 0
