/* CSV files as RFC 4180 describes them: a header record, then records of the same number of
 * fields; a field may be quoted ("..."), a quoted field may hold commas, newlines and doubled
 * quotes (""). Lines end in LF or CRLF; a UTF-8 byte-order mark before the header is skipped;
 * blank lines are ignored. Never raises: errors come back as a message naming the file and line. */
#ifndef LC_CSV_H
#define LC_CSV_H

#include <stddef.h>
#include <stdint.h>

typedef struct lc_csv {
  int nfields;      /* fields per record (the header's count) */
  int64_t nrows;    /* records after the header */
  char **header;    /* nfields strings */
  char **fields;    /* nrows * nfields strings, record-major */
  int64_t *lines;   /* nrows: the 1-based line each record starts on (the header is line 1 or more) */
  char *arena;      /* one block holding every string */
} lc_csv;

/* Parses `n` bytes of CSV text. `name` is used in error messages ("train.csv line 7: ...").
 * 0 = ok (free with lc_csv_free); -1 = error, message in err, nothing to free. */
int lc_csv_parse(const char *text, size_t n, const char *name, lc_csv *out, char *err, size_t errlen);
/* Reads and parses a file (errors name the path). */
int lc_csv_read(const char *path, lc_csv *out, char *err, size_t errlen);
void lc_csv_free(lc_csv *csv);

/* The whole of a file in memory (malloc'd, *n its size). 0 ok; -1 with a message naming it. */
int lc_read_whole_file(const char *path, uint8_t **data, size_t *n, char *err, size_t errlen);

#endif
