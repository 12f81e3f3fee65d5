# shellcheck shell=bash
# Sourced by .ci/run (set -euo pipefail, from the repository root, .ci/lib/apt.sh loaded). Validates the
# deployment files without running them:
#   - promtool (Debian's `prometheus`): the Prometheus configuration and the alert rules, and the alert
#     rules' unit tests (deploy/prometheus/alerts.test.yml)
#   - docker-compose (Debian's, v1.29; it parses and interpolates without an engine): docker-compose.yml
#   - nginx (Debian's): `nginx -t` on deploy/nginx/nginx.conf, with the replicas' names mapped in a
#     private /etc/hosts (see below)
# test/deploy/*.test.ts then checks that every metric the dashboards and alerts use exists in /metrics,
# that `promtool check metrics` finds nothing wrong with the served /metrics (promtool-metrics.test.ts, which
# CI=true requires promtool for) and that the compose file sets only documented variables.

# No recommends: docker-compose would pull in the whole docker.io engine (the image checks use Podman).
# nginx is also run by test/deploy/nginx-forwarded.test.ts (its own instance on a free port): the
# package's service must not start on install, so a policy-rc.d denies it for the install's duration.
nginx_policy_added=""
if [ ! -x /usr/sbin/nginx ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  nginx_policy_added=yes
fi
apt_install prometheus docker-compose nginx-light util-linux
[ -n "$nginx_policy_added" ] && rm -f /usr/sbin/policy-rc.d
unset nginx_policy_added

promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml

# The compose file refuses to render without its secrets (${VAR:?}); dummy values stand in for them,
# in a subshell so they never reach the test run's environment.
(
  export JWT_SECRET=ci-dummy-jwt-secret-not-used-anywhere-0123456789
  export POSTGRES_PASSWORD=ci-dummy REDIS_PASSWORD=ci-dummy GRAFANA_ADMIN_PASSWORD=ci-dummy
  docker-compose -f docker-compose.yml config -q
)
echo "docker-compose.yml: valid"

# nginx: Debian 12 ships 1.22, and the upstream servers' `resolve` parameter (re-resolving a recreated
# replica's address) is in open-source nginx only since 1.27.3; the compose file's image is newer
# (test/deploy/nginx.test.ts checks that). So this checks everything but that parameter. `nginx -t`
# resolves the upstream names (api1, api2) at load: they are mapped in an /etc/hosts of a private mount
# namespace, so the machine's own file is never touched.
(
  nginx_dir=$(mktemp -d)
  trap 'rm -rf "$nginx_dir"' EXIT
  printf '127.0.0.1 localhost\n127.0.0.1 api1 api2\n' >"$nginx_dir/hosts"
  sed -E 's/ resolve;$/;/' deploy/nginx/nginx.conf >"$nginx_dir/nginx.conf"
  unshare --mount sh -c 'mount --bind "$1/hosts" /etc/hosts && nginx -t -q -e stderr -c "$1/nginx.conf"' \
    sh "$nginx_dir"
)
echo "deploy/nginx/nginx.conf: valid for $(nginx -v 2>&1 | sed 's/^nginx version: //') (without 'resolve')"
