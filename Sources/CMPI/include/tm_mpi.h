#ifndef TOKENMILL_MPI_H
#define TOKENMILL_MPI_H
/* Open MPI, loaded with dlopen when `tokenmill train` finds itself launched by mpirun, so that
   the binary runs as one process (and starts) where MPI is not installed. Open MPI's handles
   (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM…) are the addresses of exported objects, looked up here
   with dlsym; MPI_IN_PLACE is ((void *) 1). */

/* Loads libmpi and calls MPI_Init (once). NULL on success, else why it failed. */
const char *tm_mpi_init(int *rank, int *size);

/* In-place sums over every rank (MPI_Allreduce with MPI_IN_PLACE and MPI_SUM on
   MPI_COMM_WORLD), in pieces of at most 2^30 values. 0 on success, else MPI's error code. */
int tm_mpi_allreduce_sum_float(float *values, long count);
int tm_mpi_allreduce_sum_double(double *values, long count);

/* MPI_Barrier and MPI_Finalize on MPI_COMM_WORLD. */
int tm_mpi_barrier(void);
int tm_mpi_finalize(void);

#endif
