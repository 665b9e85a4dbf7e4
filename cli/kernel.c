/*
** `luacnn kernel`: luacnn as a Jupyter kernel.
**
**   luacnn kernel install [--user | --prefix DIR] [--name NAME]   writes the kernelspec
**   luacnn kernel -f CONNECTION_FILE                            runs the kernel
**
** The Jupyter messaging protocol 5.3 over ZeroMQ: shell and control (ROUTER), iopub (PUB),
** stdin (ROUTER: input requests) and the heartbeat (REP, echoed
** in its own thread). Every message is signed with HMAC-SHA256 over its header, parent
** header, metadata and content with the connection file's key; a message whose signature
** is missing or wrong is refused (logged on the kernel's stderr, never run).
**
** io.read in a cell asks the frontend for a line (input_request on the stdin socket) when
** the request allows stdin.
**
** Threads: the main thread owns the Lua state and the shell and stdin sockets; the control thread
** answers control requests while a cell runs (an interrupt sets a Lua hook that raises
** "interrupted!" at the next instruction, as Ctrl-C does in the REPL; SIGINT does the same,
** for servers whose interrupt_mode is 'signal'); the output thread reads the pipes that
** stdout and stderr (file descriptors 1 and 2) are redirected to and publishes them as
** `stream` messages as they come; the heartbeat thread echoes. The iopub socket is shared
** under a mutex.
**
** The Lua side (lib/luacnn/jupyter.lua) turns a cell into a chunk (top-level locals become
** globals, the last expression is returned), builds the MIME bundles of results and
** `lc.display`, and answers inspection; the C module `luacnn.kernel` below publishes.
** The wire (framing, signatures, the log) is kernel_wire.c; the kernelspec, kernel_install.c.
*/
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "cli.h"

#ifndef LUACNN_VERSION
#define LUACNN_VERSION "unknown"
#endif

#ifndef LUACNN_WITH_JUPYTER

#ifndef LUACNN_JUPYTER_MISSING
#define LUACNN_JUPYTER_MISSING "it was switched off (-DLUACNN_JUPYTER=OFF)"
#endif

int cli_kernel_main(lua_State *L, int argc, char **argv) {
  (void)L; (void)argc; (void)argv;
  cli_message("this build has no Jupyter kernel: " LUACNN_JUPYTER_MISSING
              ". Install the Debian packages libzmq3-dev, libcjson-dev and libssl-dev, then "
              "re-run cmake and rebuild.");
  return 69;   /* EX_UNAVAILABLE */
}

#else

#include <poll.h>
#include <pthread.h>

#include <cJSON.h>
#include <openssl/evp.h>
#include <zmq.h>

#include "kernel_wire.h"


/* ---- the kernel's state ---------------------------------------------------------- */

static struct {
  void *ctx, *shell, *control, *stdin_sock, *iopub, *hb;
  lua_State *L;
  pthread_mutex_t iopub_lock;   /* the iopub socket and `parent` */
  pthread_mutex_t run_lock;     /* `running` and the interrupt hook */
  pthread_mutex_t out_lock;     /* reading the output pipes */
  cJSON *parent;                /* header of the request being handled: output belongs to it */
  volatile int running;         /* a cell's Lua code is running */
  volatile sig_atomic_t stop;   /* shutdown asked for */
  int out_pipe[2], err_pipe[2], wake_pipe[2];
  int exec_count;
  int jupyter_ref;              /* lib/luacnn/jupyter.lua, LUA_NOREF if it did not load */
  char **history;               /* the cells run, history[i] is cell i + 1 */
  int nhistory;
  kmsg *cell;                   /* the execute_request running (for input requests) */
} K = {.jupyter_ref = LUA_NOREF};

/* ---- small helpers ---------------------------------------------------------------- */

/* Byte offset of code point `cp` in the UTF-8 string s (Jupyter counts cursor positions in
   code points), and back. */
static size_t cp_to_byte(const char *s, size_t cp) {
  size_t i = 0;
  while (s[i] && cp > 0) {
    i++;
    while (((unsigned char)s[i] & 0xc0) == 0x80) i++;
    cp--;
  }
  return i;
}

static size_t byte_to_cp(const char *s, size_t b) {
  size_t cp = 0;
  for (size_t i = 0; i < b && s[i]; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80) cp++;
  return cp;
}

/* ---- messages (the wire itself: kernel_wire.c) ---------------------------------------- */

static void reply(void *sock, kmsg *req, const char *msg_type, cJSON *content) {
  send_msg(sock, req->ids, req->nids, NULL, msg_type, req->header, content, NULL);
}

/* On iopub, with the current parent unless `parent` is given. Thread-safe. */
static void publish(const char *msg_type, cJSON *content, cJSON *metadata, const cJSON *parent) {
  char topic[96];
  snprintf(topic, sizeof topic, "kernel.%s.%s", kernel_session(), msg_type);
  pthread_mutex_lock(&K.iopub_lock);
  send_msg(K.iopub, NULL, 0, topic, msg_type, parent ? parent : K.parent, content, metadata);
  pthread_mutex_unlock(&K.iopub_lock);
}

static void publish_status(const char *state, const cJSON *parent) {
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "execution_state", state);
  publish("status", c, NULL, parent);
}

static void set_parent(const cJSON *header) {
  pthread_mutex_lock(&K.iopub_lock);
  cJSON_Delete(K.parent);
  K.parent = cJSON_Duplicate(header, 1);
  pthread_mutex_unlock(&K.iopub_lock);
}

/* ---- output: fd 1 and 2 into `stream` messages ---------------------------------------- */

/* Bytes held back at the end of a read: the start of a UTF-8 character split by it. */
static struct { char buf[4]; size_t n; } carry[2];

static size_t utf8_tail_incomplete(const char *s, size_t n) {
  size_t back = 0;
  while (back < n && back < 3 && ((unsigned char)s[n - 1 - back] & 0xc0) == 0x80) back++;
  if (back < n) {
    unsigned char lead = (unsigned char)s[n - 1 - back];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (need > back + 1) return back + 1;
  }
  return 0;
}

/* Reads what pipe `which` (0 stdout, 1 stderr) holds and publishes it. Holds out_lock. */
static void pump(int which) {
  int fd = which ? K.err_pipe[0] : K.out_pipe[0];
  char buf[65536 + 4];
  size_t n = carry[which].n;
  memcpy(buf, carry[which].buf, n);
  carry[which].n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof buf - 4 - n);
    if (r > 0) {
      n += (size_t)r;
      if (n < sizeof buf - 4) continue;
    }
    break;
  }
  if (n == 0) return;
  size_t keep = utf8_tail_incomplete(buf, n);
  if (keep && keep < n) {
    memcpy(carry[which].buf, buf + n - keep, keep);
    carry[which].n = keep;
    n -= keep;
  }
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "name", which ? "stderr" : "stdout");
  cJSON_AddItemToObject(c, "text", json_string_n(buf, n));
  publish("stream", c, NULL, NULL);
}

/* Everything written so far is published, before what comes next (a result, a display,
   the reply). */
static void flush_output(void) {
  fflush(stdout);
  fflush(stderr);
  pthread_mutex_lock(&K.out_lock);
  pump(0);
  pump(1);
  pthread_mutex_unlock(&K.out_lock);
}

static void *output_thread(void *arg) {
  (void)arg;
  for (;;) {
    struct pollfd p[3] = {{K.out_pipe[0], POLLIN, 0}, {K.err_pipe[0], POLLIN, 0},
                          {K.wake_pipe[0], POLLIN, 0}};
    int r = poll(p, 3, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p[2].revents & (POLLIN | POLLHUP))) break;
    usleep(2000);   /* let a burst of small writes gather into one message */
    pthread_mutex_lock(&K.out_lock);
    if (p[0].revents) pump(0);
    if (p[1].revents) pump(1);
    pthread_mutex_unlock(&K.out_lock);
  }
  return NULL;
}

static int redirect_output(void) {
  if (pipe2(K.out_pipe, O_CLOEXEC) || pipe2(K.err_pipe, O_CLOEXEC) ||
      pipe2(K.wake_pipe, O_CLOEXEC))
    return -1;
  fcntl(K.out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(K.err_pipe[0], F_SETFL, O_NONBLOCK);
  fflush(stdout);
  fflush(stderr);
  if (dup2(K.out_pipe[1], 1) < 0 || dup2(K.err_pipe[1], 2) < 0) return -1;
  setvbuf(stdout, NULL, _IONBF, 0);   /* io.write shows at once; the reader gathers bursts */
  setvbuf(stderr, NULL, _IONBF, 0);
  int devnull = open("/dev/null", O_RDONLY);   /* a cell cannot read input */
  if (devnull >= 0) {
    dup2(devnull, 0);
    close(devnull);
  }
  return 0;
}

/* ---- interrupts --------------------------------------------------------------------------- */

static volatile sig_atomic_t interrupt_fired;   /* in the cell now running */
static volatile sig_atomic_t interrupt_asked;   /* also seen by a wait for input */

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  interrupt_fired = 1;
  lua_sethook(L, NULL, 0, 0);
  lua_pushliteral(L, "interrupted!");
  lua_error(L);
}

static void request_interrupt(void) {
  pthread_mutex_lock(&K.run_lock);
  if (K.running) interrupt_asked = 1;
  if (K.running)
    lua_sethook(K.L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  pthread_mutex_unlock(&K.run_lock);
}

/* SIGINT (interrupt_mode 'signal'): only a hook is set, which is what a handler may do. */
static void on_sigint(int sig) {
  (void)sig;
  if (K.running) interrupt_asked = 1;
  if (K.running)
    lua_sethook(K.L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void set_running(int on) {
  pthread_mutex_lock(&K.run_lock);
  if (lua_gethook(K.L) == interrupt_hook) lua_sethook(K.L, NULL, 0, 0);   /* a late one */
  if (on) interrupt_fired = interrupt_asked = 0;
  K.running = on;
  pthread_mutex_unlock(&K.run_lock);
}

/* ---- the Lua side -------------------------------------------------------------------------- */

/* Pushes jupyter.<name> (a function) and returns 1, or returns 0 when there is none. */
static int get_jupyter(lua_State *L, const char *name) {
  if (K.jupyter_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, K.jupyter_ref);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  if (lua_isfunction(L, -1)) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Message handler for cells: the message and a traceback without the kernel's frames. */
static int cell_msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  if (strcmp(msg, "interrupted!") == 0) {
    lua_pushstring(L, msg);
    return 1;
  }
  luaL_traceback(L, L, msg, 1);
  /* cut the frames below the cell: "[C]: in ?" and "(...tail calls...)" at the end */
  size_t len;
  const char *tb = lua_tolstring(L, -1, &len);
  size_t end = len;
  for (;;) {
    size_t start = end;
    while (start > 0 && tb[start - 1] != '\n') start--;
    const char *line = tb + start + (tb[start] == '\t');
    size_t n = end - (size_t)(line - tb);
    if (start == 0) break;
    if ((n == 9 && memcmp(line, "[C]: in ?", 9) == 0) ||
        (n == 18 && memcmp(line, "(...tail calls...)", 18) == 0)) {
      end = start - 1;
      continue;
    }
    break;
  }
  lua_pushlstring(L, tb, end);
  return 1;
}

/* The cell as a function on top (1), or an error message on top (0). */
static int compile_cell(lua_State *L, const char *code, const char *chunkname) {
  if (get_jupyter(L, "compile")) {
    lua_pushstring(L, code);
    lua_pushstring(L, chunkname);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) return 0;
    if (lua_isfunction(L, -2)) {
      lua_pop(L, 1);
      return 1;
    }
    lua_remove(L, -2);
    if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushliteral(L, "the cell could not be compiled");
    }
    return 0;
  }
  /* jupyter.lua is missing: the cell as it is, or as an expression */
  lua_pushfstring(L, "return %s;", code);
  if (luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), chunkname) == LUA_OK) {
    lua_remove(L, -2);
    return 1;
  }
  lua_pop(L, 2);
  return luaL_loadbuffer(L, code, strlen(code), chunkname) == LUA_OK;
}

/* A Lua string or table of strings -> JSON value (numbers and booleans as themselves). */
static cJSON *lua_to_json(lua_State *L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      return json_string_n(s, n);
    }
    case LUA_TNUMBER: return cJSON_CreateNumber(lua_tonumber(L, idx));
    case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TTABLE: {
      if (depth > 8) return cJSON_CreateNull();
      lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
      if (len > 0) {
        cJSON *a = cJSON_CreateArray();
        for (lua_Integer i = 1; i <= len; i++) {
          lua_rawgeti(L, idx, i);
          cJSON_AddItemToArray(a, lua_to_json(L, -1, depth + 1));
          lua_pop(L, 1);
        }
        return a;
      }
      cJSON *o = cJSON_CreateObject();
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING)
          cJSON_AddItemToObject(o, lua_tostring(L, -2), lua_to_json(L, -1, depth + 1));
        lua_pop(L, 1);
      }
      return o;
    }
    default: return cJSON_CreateNull();
  }
}

/* A MIME bundle (Lua table mime -> string) as JSON: binary image types go base64. */
static cJSON *bundle_to_json(lua_State *L, int idx) {
  cJSON *o = cJSON_CreateObject();
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *mime = lua_tostring(L, -2);
      size_t n;
      const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
      if (s && strncmp(mime, "image/", 6) == 0 && strcmp(mime, "image/svg+xml") != 0) {
        char *b64 = malloc(4 * ((n + 2) / 3) + 1);
        if (b64) {
          EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)s, (int)n);
          cJSON_AddStringToObject(o, mime, b64);
          free(b64);
        }
      } else if (lua_type(L, -1) == LUA_TTABLE) {
        cJSON_AddItemToObject(o, mime, lua_to_json(L, -1, 0));   /* application/json */
      } else if (s) {
        cJSON_AddItemToObject(o, mime, json_string_n(s, n));
      }
    }
    lua_pop(L, 1);
  }
  return o;
}

/* The MIME bundle of the n values on top (popped): jupyter.bundle, or their text. */
static cJSON *values_bundle(lua_State *L, int n) {
  int base = lua_gettop(L) - n;
  cJSON *data = NULL;
  if (get_jupyter(L, "bundle")) {
    lua_insert(L, base + 1);
    lua_pushcfunction(L, cell_msghandler);
    lua_insert(L, base + 1);
    if (lua_pcall(L, n, 1, base + 1) == LUA_OK && lua_istable(L, -1)) {
      data = bundle_to_json(L, -1);
      lua_settop(L, base);
      return data;
    }
    kernel_log("jupyter.bundle failed: %s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_settop(L, base);
    lua_pushliteral(L, "(the value could not be shown)");
    n = 1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, base + i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  data = cJSON_CreateObject();
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  cJSON_AddItemToObject(data, "text/plain", json_string_n(s, len));
  lua_settop(L, base);
  return data;
}

/* ---- luacnn.kernel: what Lua code in a cell can ask of the kernel --------------------------- */

/* display(bundle [, {display_id = s, update = b, metadata = t}]) */
static int l_display(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int update = 0;
  cJSON *content = cJSON_CreateObject(), *transient = cJSON_CreateObject();
  cJSON_AddItemToObject(content, "data", bundle_to_json(L, 1));
  if (lua_istable(L, 2)) {
    if (lua_getfield(L, 2, "display_id") == LUA_TSTRING)
      cJSON_AddStringToObject(transient, "display_id", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, 2, "update");
    update = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "metadata") == LUA_TTABLE)
      cJSON_AddItemToObject(content, "metadata", lua_to_json(L, -1, 0));
    else
      cJSON_AddItemToObject(content, "metadata", cJSON_CreateObject());
    lua_pop(L, 1);
  } else {
    cJSON_AddItemToObject(content, "metadata", cJSON_CreateObject());
  }
  if (update && cJSON_GetArraySize(transient) == 0) {
    cJSON_Delete(content);
    cJSON_Delete(transient);
    return luaL_error(L, "display: an update needs a display_id");
  }
  cJSON_AddItemToObject(content, "transient", transient);
  flush_output();
  publish(update ? "update_display_data" : "display_data", content, NULL, NULL);
  return 0;
}

static int l_flush(lua_State *L) {
  (void)L;
  flush_output();
  return 0;
}

/* input(prompt [, password]) -> the line the user typed (without its newline): an
   input_request to the frontend that sent the running cell, when it allows stdin. */
static int l_input(lua_State *L) {
  const char *prompt = luaL_optstring(L, 1, "");
  int password = lua_toboolean(L, 2);
  kmsg *req = K.cell;
  if (req == NULL || !cJSON_IsTrue(cJSON_GetObjectItem(req->content, "allow_stdin")))
    return luaL_error(L, "input: this frontend does not take input (allow_stdin is false)");
  flush_output();
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "prompt", prompt);
  cJSON_AddBoolToObject(c, "password", password);
  send_msg(K.stdin_sock, req->ids, req->nids, NULL, "input_request", req->header, c, NULL);
  for (;;) {
    zmq_pollitem_t it = {K.stdin_sock, 0, ZMQ_POLLIN, 0};
    if (interrupt_asked || K.stop) {
      interrupt_fired = 1;
      lua_sethook(L, NULL, 0, 0);
      lua_pushliteral(L, "interrupted!");
      return lua_error(L);
    }
    if (zmq_poll(&it, 1, 100) <= 0 || !(it.revents & ZMQ_POLLIN)) continue;
    kmsg m;
    if (recv_msg(K.stdin_sock, &m) != 1) continue;
    if (strcmp(m.msg_type, "input_reply") == 0) {
      const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(m.content, "value"));
      lua_pushstring(L, v ? v : "");
      kmsg_free(&m);
      return 1;
    }
    kernel_log("ignored a %s on the stdin channel", m.msg_type);
    kmsg_free(&m);
  }
}

static int l_execution_count(lua_State *L) {
  lua_pushinteger(L, K.exec_count);
  return 1;
}

static int open_kernel_module(lua_State *L) {
  static const luaL_Reg fns[] = {{"display", l_display}, {"flush", l_flush},
                                 {"execution_count", l_execution_count}, {"input", l_input},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}

/* Loads luacnn into the global `lc` and lib/luacnn/jupyter.lua, and lets it set up the
   display hooks. Failures are logged; the kernel still runs plain Lua. */
static void setup_lua(lua_State *L) {
  luaL_requiref(L, "luacnn.kernel", open_kernel_module, 0);
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luacnn.jupyter");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
    K.jupyter_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else {
    kernel_log("lib/luacnn/jupyter.lua did not load (%s): plain text only",
         lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
  }
  if (get_jupyter(L, "setup")) {
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      kernel_log("setting up luacnn failed: %s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
      lua_pop(L, 1);
    }
  }
}

/* ---- shell requests --------------------------------------------------------------------------- */

static void remember_cell(const char *code) {
  char **more = realloc(K.history, (size_t)(K.nhistory + 1) * sizeof *more);
  if (more == NULL) return;
  K.history = more;
  K.history[K.nhistory++] = strdup(code);
}

/* Splits the error text into ename, evalue and traceback lines. */
static void fill_error(cJSON *c, const char *ename, const char *text) {
  const char *nl = strchr(text, '\n');
  cJSON *tb = cJSON_CreateArray();
  cJSON_AddStringToObject(c, "status", "error");
  cJSON_AddStringToObject(c, "ename", ename);
  cJSON_AddItemToObject(c, "evalue", json_string_n(text, nl ? (size_t)(nl - text) : strlen(text)));
  for (const char *p = text;;) {
    const char *e = strchr(p, '\n');
    cJSON_AddItemToArray(tb, json_string_n(p, e ? (size_t)(e - p) : strlen(p)));
    if (!e) break;
    p = e + 1;
  }
  cJSON_AddItemToObject(c, "traceback", tb);
}

/* After a failed cell with stop_on_error, execute requests that came while it ran are
   answered 'aborted' (before its own reply, so that no request sent after the client saw
   the failure is), as other kernels do: "run all" stops at the error. */
static int handle_shell(kmsg *m);

static void abort_queued(const cJSON *parent) {
  for (;;) {
    zmq_pollitem_t it = {K.shell, 0, ZMQ_POLLIN, 0};
    kmsg m;
    if (zmq_poll(&it, 1, 0) <= 0 || !(it.revents & ZMQ_POLLIN)) return;
    if (recv_msg(K.shell, &m) != 1) continue;
    if (strcmp(m.msg_type, "execute_request") == 0) {
      cJSON *c = cJSON_CreateObject();
      set_parent(m.header);
      publish_status("busy", NULL);
      cJSON_AddStringToObject(c, "status", "aborted");
      cJSON_AddNumberToObject(c, "execution_count", K.exec_count);
      reply(K.shell, &m, "execute_reply", c);
      publish_status("idle", NULL);
    } else {
      handle_shell(&m);
    }
    kmsg_free(&m);
    set_parent(parent);
  }
}

/* 1 when the cell failed (for stop_on_error). */
static int do_execute(kmsg *req) {
  lua_State *L = K.L;
  const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(req->content, "code"));
  int silent = cJSON_IsTrue(cJSON_GetObjectItem(req->content, "silent"));
  cJSON *sh = cJSON_GetObjectItem(req->content, "store_history");
  int store = !silent && (sh == NULL || cJSON_IsTrue(sh));
  int base = lua_gettop(L), failed = 0;
  char chunkname[48];
  cJSON *rep = cJSON_CreateObject();
  if (code == NULL) code = "";
  if (store) {
    K.exec_count++;
    remember_cell(code);
  }
  if (!silent) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "code", code);
    cJSON_AddNumberToObject(c, "execution_count", K.exec_count);
    publish("execute_input", c, NULL, NULL);
  }
  snprintf(chunkname, sizeof chunkname, "=In[%d]", K.exec_count);
  if (get_jupyter(L, "begin_cell") && lua_pcall(L, 0, 0, 0) != LUA_OK) lua_pop(L, 1);
  if (!compile_cell(L, code, chunkname)) {
    const char *msg = lua_tostring(L, -1);
    fill_error(rep, "SyntaxError", msg ? msg : "syntax error");
    failed = 1;
  } else {
    lua_pushcfunction(L, cell_msghandler);
    lua_insert(L, base + 1);
    K.cell = req;
    set_running(1);
    int status = lua_pcall(L, 0, LUA_MULTRET, base + 1);
    set_running(0);
    K.cell = NULL;
    flush_output();
    if (status == LUA_OK) {
      int n = lua_gettop(L) - base - 1;
      if (n > 0 && !silent) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "execution_count", K.exec_count);
        cJSON_AddItemToObject(c, "data", values_bundle(L, n));
        cJSON_AddItemToObject(c, "metadata", cJSON_CreateObject());
        publish("execute_result", c, NULL, NULL);
      }
      cJSON_AddStringToObject(rep, "status", "ok");
    } else {
      const char *msg = lua_tostring(L, -1);
      if (msg == NULL) msg = "(error object is not a string)";
      /* "Interrupted" also when code on the way re-raised it with a prefix ("net[1] (Linear): ") */
      fill_error(rep, interrupt_fired || strcmp(msg, "interrupted!") == 0 ? "Interrupted" : "LuaError", msg);
      failed = 1;
    }
  }
  lua_settop(L, base);
  flush_output();
  if (failed && !silent) {
    cJSON *c = cJSON_Duplicate(rep, 1);
    cJSON_DeleteItemFromObject(c, "status");
    publish("error", c, NULL, NULL);
  }
  cJSON *soe = cJSON_GetObjectItem(req->content, "stop_on_error");
  if (failed && (soe == NULL || cJSON_IsTrue(soe))) abort_queued(req->header);
  cJSON_AddNumberToObject(rep, "execution_count", K.exec_count);
  cJSON_AddItemToObject(rep, "payload", cJSON_CreateArray());
  cJSON_AddItemToObject(rep, "user_expressions", cJSON_CreateObject());
  reply(K.shell, req, "execute_reply", rep);
  return failed;
}

static cJSON *kernel_info(void) {
  cJSON *c = cJSON_CreateObject(), *li = cJSON_CreateObject(), *links = cJSON_CreateArray();
  char version[16];
  snprintf(version, sizeof version, "%s.%s", LUA_VERSION_MAJOR, LUA_VERSION_MINOR);
  cJSON_AddStringToObject(c, "status", "ok");
  cJSON_AddStringToObject(c, "protocol_version", PROTOCOL_VERSION);
  cJSON_AddStringToObject(c, "implementation", "luacnn");
  cJSON_AddStringToObject(c, "implementation_version", LUACNN_VERSION);
  cJSON_AddStringToObject(li, "name", "lua");
  cJSON_AddStringToObject(li, "version", version);
  cJSON_AddStringToObject(li, "mimetype", "text/x-lua");
  cJSON_AddStringToObject(li, "file_extension", ".lua");
  cJSON_AddStringToObject(li, "pygments_lexer", "lua");
  cJSON_AddStringToObject(li, "codemirror_mode", "lua");
  cJSON_AddItemToObject(c, "language_info", li);
  cJSON_AddStringToObject(c, "banner", CLI_NAME " " LUACNN_VERSION " (" LUA_RELEASE
                          "): a deep-learning runtime driven from Lua. `lc` is luacnn.");
  cJSON_AddItemToObject(c, "help_links", links);
  cJSON_AddBoolToObject(c, "debugger", 0);
  return c;
}

/* The text before the cursor: the word completed and the expression before its '.' or ':'. */
static void do_complete(kmsg *req) {
  lua_State *L = K.L;
  const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(req->content, "code"));
  cJSON *cp = cJSON_GetObjectItem(req->content, "cursor_pos");
  cJSON *c = cJSON_CreateObject(), *matches = cJSON_CreateArray();
  if (code == NULL) code = "";
  size_t cursor = cJSON_IsNumber(cp) ? cp_to_byte(code, (size_t)cp->valuedouble) : strlen(code);
  size_t start = cursor, i, j;
  char sep = 0;
  int top = lua_gettop(L);
#define NAMECH(ch) (((ch) >= 'a' && (ch) <= 'z') || ((ch) >= 'A' && (ch) <= 'Z') || \
                    ((ch) >= '0' && (ch) <= '9') || (ch) == '_')
  while (start > 0 && NAMECH(code[start - 1])) start--;
  i = start;
  if (i > 0 && (code[i - 1] == '.' || code[i - 1] == ':')) {
    sep = code[--i];
    if (sep == '.' && i > 0 && code[i - 1] == '.') {   /* a..b */
      sep = 0;
      i = start;
    }
  }
  j = i;
  if (sep)
    while (j > 0 && (NAMECH(code[j - 1]) || code[j - 1] == '.')) j--;
  int possible = !(sep && (j == i || (j > 0 && code[j - 1] == ':')));
  if (possible) {
    lua_pushcfunction(L, cli_completion_collect);
    lua_pushlstring(L, code + j, i - j);
    lua_pushlstring(L, code + start, cursor - start);
    lua_pushboolean(L, sep == ':');
    if (lua_pcall(L, 3, 1, 0) == LUA_OK && lua_istable(L, -1)) {
      lua_newtable(L);   /* the names, sorted */
      int list = lua_gettop(L), n = 0;
      lua_pushnil(L);
      while (lua_next(L, top + 1)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, list, ++n);
      }
      lua_getglobal(L, "table");
      lua_getfield(L, -1, "sort");
      lua_remove(L, -2);
      lua_pushvalue(L, list);
      if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
      for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, list, k);
        cJSON_AddItemToArray(matches, cJSON_CreateString(lua_tostring(L, -1)));
        lua_pop(L, 1);
      }
    }
  }
#undef NAMECH
  lua_settop(L, top);
  cJSON_AddItemToObject(c, "matches", matches);
  cJSON_AddNumberToObject(c, "cursor_start", (double)byte_to_cp(code, start));
  cJSON_AddNumberToObject(c, "cursor_end", (double)byte_to_cp(code, cursor));
  cJSON_AddItemToObject(c, "metadata", cJSON_CreateObject());
  cJSON_AddStringToObject(c, "status", "ok");
  reply(K.shell, req, "complete_reply", c);
}

/* jupyter.<fn>(code, cursor_byte [, extra]) -> its result table as the reply content. */
static cJSON *ask_lua(const char *fn, const char *code, size_t cursor, int detail) {
  lua_State *L = K.L;
  int top = lua_gettop(L);
  cJSON *out = NULL;
  if (get_jupyter(L, fn)) {
    lua_pushstring(L, code);
    lua_pushinteger(L, (lua_Integer)cursor);
    lua_pushinteger(L, detail);
    if (lua_pcall(L, 3, 1, 0) == LUA_OK && lua_istable(L, -1)) {
      out = cJSON_CreateObject();
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        const char *k = lua_tostring(L, -2);
        if (strcmp(k, "data") == 0 && lua_istable(L, -1))
          cJSON_AddItemToObject(out, k, bundle_to_json(L, -1));
        else
          cJSON_AddItemToObject(out, k, lua_to_json(L, -1, 0));
        lua_pop(L, 1);
      }
    } else {
      kernel_log("jupyter.%s failed: %s", fn, lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    }
  }
  lua_settop(L, top);
  return out;
}

static void do_inspect(kmsg *req) {
  const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(req->content, "code"));
  cJSON *cp = cJSON_GetObjectItem(req->content, "cursor_pos");
  cJSON *dl = cJSON_GetObjectItem(req->content, "detail_level");
  if (code == NULL) code = "";
  size_t cursor = cJSON_IsNumber(cp) ? cp_to_byte(code, (size_t)cp->valuedouble) : strlen(code);
  cJSON *c = ask_lua("inspect", code, cursor, cJSON_IsNumber(dl) ? dl->valueint : 0);
  if (c == NULL) {
    c = cJSON_CreateObject();
    cJSON_AddBoolToObject(c, "found", 0);
    cJSON_AddItemToObject(c, "data", cJSON_CreateObject());
  }
  if (!cJSON_GetObjectItem(c, "metadata")) cJSON_AddItemToObject(c, "metadata", cJSON_CreateObject());
  cJSON_AddStringToObject(c, "status", "ok");
  reply(K.shell, req, "inspect_reply", c);
}

static void do_is_complete(kmsg *req) {
  const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(req->content, "code"));
  cJSON *c = ask_lua("is_complete", code ? code : "", 0, 0);
  if (c == NULL) {
    c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "status", "unknown");
  }
  reply(K.shell, req, "is_complete_reply", c);
}

static void do_history(kmsg *req) {
  cJSON *c = cJSON_CreateObject(), *h = cJSON_CreateArray();
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(req->content, "hist_access_type"));
  cJSON *nj = cJSON_GetObjectItem(req->content, "n");
  int from = 0, to = K.nhistory;
  if (type && strcmp(type, "tail") == 0 && cJSON_IsNumber(nj) && nj->valueint < K.nhistory)
    from = K.nhistory - (nj->valueint > 0 ? nj->valueint : 0);
  if (type && strcmp(type, "range") == 0) {
    cJSON *a = cJSON_GetObjectItem(req->content, "start"), *b = cJSON_GetObjectItem(req->content, "stop");
    if (cJSON_IsNumber(a) && a->valueint > 1) from = a->valueint - 1;
    if (cJSON_IsNumber(b) && b->valueint > 0 && b->valueint - 1 < to) to = b->valueint - 1;
  }
  const char *pattern = type && strcmp(type, "search") == 0
      ? cJSON_GetStringValue(cJSON_GetObjectItem(req->content, "pattern")) : NULL;
  for (int i = from; i < to; i++) {
    if (pattern) {   /* glob with * at both ends, as IPython's search: a substring */
      char sub[256];
      size_t n = strlen(pattern);
      while (n && pattern[0] == '*') { pattern++; n--; }
      snprintf(sub, sizeof sub, "%.*s", (int)n, pattern);
      while ((n = strlen(sub)) && sub[n - 1] == '*') sub[n - 1] = '\0';
      if (!strstr(K.history[i], sub)) continue;
    }
    cJSON *e = cJSON_CreateArray();
    cJSON_AddItemToArray(e, cJSON_CreateNumber(0));
    cJSON_AddItemToArray(e, cJSON_CreateNumber(i + 1));
    cJSON_AddItemToArray(e, json_string_n(K.history[i], strlen(K.history[i])));
    cJSON_AddItemToArray(h, e);
  }
  cJSON_AddStringToObject(c, "status", "ok");
  cJSON_AddItemToObject(c, "history", h);
  reply(K.shell, req, "history_reply", c);
}

static void do_shutdown(void *sock, kmsg *req) {
  cJSON *c = cJSON_CreateObject();
  int restart = cJSON_IsTrue(cJSON_GetObjectItem(req->content, "restart"));
  cJSON_AddStringToObject(c, "status", "ok");
  cJSON_AddBoolToObject(c, "restart", restart);
  reply(sock, req, "shutdown_reply", c);
  kernel_log("shutdown%s requested", restart ? " (restart)" : "");
  K.stop = 1;
}

/* A shell request: status busy, the handler, status idle. Returns 1 for a failed cell. */
static int handle_shell(kmsg *m) {
  int failed = 0;
  const char *t = m->msg_type;
  set_parent(m->header);
  publish_status("busy", NULL);
  if (strcmp(t, "execute_request") == 0) failed = do_execute(m);
  else if (strcmp(t, "kernel_info_request") == 0) reply(K.shell, m, "kernel_info_reply", kernel_info());
  else if (strcmp(t, "complete_request") == 0) do_complete(m);
  else if (strcmp(t, "inspect_request") == 0) do_inspect(m);
  else if (strcmp(t, "is_complete_request") == 0) do_is_complete(m);
  else if (strcmp(t, "history_request") == 0) do_history(m);
  else if (strcmp(t, "comm_info_request") == 0) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "comms", cJSON_CreateObject());
    cJSON_AddStringToObject(c, "status", "ok");
    reply(K.shell, m, "comm_info_reply", c);
  } else if (strcmp(t, "shutdown_request") == 0) do_shutdown(K.shell, m);
  else if (strcmp(t, "comm_open") == 0) {   /* no comm targets: close it again */
    cJSON *c = cJSON_CreateObject();
    cJSON *id = cJSON_GetObjectItem(m->content, "comm_id");
    cJSON_AddStringToObject(c, "comm_id", cJSON_GetStringValue(id) ? cJSON_GetStringValue(id) : "");
    cJSON_AddItemToObject(c, "data", cJSON_CreateObject());
    publish("comm_close", c, NULL, NULL);
  } else if (strncmp(t, "comm_", 5) != 0) {
    kernel_log("ignored a %s on the shell channel", t);
  }
  publish_status("idle", NULL);
  return failed;
}

/* ---- control, heartbeat ------------------------------------------------------------------------ */

static void *control_thread(void *arg) {
  (void)arg;
  while (!K.stop) {
    zmq_pollitem_t it = {K.control, 0, ZMQ_POLLIN, 0};
    kmsg m;
    int r = zmq_poll(&it, 1, 100);
    if (r < 0 && zmq_errno() == ETERM) break;
    if (r <= 0 || !(it.revents & ZMQ_POLLIN)) continue;
    if (recv_msg(K.control, &m) != 1) continue;
    if (strcmp(m.msg_type, "interrupt_request") == 0) {
      cJSON *c = cJSON_CreateObject();
      cJSON_AddStringToObject(c, "status", "ok");
      request_interrupt();
      reply(K.control, &m, "interrupt_reply", c);
    } else if (strcmp(m.msg_type, "shutdown_request") == 0) {
      do_shutdown(K.control, &m);
      request_interrupt();   /* a running cell stops so that the kernel can */
    } else if (strcmp(m.msg_type, "kernel_info_request") == 0) {
      reply(K.control, &m, "kernel_info_reply", kernel_info());
    } else {
      kernel_log("ignored a %s on the control channel", m.msg_type);
    }
    kmsg_free(&m);
  }
  return NULL;
}

static void *heartbeat_thread(void *arg) {
  (void)arg;
  for (;;) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, K.hb, 0) < 0) {
      zmq_msg_close(&msg);
      if (zmq_errno() == EINTR) continue;
      break;   /* ETERM: the context is going */
    }
    int more = zmq_msg_more(&msg);
    if (zmq_msg_send(&msg, K.hb, more ? ZMQ_SNDMORE : 0) < 0) zmq_msg_close(&msg);
  }
  int linger = 0;
  zmq_setsockopt(K.hb, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(K.hb);
  return NULL;
}

/* ---- start-up ------------------------------------------------------------------------------------ */

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
      (buf = malloc((size_t)n + 1)) == NULL) {
    fclose(f);
    return NULL;
  }
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return NULL;
  }
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static void *bind_socket(int type, const char *transport, const char *ip, int port, const char *what) {
  char addr[512];
  void *s = zmq_socket(K.ctx, type);
  int linger = type == ZMQ_PUB ? 1000 : 0;
  if (s == NULL) return NULL;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  if (strcmp(transport, "ipc") == 0) snprintf(addr, sizeof addr, "ipc://%s-%d", ip, port);
  else snprintf(addr, sizeof addr, "%s://%s:%d", transport, ip, port);
  if (zmq_bind(s, addr) != 0) {
    kernel_log("cannot bind the %s socket to %s: %s", what, addr, zmq_strerror(zmq_errno()));
    zmq_close(s);
    return NULL;
  }
  return s;
}

static int run_kernel(lua_State *L, const char *connection_file) {
  char *text = read_file(connection_file), msg[512];
  cJSON *conn;
  pthread_t control_tid, hb_tid, out_tid;
  kernel_log_to(dup(2));
  if (text == NULL) {
    snprintf(msg, sizeof msg, "kernel: cannot read the connection file '%.300s': %s",
             connection_file, strerror(errno));
    cli_message(msg);
    return EXIT_FAILURE;
  }
  conn = cJSON_Parse(text);
  free(text);
  if (!cJSON_IsObject(conn)) {
    snprintf(msg, sizeof msg, "kernel: the connection file '%.300s' is not a JSON object",
             connection_file);
    cli_message(msg);
    cJSON_Delete(conn);
    return EXIT_FAILURE;
  }
  const char *transport = cJSON_GetStringValue(cJSON_GetObjectItem(conn, "transport"));
  const char *ip = cJSON_GetStringValue(cJSON_GetObjectItem(conn, "ip"));
  const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(conn, "key"));
  const char *scheme = cJSON_GetStringValue(cJSON_GetObjectItem(conn, "signature_scheme"));
  static const char *const port_names[5] = {"shell_port", "control_port", "stdin_port",
                                            "iopub_port", "hb_port"};
  int ports[5];
  for (int i = 0; i < 5; i++) {
    cJSON *p = cJSON_GetObjectItem(conn, port_names[i]);
    ports[i] = cJSON_IsNumber(p) ? p->valueint : -1;
    if (ports[i] < 0) {
      snprintf(msg, sizeof msg, "kernel: the connection file '%.300s' has no %s",
               connection_file, port_names[i]);
      cli_message(msg);
      cJSON_Delete(conn);
      return EXIT_FAILURE;
    }
  }
  if (!transport) transport = "tcp";
  if (!ip) ip = "127.0.0.1";
  if (scheme && *scheme && strcmp(scheme, "hmac-sha256") != 0) {
    snprintf(msg, sizeof msg, "kernel: signature scheme '%.100s' is not supported (only hmac-sha256)",
             scheme);
    cli_message(msg);
    cJSON_Delete(conn);
    return EXIT_FAILURE;
  }
  if (kernel_wire_start(key ? key : "") != 0) {
    cli_message("kernel: the signing key is too long");
    cJSON_Delete(conn);
    return EXIT_FAILURE;
  }
  if (!key || !*key) kernel_log("warning: the connection file has no key: messages are not signed");
  K.L = L;
  pthread_mutex_init(&K.iopub_lock, NULL);
  pthread_mutex_init(&K.run_lock, NULL);
  pthread_mutex_init(&K.out_lock, NULL);

  K.ctx = zmq_ctx_new();
  K.shell = bind_socket(ZMQ_ROUTER, transport, ip, ports[0], "shell");
  K.control = bind_socket(ZMQ_ROUTER, transport, ip, ports[1], "control");
  K.stdin_sock = bind_socket(ZMQ_ROUTER, transport, ip, ports[2], "stdin");
  K.iopub = bind_socket(ZMQ_PUB, transport, ip, ports[3], "iopub");
  K.hb = bind_socket(ZMQ_REP, transport, ip, ports[4], "heartbeat");
  cJSON_Delete(conn);
  if (!K.shell || !K.control || !K.stdin_sock || !K.iopub || !K.hb) return EXIT_FAILURE;

  setup_lua(L);
  if (redirect_output() != 0) {
    kernel_log("cannot redirect output: %s", strerror(errno));
    return EXIT_FAILURE;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESTART;   /* a write or read in a cell is not cut short by it */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  pthread_create(&hb_tid, NULL, heartbeat_thread, NULL);
  pthread_create(&control_tid, NULL, control_thread, NULL);
  pthread_create(&out_tid, NULL, output_thread, NULL);
  kernel_log("started (pid %d, session %s)", (int)getpid(), kernel_session());
  publish_status("starting", NULL);

  /* Started by a notebook server (which sets JPY_PARENT_PID): stop when it is gone, rather
     than linger as an orphan holding the ports. */
  const char *parent_env = getenv("JPY_PARENT_PID");
  pid_t parent = parent_env && atoi(parent_env) > 1 ? getppid() : 0;
  while (!K.stop) {
    zmq_pollitem_t it = {K.shell, 0, ZMQ_POLLIN, 0};
    kmsg m;
    if (parent && getppid() != parent) {
      kernel_log("the process that started the kernel is gone: stopping");
      break;
    }
    int r = zmq_poll(&it, 1, 100);
    if (r < 0 && zmq_errno() == EINTR) continue;
    if (r < 0) break;
    if (r == 0 || !(it.revents & ZMQ_POLLIN)) continue;
    int got = recv_msg(K.shell, &m);
    if (got < 0) break;
    if (got == 0) continue;
    handle_shell(&m);
    kmsg_free(&m);
  }

  K.stop = 1;
  flush_output();
  if (write(K.wake_pipe[1], "", 1) < 0) { /* the thread then ends at its next poll anyway */ }
  pthread_join(out_tid, NULL);
  pthread_join(control_tid, NULL);
  zmq_close(K.shell);
  zmq_close(K.control);
  zmq_close(K.stdin_sock);
  pthread_mutex_lock(&K.iopub_lock);
  zmq_close(K.iopub);
  pthread_mutex_unlock(&K.iopub_lock);
  zmq_ctx_shutdown(K.ctx);
  pthread_join(hb_tid, NULL);
  zmq_ctx_term(K.ctx);
  kernel_log("stopped");
  return EXIT_SUCCESS;
}

static void kernel_usage(FILE *out) {
  fputs("usage: " CLI_NAME " kernel install [--user | --prefix DIR] [--name NAME]\n"
        "       " CLI_NAME " kernel -f CONNECTION_FILE   (what Jupyter runs)\n"
        "install writes the kernelspec (kernel.json and a logo) under DIR/share/jupyter/kernels/NAME,\n"
        "~/.local/share/jupyter/kernels/NAME with --user, or /usr/local/share/jupyter/kernels/NAME;\n"
        "JupyterLab and Notebook then offer \"luacnn (Lua 5.4)\".\n", out);
}

int cli_kernel_main(lua_State *L, int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[2], "install") == 0) return cli_kernel_install(argc, argv);
  if (argc >= 4 && strcmp(argv[2], "-f") == 0) return run_kernel(L, argv[3]);
  if (argc >= 3 && strncmp(argv[2], "--f=", 4) == 0) return run_kernel(L, argv[2] + 4);
  if (argc >= 3 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
    kernel_usage(stdout);
    return EXIT_SUCCESS;
  }
  kernel_usage(stderr);
  return 2;
}

#endif /* LUACNN_WITH_JUPYTER */
