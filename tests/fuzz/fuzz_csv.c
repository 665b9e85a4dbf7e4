/* libFuzzer harness for the CSV parser (runtime/csv.c): any bytes parse to a table whose
 * records all have the header's field count and whose line numbers rise, or fail with a
 * message naming the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  lc_csv csv;
  char err[512];
  err[0] = 0;
  int rc = lc_csv_parse((const char *)data, size, "fuzz.csv", &csv, err, sizeof err);
  if (rc == 0) {
    if (csv.nfields < 1 || csv.nrows < 0) abort();
    size_t total = 0;
    for (int f = 0; f < csv.nfields; f++) total += strlen(csv.header[f]);
    for (int64_t r = 0; r < csv.nrows; r++) {
      if (r && csv.lines[r] <= csv.lines[r - 1]) abort();
      for (int f = 0; f < csv.nfields; f++) total += strlen(csv.fields[r * csv.nfields + f]);
    }
    if (total > size) abort(); /* fields are pieces of the input: never longer in all */
    lc_csv_free(&csv);
  } else if (rc != -1 || strncmp(err, "fuzz.csv", 8) != 0) {
    fprintf(stderr, "lc_csv_parse returned %d with message '%s'\n", rc, err);
    abort();
  }
  return 0;
}
