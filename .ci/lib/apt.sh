# shellcheck shell=bash
# apt_install [--with-recommends] PACKAGE...: installs the Debian packages that are missing, waiting for the apt/dpkg locks that
# another apt on this machine may hold (other sessions use apt here) instead of failing at once.
# Sourced by .ci/run and the steps; needs root, like every apt step of CI.

# Runs apt-get, waiting up to APT_LOCK_WAIT_SECONDS (default 900) in total for a lock held elsewhere.
# DPkg::Lock::Timeout covers dpkg's lock; the lists lock of `apt-get update` has no such option, so a
# failure that names a lock is retried too.
apt_get_waiting() {
  local deadline=$((SECONDS + ${APT_LOCK_WAIT_SECONDS:-900})) log
  log=$(mktemp)
  while :; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@" >"$log" 2>&1; then
      rm -f "$log"
      return 0
    fi
    if grep -qiE 'could not get lock|unable to (acquire|lock)|is another process using it' "$log" &&
      [ "$SECONDS" -lt "$deadline" ]; then
      echo "apt is locked by another process; waiting ($(grep -m1 -iE 'lock' "$log"))" >&2
      sleep 5
      continue
    fi
    cat "$log" >&2
    rm -f "$log"
    return 1
  done
}

# apt_install [--with-recommends] PACKAGE...
apt_install() {
  local missing=() package recommends=--no-install-recommends
  if [ "${1:-}" = --with-recommends ]; then
    recommends=
    shift
  fi
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing ${missing[*]} (apt)"
  # The package lists are refreshed once per CI run.
  if [ -z "${APT_LISTS_UPDATED:-}" ]; then
    apt_get_waiting update -qq
    APT_LISTS_UPDATED=1
  fi
  # shellcheck disable=SC2086 # $recommends is one flag or nothing
  apt_get_waiting install -y -qq $recommends "${missing[@]}"
}
