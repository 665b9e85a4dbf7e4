/* Autocast's per-thread state (see autocast.h); the casting itself is in the ops. */
#include "runtime/autocast.h"

static _Thread_local lc_dtype autocast_dtype = LC_NUM_DTYPES;
static _Thread_local int suspended;

lc_dtype lc_set_autocast(lc_dtype dtype)
{
  lc_dtype previous = autocast_dtype;
  autocast_dtype = dtype;
  return previous;
}

lc_dtype lc_autocast_dtype(void) { return autocast_dtype; }
bool lc_autocast_active(void) { return autocast_dtype != LC_NUM_DTYPES && suspended == 0; }
void lc_autocast_suspend(void) { suspended++; }
void lc_autocast_resume(void) { suspended--; }
void lc_autocast_unwind(void) { suspended = 0; }
