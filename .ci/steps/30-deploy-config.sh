# shellcheck shell=bash
# Sourced by .ci/run (set -euo pipefail, from the repository root). Validates the deployment files
# without a container engine:
#   - promtool (Debian's `prometheus`): the Prometheus configuration and the alert rules, and the alert
#     rules' unit tests (deploy/prometheus/alerts.test.yml)
#   - docker-compose (Debian's, v1.29; it parses and interpolates without an engine): docker-compose.yml
# test/deploy/*.test.ts then checks that every metric the dashboards and alerts use exists in /metrics
# and that the compose file sets only documented variables.

deploy_missing=()
command -v promtool >/dev/null 2>&1 || deploy_missing+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || deploy_missing+=(docker-compose)
if [ "${#deploy_missing[@]}" -gt 0 ]; then
  echo "installing ${deploy_missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # No recommends: docker-compose would pull in the whole docker.io engine, which cannot run here anyway.
  apt-get install -y -qq --no-install-recommends "${deploy_missing[@]}" >/dev/null
fi
unset deploy_missing

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
