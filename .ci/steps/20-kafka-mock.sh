# shellcheck shell=bash
# Kafka-protocol broker for the event tests: librdkafka's mock cluster, started by a small C launcher.
# Sourced by .ci/run (set -euo pipefail, repo root, .ci/lib/apt.sh loaded); exports the launcher's path.
apt_install librdkafka-dev gcc libc6-dev
mkdir -p .tmp
gcc -O2 -Wall -o .tmp/kafka-mock test/events/kafka-mock.c -lrdkafka
export KAFKA_MOCK_LAUNCHER="$PWD/.tmp/kafka-mock"
# Fail here, not in the tests, if the launcher cannot start a broker on this machine.
probe=$(printf '' | timeout 10 "$KAFKA_MOCK_LAUNCHER" api-events 1)
echo "kafka mock broker starts: $probe"
