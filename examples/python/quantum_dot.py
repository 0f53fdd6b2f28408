#!/usr/bin/env python3
"""The quantum-dot example from Python: a 2D GaAs parabolic dot (ħω = 10 meV) in a 120 nm
hard-wall box, its lowest states by the multigrid block eigensolver, printed against the exact
oscillator levels ħω(N + 1) (N + 1-fold degenerate), with residuals, time, the manager's
memory, and a PNG of the lowest |ψ|² when matplotlib is installed.

    python examples/python/quantum_dot.py                 # 1000 × 1000 grid, 10 states
    python examples/python/quantum_dot.py --n 300 --k 6 --png dot.png

The same solve as `cargo run --release --example quantum_dot` (same grid, potential,
tolerance and solver), so the two can be compared in time and memory.
"""

import argparse
import resource
import sys
import time

import numpy as np

import qdsim_mem as qd


def exact_levels(hw, k):
    """ħω(N + 1), N + 1 times each, the lowest k."""
    levels = []
    shell = 0
    while len(levels) < k:
        levels += [hw * (shell + 1)] * (shell + 1)
        shell += 1
    return np.array(levels[:k])


def plot(result, grid, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no picture written to {path}")
        return
    shown = min(len(result), 6)
    x, y = grid.coordinates(0), grid.coordinates(1)
    fig, axes = plt.subplots(1, shown, figsize=(3 * shown, 3.2), squeeze=False)
    for j, ax in enumerate(axes[0]):
        density = np.abs(result.state(j)) ** 2  # a view of the result, shaped like the grid
        ax.imshow(density.T, origin="lower", extent=(x[0], x[-1], y[0], y[-1]), cmap="magma")
        ax.set_title(f"E{j} = {result.values[j] * 1e3:.3f} meV", fontsize=9)
        ax.set_xlabel("x (nm)")
        ax.set_ylabel("y (nm)" if j == 0 else "")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"|ψ|² of the lowest {shown} states written to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="points per axis")
    parser.add_argument("--k", type=int, default=10, help="states")
    parser.add_argument("--box", type=float, default=120.0, help="box length, nm")
    parser.add_argument("--hw-mev", type=float, default=10.0, help="ħω, meV")
    parser.add_argument("--tol", type=float, default=1e-6, help="relative residual")
    parser.add_argument("--method", default="auto", choices=["auto", "lobpcg", "shift-invert"])
    parser.add_argument("--png", default="quantum_dot.png", help="picture of the states")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args()

    hw = args.hw_mev * 1e-3
    mgr = qd.Manager()
    grid = qd.Grid([args.box, args.box], [args.n, args.n])
    # The potential written straight into the manager's pool, Fortran order (x fastest): the
    # Hamiltonian uses it without a copy.
    potential = mgr.empty(grid.shape, tag="potential", order="F")
    qd.parabolic_potential(grid, hw, out=potential)
    h = qd.Hamiltonian(grid, potential=potential, mass=qd.GAAS_MASS)
    print(
        f"2D GaAs parabolic dot: ħω = {args.hw_mev} meV, {args.box} nm box, {args.n} × {args.n} "
        f"grid ({args.n * args.n} unknowns), lowest {args.k} states"
    )
    start = time.perf_counter()
    result = qd.solve_lowest(
        h, args.k, tol=args.tol, method=args.method, manager=mgr, progress=not args.no_progress
    )
    seconds = time.perf_counter() - start
    print(f"{'n':>4} {'E (meV)':>14} {'exact (meV)':>12} {'error (meV)':>12} {'residual':>12}")
    for i, (e, x, r) in enumerate(zip(result.values, exact_levels(hw, args.k), result.residuals)):
        print(f"{i:>4} {e * 1e3:>14.6f} {x * 1e3:>12.3f} {(e - x) * 1e3:>12.2e} {r:>12.2e}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"{result.method}, {result.levels} grid levels, {result.iterations} iterations, "
        f"{result.applications} operator applications"
    )
    print(
        f"time {seconds:.2f} s (solver {result.seconds:.2f} s); manager peak during the solve "
        f"{result.peak_pool_bytes / 2**20:.1f} MiB; process peak RSS {rss:.1f} MiB"
    )
    print()
    print(mgr.report())
    if args.png:
        plot(result, grid, args.png)
    # Sanity of the levels against the oscillator: 1 % (the grid's discretisation error is far
    # below at the default spacing; coarse grids from --n pay more).
    exact = exact_levels(hw, args.k)
    if np.max(np.abs(result.values - exact) / exact) > 0.01:
        print("levels are more than 1 % from ħω(N + 1): refine the grid", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
