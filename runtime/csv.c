/* CSV reading (see csv.h). One pass over the text: field contents are unescaped into one
 * arena (never longer than the text plus one terminator per field), the field pointers grow
 * in a list. */
#include "runtime/csv.h"
#include "runtime/errbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lc_read_whole_file(const char *path, uint8_t **data, size_t *n, char *err, size_t errlen)
{
  *data = NULL;
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return lc_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 1 << 16, len = 0;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size >= 0) cap = (size_t)size + 1;
    rewind(f);
  }
  uint8_t *buf = malloc(cap);
  if (!buf) {
    fclose(f);
    return lc_fail(err, errlen, "%s: out of memory reading %zu bytes", path, cap);
  }
  for (;;) {
    if (len == cap) {
      uint8_t *bigger = realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        fclose(f);
        return lc_fail(err, errlen, "%s: out of memory reading the file", path);
      }
      buf = bigger;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return lc_fail(err, errlen, "%s: read error", path);
  }
  *data = buf;
  *n = len;
  return 0;
}

typedef struct {
  char **items;
  int64_t n, cap;
} ptr_list;

static int push(ptr_list *l, char *p)
{
  if (l->n == l->cap) {
    int64_t cap = l->cap ? l->cap * 2 : 64;
    char **bigger = realloc(l->items, (size_t)cap * sizeof *bigger);
    if (!bigger) return -1;
    l->items = bigger;
    l->cap = cap;
  }
  l->items[l->n++] = p;
  return 0;
}

static int is_eol(const char *t, size_t n, size_t pos)
{
  return pos >= n || t[pos] == '\n' || (t[pos] == '\r' && pos + 1 < n && t[pos + 1] == '\n');
}

/* Skips the line ending at pos (LF or CRLF) if there is one. */
static size_t skip_eol(const char *t, size_t n, size_t pos, int64_t *line)
{
  if (pos < n && t[pos] == '\r') pos++;
  if (pos < n && t[pos] == '\n') {
    pos++;
    (*line)++;
  }
  return pos;
}

int lc_csv_parse(const char *t, size_t n, const char *name, lc_csv *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  size_t pos = 0;
  if (n >= 3 && (unsigned char)t[0] == 0xEF && (unsigned char)t[1] == 0xBB && (unsigned char)t[2] == 0xBF)
    pos = 3;
  char *arena = malloc(2 * n + 2);
  ptr_list fields = {0};
  int64_t *lines = NULL, nlines = 0, lines_cap = 0;
  if (!arena) return lc_fail(err, errlen, "%s: out of memory", name);
  char *w = arena;
  int64_t line = 1;
  int nfields = -1;
  int64_t header_end = 0;

  while (pos < n) {
    if (is_eol(t, n, pos)) { /* a blank line */
      pos = skip_eol(t, n, pos, &line);
      continue;
    }
    int64_t rec_line = line;
    int count = 0;
    for (;;) {
      char *field = w;
      if (pos < n && t[pos] == '"') {
        int64_t open_line = line;
        pos++;
        for (;;) {
          if (pos >= n) {
            lc_fail(err, errlen, "%s line %lld: unterminated quoted field (the quote opened on line %lld "
                 "is never closed)", name, (long long)rec_line, (long long)open_line);
            goto error;
          }
          char c = t[pos];
          if (c == '"') {
            if (pos + 1 < n && t[pos + 1] == '"') {
              *w++ = '"';
              pos += 2;
              continue;
            }
            pos++;
            break;
          }
          if (c == '\n') line++;
          *w++ = c;
          pos++;
        }
        if (!(pos >= n || t[pos] == ',' || is_eol(t, n, pos))) {
          lc_fail(err, errlen, "%s line %lld: unexpected character '%c' after the closing quote of "
               "field %d (a quoted field must end at a comma or the end of the line)", name,
               (long long)line, t[pos], count + 1);
          goto error;
        }
      } else {
        while (pos < n && t[pos] != ',' && !is_eol(t, n, pos)) {
          if (t[pos] == '"') {
            lc_fail(err, errlen, "%s line %lld: a quote inside unquoted field %d (quote the whole "
                 "field and double the quotes inside it)", name, (long long)line, count + 1);
            goto error;
          }
          *w++ = t[pos++];
        }
      }
      *w++ = '\0';
      if (push(&fields, field) != 0) goto oom;
      count++;
      if (pos < n && t[pos] == ',') {
        pos++;
        continue;
      }
      pos = skip_eol(t, n, pos, &line);
      break;
    }
    if (nfields < 0) {
      nfields = count;
      header_end = fields.n;
    } else {
      if (count != nfields) {
        lc_fail(err, errlen, "%s line %lld: expected %d field%s (as the header), got %d", name,
             (long long)rec_line, nfields, nfields == 1 ? "" : "s", count);
        goto error;
      }
      if (nlines == lines_cap) {
        int64_t cap = lines_cap ? lines_cap * 2 : 64;
        int64_t *bigger = realloc(lines, (size_t)cap * sizeof *bigger);
        if (!bigger) goto oom;
        lines = bigger;
        lines_cap = cap;
      }
      lines[nlines++] = rec_line;
    }
  }
  if (nfields < 0) {
    lc_fail(err, errlen, "%s: empty file (no header line)", name);
    goto error;
  }
  out->nfields = nfields;
  out->nrows = nlines;
  out->arena = arena;
  out->lines = lines;
  /* header and fields share one list: the header is its first nfields entries */
  out->header = fields.items;
  out->fields = fields.items + header_end;
  return 0;
oom:
  lc_fail(err, errlen, "%s: out of memory", name);
error:
  free(arena);
  free(fields.items);
  free(lines);
  memset(out, 0, sizeof *out);
  return -1;
}

int lc_csv_read(const char *path, lc_csv *out, char *err, size_t errlen)
{
  uint8_t *data;
  size_t n;
  memset(out, 0, sizeof *out);
  if (lc_read_whole_file(path, &data, &n, err, errlen) != 0) return -1;
  int rc = lc_csv_parse((const char *)data, n, path, out, err, errlen);
  free(data);
  return rc;
}

void lc_csv_free(lc_csv *csv)
{
  if (!csv) return;
  free(csv->arena);
  free(csv->header);
  free(csv->lines);
  memset(csv, 0, sizeof *csv);
}
