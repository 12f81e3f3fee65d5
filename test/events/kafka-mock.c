/*
 * A Kafka-protocol broker for tests: librdkafka's in-memory mock cluster on 127.0.0.1.
 * Usage: kafka-mock TOPIC [PARTITIONS]. Prints the bootstrap address on one line, then obeys stdin:
 * "down" drops every connection and refuses new ones, "up" accepts them again (same address, same data),
 * "fail-produce N CODE" answers the next N Produce requests with Kafka error CODE (nothing is appended).
 * Exits when stdin closes or on SIGTERM/SIGINT.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  char errstr[512], line[64];
  if (argc < 2) { fprintf(stderr, "usage: %s TOPIC [PARTITIONS]\n", argv[0]); return 2; }
  int partitions = argc > 2 ? atoi(argv[2]) : 3;
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  /* The handle only hosts the cluster; it never connects anywhere itself. */
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) { fprintf(stderr, "rd_kafka_new: %s\n", errstr); return 1; }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
  if (!mc) { fprintf(stderr, "mock cluster could not be created\n"); return 1; }
  /* librdkafka's mock (at least up to Debian 12's 2.0.2) answers ListOffsets v4+ with an 8-byte LeaderEpoch
   * where the protocol has 4 bytes, so a client that negotiates v4+ misreads every partition after the
   * first. Offering v0-v3 only (what a Kafka 2.0 broker offers) keeps the broker honest about what it can
   * answer; a real broker is unaffected. */
  rd_kafka_mock_set_apiversion(mc, 2 /* ListOffsets */, 0, 3);
  if (rd_kafka_mock_topic_create(mc, argv[1], partitions, 1)) { fprintf(stderr, "topic create failed\n"); return 1; }
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocked fgets returns so the loop sees `stop` */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  while (!stop && fgets(line, sizeof(line), stdin)) {
    if (strncmp(line, "down", 4) == 0) rd_kafka_mock_broker_set_down(mc, -1);
    else if (strncmp(line, "up", 2) == 0) rd_kafka_mock_broker_set_up(mc, -1);
    else if (strncmp(line, "fail-produce ", 13) == 0) {
      int count = 0, code = 0;
      if (sscanf(line + 13, "%d %d", &count, &code) == 2 && count > 0 && count <= 64) {
        rd_kafka_resp_err_t errors[64];
        for (int i = 0; i < count; i++) errors[i] = (rd_kafka_resp_err_t)code;
        rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */, (size_t)count, errors);
      }
    }
    printf("ok %s", line);
    fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
