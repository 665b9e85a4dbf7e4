/* Blocking MPI_Allreduce of 0.001-45 MB float32, fastest of 10: the baseline for lc.dist's polled
 * non-blocking all_reduce (bench/dist_allreduce.lua). mpicc -O2 -o ar bench/dist_allreduce_raw.c &&
 * mpirun -np 2 --bind-to none ./ar */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int r, n; MPI_Comm_rank(MPI_COMM_WORLD, &r); MPI_Comm_size(MPI_COMM_WORLD, &n);
  double mbs[] = {0.001, 1, 10, 45};
  for (int s = 0; s < 4; s++) {
    int cnt = (int)(mbs[s] * 1e6 / 4); float *b = malloc(cnt * 4); for (int i = 0; i < cnt; i++) b[i] = 1;
    for (int w = 0; w < 2; w++) MPI_Allreduce(MPI_IN_PLACE, b, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double best = 1e9;
    for (int k = 0; k < 10; k++) { MPI_Barrier(MPI_COMM_WORLD); double t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, b, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); double t = MPI_Wtime() - t0;
      MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); if (t < best) best = t; }
    if (r == 0) printf("raw MPI_Allreduce %8.3f MB best %8.3f ms  %.3f GB/s\n", cnt * 4 / 1e6, best * 1e3, cnt * 4 / best / 1e9);
    free(b);
  }
  MPI_Finalize();
}
