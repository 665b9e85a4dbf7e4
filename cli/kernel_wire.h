/* The Jupyter wire protocol for the kernel (kernel.c): messages as ZeroMQ multipart frames,
 * signed with HMAC-SHA256 over header, parent header, metadata and content; text made JSON-safe;
 * the kernel's log. One session per process (kernel_wire_start). */
#ifndef LUACNN_CLI_KERNEL_WIRE_H
#define LUACNN_CLI_KERNEL_WIRE_H

#include <stddef.h>

#include <cJSON.h>
#include <zmq.h>

#define PROTOCOL_VERSION "5.3"

/* A received message: its parts parsed, its routing identities kept for the reply. */
typedef struct kmsg {
  zmq_msg_t *ids;     /* routing identities (copied back on replies) */
  int nids;
  cJSON *header, *parent, *metadata, *content;
  const char *msg_type;
} kmsg;

/* The signing key and a new session id; -1 when the key is too long. */
int kernel_wire_start(const char *key);
const char *kernel_session(void);
/* "luacnn kernel: ..." lines on fd (the kernel's own stderr, kept before fd 2 is redirected). */
void kernel_log_to(int fd);
void kernel_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 with *m filled; 0 when refused (bad or missing signature, malformed: logged, never run);
 * -1 on a socket error. */
int recv_msg(void *sock, kmsg *m);
void kmsg_free(kmsg *m);
/* msg_type with content and metadata (both consumed), in reply to parent (may be NULL), to the
 * identities ids or, on iopub, under topic. Not thread-safe on one socket. */
void send_msg(void *sock, zmq_msg_t *ids, int nids, const char *topic, const char *msg_type,
              const cJSON *parent, cJSON *content, cJSON *metadata);

void new_uuid(char out[37]);
/* Valid UTF-8 of s (invalid bytes become U+FFFD), malloc'd; as a JSON string. */
char *utf8_clean(const char *s, size_t n);
cJSON *json_string_n(const char *s, size_t n);

#endif
