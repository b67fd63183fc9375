# shellcheck shell=bash
# notebook-lifecycle emulator: the body of a recording stub (appended to stub-head.sh)
U=/run/notebook-emulator/units
quiet=0 now=0 user=0 value=0 verb='' props=() units=()
while [ $# -gt 0 ]; do
  case $1 in
    -q | --quiet) quiet=1 ;;
    --now) now=1 ;;
    --user) user=1 ;;
    --value) value=1 ;;
    --version | -V) verb=--version ;;
    -p | --property) shift; props+=("${1:-}") ;;
    --property=*) props+=("${1#*=}") ;;
    -t | --type | -o | --output | -n | --lines | -s | --signal | --state) shift ;;
    -*) ;;
    *) if [ -z "$verb" ]; then verb=$1; else units+=("$1"); fi ;;
  esac
  shift
done
[ -n "$verb" ] || verb=list-units
if [ "$user" = 1 ]; then
  echo "Failed to connect to bus: No medium found" >&2
  exit 1
fi
norm() { case $1 in *.*) n=$1 ;; *) n=$1.service ;; esac; }
# state of unit $n: sets active (active|inactive) and enabled (enabled|disabled); returns 1 when unknown
look() {
  active=inactive enabled=disabled
  if [ -f "$U/$n" ]; then
    read -r active enabled <"$U/$n"
    return 0
  fi
  [ -f "/etc/systemd/system/$n" ] || [ -f "/run/systemd/system/$n" ]
}
save() { [ "$EUID" = 0 ] && printf '%s %s\n' "$active" "$enabled" >"$U/$n"; }
denied() {
  if [ "$EUID" != 0 ]; then
    echo "Failed to $verb $n: Access denied" >&2
    exit 1
  fi
}
rc=0
case $verb in
  is-active | is-failed)
    for u in "${units[@]}"; do
      norm "$u"; look || true
      [ "$verb" = is-failed ] && { [ "$quiet" = 1 ] || echo "$active"; rc=1; continue; }
      [ "$quiet" = 1 ] || echo "$active"
      [ "$active" = active ] || rc=3
    done ;;
  is-enabled)
    for u in "${units[@]}"; do
      norm "$u"
      if ! look; then
        echo "Failed to get unit file state for $n: No such file or directory" >&2; rc=1; continue
      fi
      [ "$quiet" = 1 ] || echo "$enabled"
      [ "$enabled" = enabled ] || rc=1
    done ;;
  status)
    for u in "${units[@]}"; do
      norm "$u"
      if ! look; then echo "Unit $n could not be found." >&2; rc=4; continue; fi
      echo "* $n - ${n%.*}"
      echo "     Loaded: loaded (/usr/lib/systemd/system/$n; $enabled; preset: disabled)"
      if [ "$active" = active ]; then echo "     Active: active (running)"; else echo "     Active: inactive (dead)"; rc=3; fi
    done ;;
  show)
    for u in "${units[@]}"; do
      norm "$u"
      if look; then load=loaded; else load=not-found; fi
      [ "${#props[@]}" -gt 0 ] || props=(Id LoadState ActiveState UnitFileState)
      for p in "${props[@]}"; do
        for q in ${p//,/ }; do
          case $q in
            Id | Names) v=$n ;; LoadState) v=$load ;; ActiveState) v=$active ;;
            SubState) [ "$active" = active ] && v=running || v=dead ;;
            UnitFileState) [ "$load" = loaded ] && v=$enabled || v= ;;
            *) v= ;;
          esac
          if [ "$value" = 1 ]; then echo "$v"; else echo "$q=$v"; fi
        done
      done
    done ;;
  list-unit-files | list-units)
    [ "$quiet" = 1 ] || printf '%-40s %s\n' "UNIT FILE" STATE
    count=0
    for f in "$U"/* /etc/systemd/system/*.* /run/systemd/system/*.*; do
      [ -f "$f" ] || continue
      n=${f##*/}
      if [ "${#units[@]}" -gt 0 ]; then
        hit=0
        # shellcheck disable=SC2254  # unit names may be glob patterns, as for systemctl
        for u in "${units[@]}"; do case $n in $u | $u.service) hit=1 ;; esac; done
        [ "$hit" = 1 ] || continue
      fi
      look
      count=$((count + 1))
      if [ "$verb" = list-units ]; then printf '%-40s loaded %s\n' "$n" "$active"; else printf '%-40s %s\n' "$n" "$enabled"; fi
    done
    [ "$quiet" = 1 ] || printf '\n%s unit files listed.\n' "$count"
    [ "$count" -gt 0 ] || [ "${#units[@]}" = 0 ] || rc=1 ;;
  start | restart | reload | try-restart | reload-or-restart | try-reload-or-restart | condrestart)
    for u in "${units[@]}"; do
      norm "$u"
      if ! look; then echo "Failed to $verb $n: Unit $n not found." >&2; rc=5; continue; fi
      denied
      case $verb in try-*) [ "$active" = active ] || continue ;; esac
      active=active; save
    done ;;
  stop | kill)
    for u in "${units[@]}"; do
      norm "$u"
      if ! look; then echo "Failed to $verb $n: Unit $n not loaded." >&2; rc=5; continue; fi
      denied
      active=inactive; save
    done ;;
  enable | disable | reenable | mask | unmask)
    for u in "${units[@]}"; do
      norm "$u"
      if ! look; then echo "Failed to $verb unit: Unit file $n does not exist." >&2; rc=1; continue; fi
      denied
      case $verb in
        enable | reenable) enabled=enabled; [ "$now" = 1 ] && active=active ;;
        disable | mask) enabled=disabled; [ "$now" = 1 ] && active=inactive ;;
      esac
      save
    done ;;
  --version) echo "systemd 252 (252.23-2.amzn2023)" ;;
  *) ;;
esac
exit $rc
