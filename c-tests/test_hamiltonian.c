/* Hamiltonians from C: the 2D box's nnz and sorted CSR rows, CSR SpMV equal to the matrix-free
 * operator (real, and complex with a magnetic field), Hermiticity and complex symmetry reported
 * and observed, and clear errors for bad descriptions; the physics constants and the model
 * potentials (qdsim_parabolic_potential, qdsim_open_dot_potential) against their formulas. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { NX = 30, NY = 20 };

static double potential[NX * NY];

static void fill_potential(void) {
    for (int j = 0; j < NY; ++j)
        for (int i = 0; i < NX; ++i) potential[i + NX * j] = 1e-4 * ((i - 15) * (i - 15) + (j - 10) * (j - 10));
}

static void box_desc(qdsim_hamiltonian_desc *d) {
    CHECK_OK(qdsim_hamiltonian_desc_default(d));
    const double lengths[2] = {60.0, 40.0};
    const size_t points[2] = {NX, NY};
    CHECK_OK(qdsim_grid_box(2, lengths, points, &d->grid));
    CHECK(d->grid.dims == 2 && d->grid.axes[0].points == NX && fabs(d->grid.axes[1].spacing - 40.0 / 21) < 1e-15);
    d->potential = potential;
}

static double max_abs_diff_real(const double *a, const double *b, size_t n) {
    double m = 0;
    for (size_t k = 0; k < n; ++k) m = fmax(m, fabs(a[k] - b[k]));
    return m;
}

/* All `n` values of `v` still equal `sentinel` (a refused call writes nothing). */
static int untouched(const double *v, size_t n, double sentinel) {
    for (size_t k = 0; k < n; ++k)
        if (v[k] != sentinel) return 0;
    return 1;
}

static void physics_helpers(void) {
    /* The constants are the published values (docs/validation.md). */
    CHECK(QDSIM_HBAR2_OVER_2M0 == 0.0380998212 && QDSIM_MASS_GAAS == 0.067 && QDSIM_MASS_INAS == 0.026);
    CHECK(QDSIM_E_OVER_HBAR == 1.519267447e-3);

    qdsim_hamiltonian_desc d;
    box_desc(&d); /* 60 x 40 nm, 30 x 20 points: spacings 60/31 and 40/21 nm */
    const qdsim_grid *g = &d.grid;
    static double v[NX * NY];
    const double hw = 0.010, mass = QDSIM_MASS_GAAS, hx = 60.0 / 31, hy = 40.0 / 21;
    CHECK_OK(qdsim_parabolic_potential(g, mass, hw, v, NX * NY));
    /* V = (hbar omega)^2 r^2 / (4 hbar^2/2m*), r from the box centre (30, 20) nm. The library
     * takes the centre as (n+1)h/2, this test as L/2: they differ by at most about one ulp of
     * L (3.6e-15 nm here), so at |r| >= 1 nm V differs in relative terms by <= 2 * 3.6e-15 / 1 nm
     * plus a few roundings of the products: 1e-13 bounds it with room, and a wrong centre
     * (half a spacing, ~1 nm), mass or factor 2 fails it by far. */
    const int at[][2] = {{0, 0}, {NX - 1, NY - 1}, {3, 15}, {14, 9}, {29, 0}, {20, 10}};
    for (size_t t = 0; t < sizeof at / sizeof at[0]; ++t) {
        const int i = at[t][0], j = at[t][1];
        const double x = (i + 1) * hx - 30.0, y = (j + 1) * hy - 20.0, r2 = x * x + y * y;
        const double expected = hw * hw * r2 / (4.0 * QDSIM_HBAR2_OVER_2M0 / mass);
        CHECK(r2 >= 1.0);
        CHECK(fabs(v[i + NX * j] - expected) <= 1e-13 * expected);
    }
    for (int p = 0; p < NX * NY; ++p) CHECK(v[p] > 0 && v[p] < 0.054); /* r < 35 nm: V < 5 meV (r/10.7 nm)^2 < 54 meV */

    /* Refusals: status, message, and nothing written. */
    for (int p = 0; p < NX * NY; ++p) v[p] = -1.0;
    CHECK_FAILS(qdsim_parabolic_potential(g, mass, hw, v, NX * NY - 1), QDSIM_ERR_INVALID_ARGUMENT,
                "out_len 599 does not match the grid: out needs 600 values");
    CHECK_FAILS(qdsim_parabolic_potential(g, mass, hw, v, 2 * NX * NY), QDSIM_ERR_INVALID_ARGUMENT,
                "out needs 600 values");
    CHECK_FAILS(qdsim_parabolic_potential(NULL, mass, hw, v, NX * NY), QDSIM_ERR_NULL_ARGUMENT, "grid is NULL");
    CHECK_FAILS(qdsim_parabolic_potential(g, mass, hw, NULL, NX * NY), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_parabolic_potential(g, 0.0, hw, v, NX * NY), QDSIM_ERR_INVALID_ARGUMENT,
                "mass 0 m\u2080 must be finite and positive");
    CHECK_FAILS(qdsim_parabolic_potential(g, -0.067, hw, v, NX * NY), QDSIM_ERR_INVALID_ARGUMENT, "mass -0.067");
    CHECK_FAILS(qdsim_parabolic_potential(g, NAN, hw, v, NX * NY), QDSIM_ERR_INVALID_ARGUMENT, "mass NaN");
    CHECK_FAILS(qdsim_parabolic_potential(g, mass, -hw, v, NX * NY), QDSIM_ERR_INVALID_ARGUMENT,
                "hbar_omega_ev -0.01 eV must be finite and positive");
    CHECK_FAILS(qdsim_parabolic_potential(g, mass, INFINITY, v, NX * NY), QDSIM_ERR_INVALID_ARGUMENT,
                "hbar_omega_ev inf");
    qdsim_grid bad = *g;
    bad.dims = 0;
    CHECK_FAILS(qdsim_parabolic_potential(&bad, mass, hw, v, NX * NY), QDSIM_ERR_INVALID_ARGUMENT,
                "grid.dims 0 must be 1, 2 or 3");
    CHECK(untouched(v, NX * NY, -1.0));

    /* The open dot: 0.3 eV on 8 <= r < 11 nm about the centre, 0 inside and outside. */
    CHECK_OK(qdsim_open_dot_potential(g, 8.0, 3.0, 0.3, v, NX * NY));
    int on_shell = 0;
    for (int j = 0; j < NY; ++j)
        for (int i = 0; i < NX; ++i) {
            const double x = (i + 1) * hx - 30.0, y = (j + 1) * hy - 20.0, r = sqrt(x * x + y * y);
            const double e = v[i + NX * j];
            /* Away from the edges by more than rounding, the value is the formula's. */
            if (fabs(r - 8.0) > 1e-9 && fabs(r - 11.0) > 1e-9) CHECK(e == (r >= 8.0 && r < 11.0 ? 0.3 : 0.0));
            on_shell += e == 0.3;
        }
    CHECK(on_shell > 0);
    for (int p = 0; p < NX * NY; ++p) v[p] = -1.0;
    CHECK_FAILS(qdsim_open_dot_potential(g, 0.0, 3.0, 0.3, v, NX * NY), QDSIM_ERR_INVALID_ARGUMENT,
                "must be finite and positive");
    CHECK_FAILS(qdsim_open_dot_potential(g, 8.0, 3.0, NAN, v, NX * NY), QDSIM_ERR_INVALID_ARGUMENT, "not finite");
    CHECK_FAILS(qdsim_open_dot_potential(g, 8.0, 3.0, 0.3, v, 7), QDSIM_ERR_INVALID_ARGUMENT,
                "out needs 600 values");
    CHECK_FAILS(qdsim_open_dot_potential(NULL, 8.0, 3.0, 0.3, v, NX * NY), QDSIM_ERR_NULL_ARGUMENT, "grid is NULL");
    CHECK(untouched(v, NX * NY, -1.0));
}

int main(void) {
    fill_potential();
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    qdsim_hamiltonian_desc d;
    box_desc(&d);

    /* Real: CSR vs operator. */
    qdsim_csr *h = NULL;
    qdsim_operator *op = NULL;
    CHECK_OK(qdsim_hamiltonian_csr(m, &d, QDSIM_SCALAR_AUTO, "h", &h));
    CHECK_OK(qdsim_hamiltonian_operator(m, &d, QDSIM_SCALAR_AUTO, "op", &op));
    qdsim_csr_info ci;
    CHECK_OK(qdsim_csr_get_info(h, &ci));
    CHECK(ci.rows == NX * NY && ci.nnz == 5 * NX * NY - 2 * NX - 2 * NY && ci.scalar == QDSIM_SCALAR_REAL);
    const int32_t *rp, *col;
    const double *val;
    CHECK_OK(qdsim_csr_arrays(h, (const void **)&rp, (const void **)&col, (const void **)&val));
    for (size_t r = 0; r < ci.rows; ++r)
        for (int32_t k = rp[r] + 1; k < rp[r + 1]; ++k) CHECK(col[k - 1] < col[k]);
    qdsim_operator_info oi;
    CHECK_OK(qdsim_operator_get_info(op, &oi));
    CHECK(oi.dim == NX * NY && oi.scalar == QDSIM_SCALAR_REAL && oi.hermitian == 1);
    CHECK(oi.bytes == NX * NY * sizeof(double) && oi.bytes < ci.bytes / 5);

    static double x[NX * NY], y1[NX * NY], y2[NX * NY];
    for (int p = 0; p < NX * NY; ++p) x[p] = sin(0.37 * p);
    CHECK_OK(qdsim_csr_spmv(h, 1.0, x, 0.0, y1));
    CHECK_OK(qdsim_operator_apply(op, 1.0, x, 0.0, y2));
    /* Same products in another order: agreement to a few ulps of |H|·|x| ≈ 0.1 eV. */
    CHECK(max_abs_diff_real(y1, y2, NX * NY) < 1e-13);

    /* Complex: magnetic field. Hermitian: <x, Hx> is real for any x. */
    d.magnetic_field = 2.0;
    qdsim_csr *hb = NULL;
    qdsim_operator *ob = NULL;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &d, QDSIM_SCALAR_REAL, "hb", &hb), QDSIM_ERR_INVALID_ARGUMENT,
                "cannot be built with real scalars");
    CHECK_OK(qdsim_hamiltonian_csr(m, &d, QDSIM_SCALAR_AUTO, "hb", &hb));
    CHECK_OK(qdsim_hamiltonian_operator(m, &d, QDSIM_SCALAR_AUTO, "ob", &ob));
    CHECK_OK(qdsim_operator_get_info(ob, &oi));
    CHECK(oi.scalar == QDSIM_SCALAR_COMPLEX && oi.hermitian == 1);
    static qdsim_complex zx[NX * NY], zy1[NX * NY], zy2[NX * NY];
    for (int p = 0; p < NX * NY; ++p) zx[p] = (qdsim_complex){cos(0.11 * p), sin(0.23 * p)};
    const qdsim_complex one = {1, 0}, zero = {0, 0};
    CHECK_OK(qdsim_csr_spmv_complex(hb, one, zx, zero, zy1));
    CHECK_OK(qdsim_operator_apply_complex(ob, one, zx, zero, zy2));
    double diff = 0, im_expect = 0;
    for (int p = 0; p < NX * NY; ++p) {
        diff = fmax(diff, fabs(zy1[p].re - zy2[p].re) + fabs(zy1[p].im - zy2[p].im));
        im_expect += zx[p].re * zy1[p].im - zx[p].im * zy1[p].re; /* Im <x, Hx> */
    }
    CHECK(diff < 1e-13);
    CHECK(fabs(im_expect) < 1e-12);

    /* Absorber: not Hermitian; the operator reports it; CSR equals operator. */
    d.magnetic_field = 0.0;
    d.absorber = (qdsim_absorber){QDSIM_FACE_X_MIN | QDSIM_FACE_X_MAX, 2, 8.0, 0.05};
    qdsim_operator *oc = NULL;
    CHECK_OK(qdsim_hamiltonian_operator(m, &d, QDSIM_SCALAR_AUTO, "oc", &oc));
    CHECK_OK(qdsim_operator_get_info(oc, &oi));
    CHECK(oi.scalar == QDSIM_SCALAR_COMPLEX && oi.hermitian == 0);
    qdsim_csr *hc = NULL;
    CHECK_OK(qdsim_operator_to_csr(oc, "hc", &hc));
    CHECK_OK(qdsim_csr_spmv_complex(hc, one, zx, zero, zy1));
    CHECK_OK(qdsim_operator_apply_complex(oc, one, zx, zero, zy2));
    for (int p = 0; p < NX * NY; ++p) CHECK(fabs(zy1[p].re - zy2[p].re) + fabs(zy1[p].im - zy2[p].im) < 1e-13);
    CHECK_FAILS(qdsim_operator_apply(oc, 1.0, x, 0.0, y1), QDSIM_ERR_INVALID_ARGUMENT, "operator is complex");
    d.absorber.faces = 0;

    /* Bad descriptions: status, message, and nothing written. */
    qdsim_csr *never = (qdsim_csr *)0x5e5e;
    qdsim_hamiltonian_desc bad = d;
    bad.grid.dims = 0;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "grid.dims 0 must be 1, 2 or 3");
    bad = d;
    bad.grid.axes[1].points = 0;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "axis y has 0 points");
    bad = d;
    bad.grid.axes[0].points = SIZE_MAX / 4;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "overflows");
    bad = d;
    bad.potential = NULL;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_NULL_ARGUMENT,
                "desc.potential is NULL");
    bad = d;
    bad.mass = -0.067;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "effective mass -0.067 must be finite and positive");
    static double masses[NX * NY];
    for (int p = 0; p < NX * NY; ++p) masses[p] = 0.067;
    masses[17] = 0.0;
    bad = d;
    bad.mass_field = masses;
    CHECK_FAILS(qdsim_hamiltonian_operator(m, &bad, QDSIM_SCALAR_AUTO, "x", (qdsim_operator **)&never),
                QDSIM_ERR_INVALID_ARGUMENT, "mass[17] = 0 must be finite and positive");
    bad = d;
    bad.grid.axes[0].spacing = INFINITY;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "axis x has spacing inf nm");
    bad = d;
    bad.grid.axes[0].boundary = 5;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "grid.axes[0].boundary 5");
    potential[33] = NAN;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &d, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "potential[33] = NaN must be finite");
    fill_potential();
    bad = d;
    bad.magnetic_field = 1.0;
    bad.grid.axes[0].boundary = QDSIM_BOUNDARY_PERIODIC;
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "needs Dirichlet boundaries");
    bad = d;
    bad.absorber = (qdsim_absorber){QDSIM_FACE_Z_MAX, 2, 5.0, 0.1};
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &bad, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_INVALID_ARGUMENT,
                "absorber faces 0x20");
    CHECK_FAILS(qdsim_hamiltonian_csr(m, NULL, QDSIM_SCALAR_AUTO, "x", &never), QDSIM_ERR_NULL_ARGUMENT,
                "desc is NULL");
    CHECK_FAILS(qdsim_hamiltonian_csr(m, &d, 9, "x", &never), QDSIM_ERR_INVALID_ARGUMENT, "scalar 9");
    const double l1[1] = {10.0};
    const size_t p1[1] = {0};
    qdsim_grid g;
    CHECK_FAILS(qdsim_grid_box(1, l1, p1, &g), QDSIM_ERR_INVALID_ARGUMENT, "axis x has 0 points");
    CHECK_FAILS(qdsim_grid_box(4, l1, p1, &g), QDSIM_ERR_INVALID_ARGUMENT, "dims 4");
    CHECK(never == (qdsim_csr *)0x5e5e);
    CHECK_FAILS(qdsim_operator_apply(NULL, 1.0, x, 0.0, y1), QDSIM_ERR_NULL_ARGUMENT, "op is NULL");
    CHECK_FAILS(qdsim_operator_apply(op, 1.0, x, 0.0, x), QDSIM_ERR_INVALID_ARGUMENT, "overlap");

    CHECK_OK(qdsim_csr_destroy(h));
    CHECK_OK(qdsim_csr_destroy(hb));
    CHECK_OK(qdsim_csr_destroy(hc));
    CHECK_OK(qdsim_operator_destroy(op));
    CHECK_OK(qdsim_operator_destroy(ob));
    CHECK_OK(qdsim_operator_destroy(oc));
    CHECK_OK(qdsim_operator_destroy(NULL));
    qdsim_stats s;
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.live_allocations == 0);
    CHECK_OK(qdsim_manager_destroy(m));
    physics_helpers();
    printf("test_hamiltonian: ok\n");
    return 0;
}
