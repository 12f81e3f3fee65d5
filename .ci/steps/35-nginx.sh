# shellcheck shell=bash
# Sourced by .ci/run (set -euo pipefail, from the repository root). test/deploy/nginx-forwarded.test.ts runs
# the shipped deploy/nginx/nginx.conf in front of the service; it needs Debian's nginx binary. The package's
# own service is not started (a policy-rc.d denies it for the install): the test runs its own nginx.
if ! [ -x /usr/sbin/nginx ]; then
  echo "installing nginx (apt)"
  export DEBIAN_FRONTEND=noninteractive
  nginx_policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    nginx_policy_added=yes
  fi
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
  [ -n "$nginx_policy_added" ] && rm -f /usr/sbin/policy-rc.d
  unset nginx_policy_added
fi
/usr/sbin/nginx -v
