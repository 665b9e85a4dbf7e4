/* The Jupyter wire protocol (see kernel_wire.h). */
#define _GNU_SOURCE

#ifdef LUACNN_WITH_JUPYTER

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kernel_wire.h"

#define DELIM "<IDS|MSG>"

static struct {
  unsigned char key[512];
  size_t keylen;
  char session[40];
  int log_fd;
} wire = {.log_fd = -1};

int kernel_wire_start(const char *key) {
  size_t n = strlen(key);
  if (n >= sizeof wire.key) return -1;
  memcpy(wire.key, key, n);
  wire.keylen = n;
  new_uuid(wire.session);
  return 0;
}

const char *kernel_session(void) { return wire.session; }

void kernel_log_to(int fd) { wire.log_fd = fd; }

void kernel_log(const char *fmt, ...) {
  char buf[1024];
  int n;
  va_list ap;
  va_start(ap, fmt);
  n = snprintf(buf, sizeof buf, "luacnn kernel: ");
  n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof buf) n = (int)sizeof buf - 1;
  buf[n++] = '\n';
  if (write(wire.log_fd >= 0 ? wire.log_fd : 2, buf, (size_t)n) < 0) { /* nowhere to say it */ }
}

void new_uuid(char out[37]) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    srand((unsigned)(tv.tv_usec ^ tv.tv_sec ^ getpid()));
    for (int i = 0; i < 16; i++) b[i] = (unsigned char)rand();
  }
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
           b[13], b[14], b[15]);
}

static void iso_now(char out[40]) {
  struct timeval tv;
  struct tm tm;
  char base[32];
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 40, "%s.%06ldZ", base, (long)tv.tv_usec);
}

/* Valid UTF-8 of `s` (invalid bytes become U+FFFD), malloc'd. JSON needs it, and a cell
   may print any bytes. */
char *utf8_clean(const char *s, size_t n) {
  char *out = malloc(3 * n + 1), *o = out;
  size_t i = 0;
  if (out == NULL) return NULL;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 ? 4 : 0;
    int ok = len > 0 && i + len <= n && !(len == 2 && c < 0xc2) && !(c > 0xf4);
    for (size_t k = 1; ok && k < len; k++)
      if (((unsigned char)s[i + k] & 0xc0) != 0x80) ok = 0;
    if (ok && len == 1 && c == 0) ok = 0;   /* NUL: cJSON strings are C strings */
    if (ok) {
      memcpy(o, s + i, len);
      o += len;
      i += len;
    } else {
      memcpy(o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  *o = '\0';
  return out;
}

cJSON *json_string_n(const char *s, size_t n) {
  char *clean = utf8_clean(s, n);
  cJSON *j = cJSON_CreateString(clean ? clean : "");
  free(clean);
  return j;
}

/* ---- signing ------------------------------------------------------------------------ */

/* The hex HMAC-SHA256 of the parts, into out (65 bytes); "" without a key. */
static void sign_parts(const char *const parts[4], const size_t lens[4], char out[65]) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  size_t total = 0, off = 0;
  unsigned char *buf;
  out[0] = '\0';
  if (wire.keylen == 0) return;
  for (int i = 0; i < 4; i++) total += lens[i];
  buf = malloc(total ? total : 1);
  if (buf == NULL) return;
  for (int i = 0; i < 4; i++) {
    memcpy(buf + off, parts[i], lens[i]);
    off += lens[i];
  }
  HMAC(EVP_sha256(), wire.key, (int)wire.keylen, buf, total, mac, &maclen);
  free(buf);
  for (unsigned int i = 0; i < maclen && i < 32; i++) snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* ---- messages -------------------------------------------------------------------------- */


void kmsg_free(kmsg *m) {
  for (int i = 0; i < m->nids; i++) zmq_msg_close(&m->ids[i]);
  free(m->ids);
  cJSON_Delete(m->header);
  cJSON_Delete(m->parent);
  cJSON_Delete(m->metadata);
  cJSON_Delete(m->content);
  memset(m, 0, sizeof *m);
}

/* Receives one multipart message. 1 with *m filled; 0 when it was refused (bad signature
   or malformed: logged); -1 on a socket error. */
int recv_msg(void *sock, kmsg *m) {
  /* zmq_msg_t may not be moved once initialised, so the frames live in a fixed array; a
     message has its identities, the delimiter, the signature, 4 parts and a few buffers */
  enum { MAX_FRAMES = 64 };
  zmq_msg_t frames[MAX_FRAMES];
  int n = 0, more = 1, delim = -1, result = 0, dropped = 0;
  memset(m, 0, sizeof *m);
  while (more) {
    size_t sz = sizeof more;
    zmq_msg_t *f = &frames[n < MAX_FRAMES ? n : MAX_FRAMES - 1];
    if (n >= MAX_FRAMES) {   /* too many: drain the rest into the last slot */
      zmq_msg_close(f);
      dropped = 1;
    }
    zmq_msg_init(f);
    int rc;
    do rc = zmq_msg_recv(f, sock, 0);   /* a SIGINT (an interrupt) may cut a receive short */
    while (rc < 0 && zmq_errno() == EINTR);
    if (rc < 0) {
      zmq_msg_close(f);
      if (n >= MAX_FRAMES) zmq_msg_init(f);   /* closed once more below */
      result = -1;
      break;
    }
    if (!dropped && delim < 0 && zmq_msg_size(f) == sizeof DELIM - 1 &&
        memcmp(zmq_msg_data(f), DELIM, sizeof DELIM - 1) == 0)
      delim = n;
    if (n < MAX_FRAMES) n++;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
  }
  if (result == 0 && dropped) {
    kernel_log("refused a message of more than %d frames", MAX_FRAMES);
    result = 0;
    delim = -2;
  }
  if (delim == -2) {
    /* refused above */
  } else if (result == 0 && (delim < 0 || n < delim + 6)) {
    kernel_log("refused a malformed message (%d frames, %s delimiter)", n, delim < 0 ? "no" : "a");
  } else if (result == 0) {
    const char *parts[4];
    size_t lens[4];
    char expect[65];
    const char *sig = zmq_msg_data(&frames[delim + 1]);
    size_t siglen = zmq_msg_size(&frames[delim + 1]);
    for (int i = 0; i < 4; i++) {
      parts[i] = zmq_msg_data(&frames[delim + 2 + i]);
      lens[i] = zmq_msg_size(&frames[delim + 2 + i]);
    }
    sign_parts(parts, lens, expect);
    if (wire.keylen > 0 && (siglen != 64 || CRYPTO_memcmp(sig, expect, 64) != 0)) {
      kernel_log("refused a message with a %s signature (%zu bytes of header): not run",
           siglen == 0 ? "missing" : "bad", lens[0]);
    } else {
      cJSON **dst[4] = {&m->header, &m->parent, &m->metadata, &m->content};
      for (int i = 0; i < 4; i++)
        *dst[i] = cJSON_ParseWithLength(parts[i], lens[i]);
      m->msg_type = cJSON_GetStringValue(cJSON_GetObjectItem(m->header, "msg_type"));
      if (!m->header || !m->parent || !m->metadata || !m->content || !m->msg_type) {
        kernel_log("refused a signed message whose JSON could not be read");
        kmsg_free(m);
      } else {
        m->nids = delim;
        m->ids = malloc((size_t)(delim ? delim : 1) * sizeof *m->ids);
        for (int i = 0; i < delim; i++) {
          zmq_msg_init(&m->ids[i]);
          zmq_msg_copy(&m->ids[i], &frames[i]);
        }
        result = 1;
      }
    }
  }
  for (int i = 0; i < n; i++) zmq_msg_close(&frames[i]);
  return result;
}

/* Sends a message of type msg_type with content (consumed) in reply to parent (may be
   NULL), to the identities ids (or, on iopub, the topic). */
void send_msg(void *sock, zmq_msg_t *ids, int nids, const char *topic,
                     const char *msg_type, const cJSON *parent, cJSON *content, cJSON *metadata) {
  char id[37], date[40], sig[65];
  cJSON *header = cJSON_CreateObject();
  char *parts[4];
  size_t lens[4];
  new_uuid(id);
  iso_now(date);
  cJSON_AddStringToObject(header, "msg_id", id);
  cJSON_AddStringToObject(header, "session", wire.session);
  cJSON_AddStringToObject(header, "username", "kernel");
  cJSON_AddStringToObject(header, "date", date);
  cJSON_AddStringToObject(header, "msg_type", msg_type);
  cJSON_AddStringToObject(header, "version", PROTOCOL_VERSION);
  parts[0] = cJSON_PrintUnformatted(header);
  parts[1] = parent ? cJSON_PrintUnformatted(parent) : strdup("{}");
  parts[2] = metadata ? cJSON_PrintUnformatted(metadata) : strdup("{}");
  parts[3] = content ? cJSON_PrintUnformatted(content) : strdup("{}");
  for (int i = 0; i < 4; i++) lens[i] = parts[i] ? strlen(parts[i]) : 0;
  if (parts[0] && parts[1] && parts[2] && parts[3]) {
    sign_parts((const char *const *)parts, lens, sig);
    if (topic) {
      zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE);
    } else {
      for (int i = 0; i < nids; i++) {
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, &ids[i]);
        if (zmq_msg_send(&copy, sock, ZMQ_SNDMORE) < 0) zmq_msg_close(&copy);
      }
    }
    zmq_send(sock, DELIM, sizeof DELIM - 1, ZMQ_SNDMORE);
    zmq_send(sock, sig, strlen(sig), ZMQ_SNDMORE);
    for (int i = 0; i < 4; i++) zmq_send(sock, parts[i], lens[i], i < 3 ? ZMQ_SNDMORE : 0);
  }
  for (int i = 0; i < 4; i++) cJSON_free(parts[i]);
  cJSON_Delete(header);
  cJSON_Delete(content);
  cJSON_Delete(metadata);
}

#endif /* LUACNN_WITH_JUPYTER */
