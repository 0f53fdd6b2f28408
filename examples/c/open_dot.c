/* The open-dot example from C (twin of examples/open_dot.rs): a 2D GaAs disc well (20 nm radius)
 * inside a thin ring barrier (4 nm, 150 meV), open to the outside, in a 240 nm box whose faces
 * absorb (a quadratic complex potential of 0.05 eV over the outer 60 nm). Its states tunnel out
 * through the ring: they are resonances E - iΓ/2, found by qdsim_solve_resonances (matrix-free
 * and coarse-to-fine on large grids, one sparse LU on small ones). Prints E and Γ in meV with
 * each state's weight inside the ring (near 1 for a state confined by the ring, small for the
 * continuum states of the box).
 *
 *   ./open_dot [--n points-per-axis (120)] [--k states (4)] [--target-mev meV (15)]
 *
 * Build (after `cargo build --release`):
 *   cc -std=c11 -Iinclude examples/c/open_dot.c -Ltarget/release -lqdsim_mem -lm \
 *      -Wl,-rpath,$PWD/target/release -o open_dot && ./open_dot
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdsim_mem.h"

#define TRY(call)                                                                             \
    do {                                                                                      \
        qdsim_status s_ = (call);                                                             \
        if (s_ != QDSIM_OK) {                                                                 \
            fprintf(stderr, "\n%s failed: %s: %s\n", #call, qdsim_status_string(s_),          \
                    qdsim_last_error_message());                                              \
            return 1;                                                                         \
        }                                                                                     \
    } while (0)

/* The geometry (nm, eV): box, well radius, barrier thickness and height, absorber. */
static const double BOX = 240.0, RADIUS = 20.0, BARRIER = 4.0, HEIGHT = 0.150;
static const double ABSORBER_WIDTH = 60.0, ABSORBER_STRENGTH = 0.05;
static const int32_t ABSORBER_ORDER = 2;
static const double GAAS_MASS = 0.067;

typedef struct {
    size_t n, k;
    double target; /* eV */
} args;

/* Reads --n, --k and --target-mev; 0 on success, 2 (after a message) on a bad argument. */
static int parse_args(int argc, char **argv, args *a) {
    a->n = 120;
    a->k = 4;
    a->target = 0.015;
    for (int i = 1; i < argc; ++i) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (value && strcmp(argv[i], "--n") == 0) a->n = (size_t)strtoul(value, &end, 10);
        else if (value && strcmp(argv[i], "--k") == 0) a->k = (size_t)strtoul(value, &end, 10);
        else if (value && strcmp(argv[i], "--target-mev") == 0) a->target = strtod(value, &end) * 1e-3;
        else {
            fprintf(stderr, "usage: %s [--n points-per-axis] [--k states] [--target-mev meV]\n", argv[0]);
            return 2;
        }
        if (end == value || *end != '\0') {
            fprintf(stderr, "%s: not a number: %s\n", argv[i], value);
            return 2;
        }
        ++i;
    }
    return 0;
}

/* Distance of point i from the centre along a hard-wall axis of `n` points spaced `h`, computed
 * as half the distance between the point and its mirror image: the same rounding as the
 * library's open_dot_potential, so the ring keeps the box's symmetry (and its degenerate pairs)
 * to the last bit. */
static double centred(size_t i, size_t n, double h) {
    return 0.5 * ((double)(i + 1) * h - (double)(n - i) * h);
}

/* The open dot's potential on the n x n grid of spacing h: HEIGHT on the ring
 * RADIUS <= r < RADIUS + BARRIER, 0 inside and outside it (physics::open_dot_potential). */
static void fill_potential(double *v, size_t n, double h) {
    const double inner = RADIUS * RADIUS, outer = (RADIUS + BARRIER) * (RADIUS + BARRIER);
    for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i < n; ++i) {
            const double x = centred(i, n, h), y = centred(j, n, h), r2 = x * x + y * y;
            v[i + n * j] = r2 >= inner && r2 < outer ? HEIGHT : 0.0;
        }
}

/* The fraction of |ψ|² inside the ring's outer radius. */
static double weight_inside(const qdsim_complex *psi, size_t n, double h) {
    const double outer = (RADIUS + BARRIER) * (RADIUS + BARRIER);
    double inside = 0.0, total = 0.0;
    for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i < n; ++i) {
            const qdsim_complex z = psi[i + n * j];
            const double p = z.re * z.re + z.im * z.im, x = centred(i, n, h), y = centred(j, n, h);
            total += p;
            if (x * x + y * y < outer) inside += p;
        }
    return inside / total;
}

static int32_t show_progress(void *user, const qdsim_progress *p) {
    (void)user;
    fprintf(stderr, "\r  level %zu/%zu  iteration %3zu  %zu/%zu converged  residual %.1e   ",
            p->levels - p->level, p->levels, p->iteration, p->converged, p->wanted, p->max_residual);
    return 0; /* non-zero would cancel the solve */
}

/* Prints E, Γ, the weight in the dot and the residual of every state, then how the solve went. */
static int print_resonances(const qdsim_eigen_result *r, size_t n, double h) {
    qdsim_eigen_info info;
    TRY(qdsim_eigen_result_info(r, &info));
    qdsim_complex *e = malloc(info.count * sizeof *e);
    double *res = malloc(info.count * sizeof *res);
    const void *data = NULL;
    size_t ld = 0;
    if (!e || !res) {
        fprintf(stderr, "out of memory\n");
        free(e);
        free(res);
        return 1;
    }
    TRY(qdsim_eigen_result_complex_values(r, e));
    TRY(qdsim_eigen_result_residuals(r, res));
    TRY(qdsim_eigen_result_vectors(r, &data, &ld));
    /* Resonance eigenvectors are complex: column j starts at element j·ld. */
    const qdsim_complex *vectors = data;
    printf("%3s %12s %12s %10s %10s %10s\n", "", "E (meV)", "Γ (meV)", "in dot", "residual", "converged");
    for (size_t j = 0; j < info.count; ++j)
        printf("%3zu %12.6f %12.6f %10.3f %10.1e %10s\n", j, e[j].re * 1e3, -2.0 * e[j].im * 1e3,
               weight_inside(vectors + j * ld, n, h), res[j], j < info.converged ? "yes" : "no");
    printf("%s in %.2f s: %zu iterations over %d grid levels, %llu operator applications; manager peak %.1f MiB\n",
           info.levels > 1 ? "coarse-to-fine block Davidson" : "sparse-LU shift-invert", info.seconds,
           info.iterations, info.levels, (unsigned long long)info.applications,
           (double)info.peak_pool_bytes / 1048576.0);
    free(e);
    free(res);
    return 0;
}

int main(int argc, char **argv) {
    args a;
    const int bad = parse_args(argc, argv, &a);
    if (bad) return bad;
    const size_t n = a.n;
    if (qdsim_abi_version() != QDSIM_MEM_ABI_VERSION) return 1;

    qdsim_manager *m = NULL;
    TRY(qdsim_manager_create(NULL, &m));
    qdsim_hamiltonian_desc d;
    TRY(qdsim_hamiltonian_desc_default(&d));
    const double lengths[2] = {BOX, BOX};
    const size_t points[2] = {n, n};
    TRY(qdsim_grid_box(2, lengths, points, &d.grid));
    d.mass = GAAS_MASS;
    const double h = d.grid.axes[0].spacing;
    double *v = NULL; /* the potential, from the manager's pool */
    TRY(qdsim_manager_alloc_f64(m, n * n, "potential", &v));
    fill_potential(v, n, h);
    d.potential = v;
    d.absorber.faces = QDSIM_FACE_X_MIN | QDSIM_FACE_X_MAX | QDSIM_FACE_Y_MIN | QDSIM_FACE_Y_MAX;
    d.absorber.width = ABSORBER_WIDTH;
    d.absorber.strength = ABSORBER_STRENGTH;
    d.absorber.order = ABSORBER_ORDER;

    qdsim_eigen_options opt;
    TRY(qdsim_eigen_options_default(&opt));
    opt.k = a.k;
    opt.progress = show_progress;
    printf("2D GaAs open dot: %g nm well, %g nm x %g meV barrier, %g nm box with a %g nm absorber; "
           "%zu x %zu grid; %zu resonances nearest %g meV\n",
           RADIUS, BARRIER, HEIGHT * 1e3, BOX, ABSORBER_WIDTH, n, n, a.k, a.target * 1e3);
    qdsim_eigen_result *r = NULL;
    const qdsim_status st = qdsim_solve_resonances(m, &d, (qdsim_complex){a.target, 0.0}, &opt, &r);
    fprintf(stderr, "\n");
    /* NOT_CONVERGED still writes the partial result: print it, then fail. */
    if (st != QDSIM_OK && st != QDSIM_ERR_NOT_CONVERGED) TRY(st);
    if (st == QDSIM_ERR_NOT_CONVERGED)
        fprintf(stderr, "not every resonance converged: %s\n", qdsim_last_error_message());
    if (print_resonances(r, n, h)) return 1;

    TRY(qdsim_eigen_result_destroy(r));
    TRY(qdsim_manager_free(m, v));
    TRY(qdsim_manager_destroy(m));
    return st == QDSIM_OK ? 0 : 1;
}
