/*
** `luacnn kernel install [--user | --prefix DIR] [--name NAME]`: writes the kernelspec
** (kernel.json and the logos) where Jupyter looks for kernels. The kernel itself is kernel.c.
*/
#define _GNU_SOURCE

#ifdef LUACNN_WITH_JUPYTER

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <cairo.h>

#include "cli.h"

static int mkdirs(const char *path) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* The logo: "lc" in white on a rounded orange square, size x size pixels. */
static int write_logo(const char *path, int size) {
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
  cairo_t *cr = cairo_create(s);
  double r = size * 0.18, w = size;
  cairo_new_sub_path(cr);
  cairo_arc(cr, w - r, r, r, -1.5708, 0);
  cairo_arc(cr, w - r, w - r, r, 0, 1.5708);
  cairo_arc(cr, r, w - r, r, 1.5708, 3.14159);
  cairo_arc(cr, r, r, r, 3.14159, 4.71239);
  cairo_close_path(cr);
  cairo_set_source_rgb(cr, 0x00 / 255.0, 0x00 / 255.0, 0x80 / 255.0);   /* Lua's navy */
  cairo_fill(cr);
  cairo_arc(cr, w * 0.78, w * 0.22, w * 0.12, 0, 6.28318);   /* the moon */
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_fill(cr);
  cairo_text_extents_t ext;
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size(cr, size * 0.5);
  cairo_text_extents(cr, "lc", &ext);
  cairo_move_to(cr, (w - ext.width) / 2 - ext.x_bearing, w * 0.62 - ext.height / 2 - ext.y_bearing);
  cairo_show_text(cr, "lc");
  cairo_destroy(cr);
  int ok = cairo_surface_write_to_png(s, path) == CAIRO_STATUS_SUCCESS;
  cairo_surface_destroy(s);
  return ok ? 0 : -1;
}

int cli_kernel_install(int argc, char **argv) {
  const char *prefix = NULL, *name = "luacnn";
  int user = 0;
  char dir[PATH_MAX], path[PATH_MAX + 32], exe[PATH_MAX], msg[PATH_MAX + 128];
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--user") == 0) user = 1;
    else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) prefix = argv[++i];
    else if (strncmp(argv[i], "--prefix=", 9) == 0) prefix = argv[i] + 9;
    else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) name = argv[++i];
    else {
      snprintf(msg, sizeof msg, "kernel install: unknown option '%.100s' "
               "(usage: luacnn kernel install [--user | --prefix DIR] [--name NAME])", argv[i]);
      cli_message(msg);
      return 2;
    }
  }
  if (user && prefix) {
    cli_message("kernel install: --user and --prefix exclude each other");
    return 2;
  }
  if (prefix) {
    snprintf(dir, sizeof dir, "%s/share/jupyter/kernels/%s", prefix, name);
  } else if (user) {
    const char *data = getenv("JUPYTER_DATA_DIR"), *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    if (data && *data) snprintf(dir, sizeof dir, "%s/kernels/%s", data, name);
    else if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/jupyter/kernels/%s", xdg, name);
    else snprintf(dir, sizeof dir, "%s/.local/share/jupyter/kernels/%s", home ? home : ".", name);
  } else {
    snprintf(dir, sizeof dir, "/usr/local/share/jupyter/kernels/%s", name);
  }
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    cli_message("kernel install: cannot find this executable's path");
    return EXIT_FAILURE;
  }
  exe[n] = '\0';
  if (mkdirs(dir) != 0) {
    snprintf(msg, sizeof msg, "kernel install: cannot create %s: %s", dir, strerror(errno));
    cli_message(msg);
    return EXIT_FAILURE;
  }
  cJSON *spec = cJSON_CreateObject(), *av = cJSON_CreateArray(), *md = cJSON_CreateObject();
  cJSON_AddItemToArray(av, cJSON_CreateString(exe));
  cJSON_AddItemToArray(av, cJSON_CreateString("kernel"));
  cJSON_AddItemToArray(av, cJSON_CreateString("-f"));
  cJSON_AddItemToArray(av, cJSON_CreateString("{connection_file}"));
  cJSON_AddItemToObject(spec, "argv", av);
  cJSON_AddStringToObject(spec, "display_name", "luacnn (Lua 5.4)");
  cJSON_AddStringToObject(spec, "language", "lua");
  cJSON_AddStringToObject(spec, "interrupt_mode", "message");
  cJSON_AddBoolToObject(md, "debugger", 0);
  cJSON_AddItemToObject(spec, "metadata", md);
  char *json = cJSON_Print(spec);
  cJSON_Delete(spec);
  snprintf(path, sizeof path, "%s/kernel.json", dir);
  FILE *f = fopen(path, "w");
  int ok = f && json && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
  if (f && fclose(f) != 0) ok = 0;
  cJSON_free(json);
  if (!ok) {
    snprintf(msg, sizeof msg, "kernel install: cannot write %s: %s", path, strerror(errno));
    cli_message(msg);
    return EXIT_FAILURE;
  }
  snprintf(path, sizeof path, "%s/logo-64x64.png", dir);
  ok = write_logo(path, 64) == 0;
  snprintf(path, sizeof path, "%s/logo-32x32.png", dir);
  ok = ok && write_logo(path, 32) == 0;
  if (!ok) {
    snprintf(msg, sizeof msg, "kernel install: cannot write the logo in %s", dir);
    cli_message(msg);
    return EXIT_FAILURE;
  }
  printf("installed the Jupyter kernel '%s' (luacnn (Lua 5.4)) in %s\n", name, dir);
  return EXIT_SUCCESS;
}

#endif /* LUACNN_WITH_JUPYTER */
