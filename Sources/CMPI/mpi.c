#include "tm_mpi.h"
#include <dlfcn.h>
#include <stddef.h>

typedef int (*init_fn)(int *, char ***);
typedef int (*comm_int_fn)(void *, int *);
typedef int (*allreduce_fn)(const void *, void *, int, void *, void *, void *);
typedef int (*comm_fn)(void *);
typedef int (*void_fn)(void);

static void *comm_world, *mpi_float, *mpi_double, *op_sum;
static allreduce_fn allreduce;
static comm_fn barrier;
static void_fn finalize;
static int ready;

const char *tm_mpi_init(int *rank, int *size) {
    if (!ready) {
        /* RTLD_GLOBAL: Open MPI's components (dlopened by libmpi) resolve symbols of libmpi. */
        void *lib = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
        if (!lib) lib = dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL);
        if (!lib) return "cannot load Open MPI's libmpi.so.40 (Debian: apt-get install openmpi-bin libopenmpi-dev)";
        init_fn init = (init_fn)dlsym(lib, "MPI_Init");
        comm_int_fn comm_rank = (comm_int_fn)dlsym(lib, "MPI_Comm_rank");
        comm_int_fn comm_size = (comm_int_fn)dlsym(lib, "MPI_Comm_size");
        allreduce = (allreduce_fn)dlsym(lib, "MPI_Allreduce");
        barrier = (comm_fn)dlsym(lib, "MPI_Barrier");
        finalize = (void_fn)dlsym(lib, "MPI_Finalize");
        comm_world = dlsym(lib, "ompi_mpi_comm_world");
        mpi_float = dlsym(lib, "ompi_mpi_float");
        mpi_double = dlsym(lib, "ompi_mpi_double");
        op_sum = dlsym(lib, "ompi_mpi_op_sum");
        if (!init || !comm_rank || !comm_size || !allreduce || !barrier || !finalize || !comm_world || !mpi_float ||
            !mpi_double || !op_sum)
            return "libmpi.so.40 lacks Open MPI's symbols (another MPI?)";
        if (init(NULL, NULL) != 0) return "MPI_Init failed";
        ready = 1;
        if (comm_rank(comm_world, rank) != 0 || comm_size(comm_world, size) != 0) return "MPI_Comm_rank or MPI_Comm_size failed";
        return NULL;
    }
    return NULL;
}

static int sum(void *values, long count, void *type, size_t width) {
    if (!ready) return -1;
    const long piece = 1L << 30;
    for (long at = 0; at < count; at += piece) {
        long n = count - at < piece ? count - at : piece;
        int rc = allreduce((void *)1, (char *)values + at * width, (int)n, type, op_sum, comm_world);
        if (rc != 0) return rc;
    }
    return 0;
}

int tm_mpi_allreduce_sum_float(float *values, long count) { return sum(values, count, mpi_float, sizeof(float)); }
int tm_mpi_allreduce_sum_double(double *values, long count) { return sum(values, count, mpi_double, sizeof(double)); }
int tm_mpi_barrier(void) { return ready ? barrier(comm_world) : -1; }
int tm_mpi_finalize(void) { return ready ? finalize() : -1; }
