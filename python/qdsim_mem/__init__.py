"""qdsim_mem: memory management and eigensolvers for quantum-dot simulations.

numpy arrays in 64-byte-aligned pools with exact statistics (``Manager``), finite-difference
Hamiltonians on 1D/2D/3D grids (``Grid``, ``Hamiltonian``, ``Absorber``), the lowest states of
closed dots (``solve_lowest``) and resonances of open ones (``solve_resonances``), and a
sampling memory profiler. The Rust library underneath is the one the C, C++ and Fortran APIs
use; this package is a thin layer over it (``qdsim_mem._qdsim_mem``).

Units: energies in eV, lengths in nm, masses in units of the free electron mass, fields in
tesla. Arrays on a grid are indexed ``[i, j, k]`` with x first (x fastest in memory: numpy's
Fortran order).

>>> import numpy as np, qdsim_mem as qd
>>> mgr = qd.Manager()
>>> psi = mgr.zeros((100, 100), dtype=np.complex128, tag="psi")
>>> mgr.stats()["bytes_in_use"] >= psi.nbytes
True
"""

from __future__ import annotations

import sys as _sys

from ._qdsim_mem import (
    GAAS_MASS,
    HBAR2_OVER_2M0,
    INAS_MASS,
    TRACEMALLOC_DOMAIN,
    Absorber,
    Block,
    Cancelled,
    CorruptFile,
    CsrBlocks,
    Grid,
    Hamiltonian,
    InternalError,
    InvalidArgument,
    IoError,
    LimitExceeded,
    LowestStates,
    Manager,
    MemoryCorrupted,
    NoDevice,
    NotConverged,
    NotFound,
    NotOwned,
    OutOfMemory,
    Profiler,
    Progress,
    QdsimError,
    Resonances,
    Scope,
    __version__,
    set_solver_threads,
    solver_threads,
)
from . import _qdsim_mem

__all__ = [
    "GAAS_MASS",
    "HBAR2_OVER_2M0",
    "INAS_MASS",
    "TRACEMALLOC_DOMAIN",
    "Absorber",
    "Block",
    "Cancelled",
    "CorruptFile",
    "CsrBlocks",
    "Grid",
    "Hamiltonian",
    "InternalError",
    "InvalidArgument",
    "IoError",
    "LimitExceeded",
    "LowestStates",
    "Manager",
    "MemoryCorrupted",
    "NoDevice",
    "NotConverged",
    "NotFound",
    "NotOwned",
    "OutOfMemory",
    "Profiler",
    "Progress",
    "QdsimError",
    "Resonances",
    "Scope",
    "__version__",
    "default_manager",
    "parabolic_potential",
    "set_solver_threads",
    "solve_lowest",
    "solve_resonances",
    "solver_threads",
    "to_scipy",
]

_default_manager: Manager | None = None


def default_manager() -> Manager:
    """The manager the solvers use when none is given (created on first use, no limit)."""
    global _default_manager
    if _default_manager is None:
        _default_manager = Manager()
    return _default_manager


def _progress_callback(progress):
    """The callable a solve reports to: ``progress`` itself when callable; for ``True`` a
    tqdm bar of converged pairs when tqdm is installed, else a line on stderr; None for
    ``None``/``False``. Returns ``(callback, close)``."""
    if progress is None or progress is False:
        return None, lambda: None
    if callable(progress):
        return progress, lambda: None
    if progress is not True:
        raise TypeError(f"progress must be a callable, True, False or None, not {progress!r}")
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = None

        def report(p):
            nonlocal bar
            if bar is None:
                bar = tqdm(total=p.wanted, unit="pair", desc="solve", leave=False)
            bar.n = p.converged
            bar.set_postfix_str(
                f"level {p.levels - p.level}/{p.levels} it {p.iteration} res {p.max_residual:.1e}",
                refresh=False,
            )
            bar.refresh()
            return False

        def close():
            if bar is not None:
                bar.close()

        return report, close

    def line(p):
        _sys.stderr.write(
            f"\r  level {p.levels - p.level}/{p.levels}  iteration {p.iteration:>4}  "
            f"{p.converged}/{p.wanted} converged  residual {p.max_residual:.1e}   "
        )
        _sys.stderr.flush()
        return False

    return line, lambda: _sys.stderr.write("\n")


def solve_lowest(
    hamiltonian: Hamiltonian,
    k: int = 10,
    *,
    tol: float = 1e-6,
    method: str = "auto",
    max_iterations: int = 500,
    memory_budget: int | None = None,
    progress=None,
    manager: Manager | None = None,
) -> LowestStates:
    """The lowest ``k`` states of the closed system (the absorber is ignored).

    Multigrid-preconditioned block LOBPCG started coarse-to-fine (``method="auto"`` or
    ``"lobpcg"``), or shift-invert on the assembled matrix (``"shift-invert"``); every byte the
    solve holds comes from ``manager`` (the default manager when None) and counts against its
    limit. ``tol`` is the relative residual ‖Hx − Ex‖/‖x‖. ``progress``: a callable given a
    ``Progress`` after each iteration (return True to cancel), or True for a progress bar.

    The GIL is released during the solve. Raises ``NotConverged`` (its ``result`` holds the
    partial result, converged pairs first), ``LimitExceeded`` up front when the solve cannot fit,
    ``Cancelled`` when the callback cancels, and ``KeyboardInterrupt`` on Ctrl-C (the solve
    stops and gives back all it held).
    """
    callback, close = _progress_callback(progress)
    try:
        return _qdsim_mem.solve_lowest(
            manager if manager is not None else default_manager(),
            hamiltonian,
            k,
            tol=tol,
            method=method,
            max_iterations=max_iterations,
            memory_budget=memory_budget,
            progress=callback,
        )
    finally:
        close()


def solve_resonances(
    hamiltonian: Hamiltonian,
    target: complex,
    k: int = 4,
    *,
    tol: float = 1e-8,
    method: str = "auto",
    max_iterations: int = 500,
    memory_budget: int | None = None,
    progress=None,
    manager: Manager | None = None,
) -> Resonances:
    """The ``k`` resonances E − iΓ/2 (eV) nearest ``target`` (eV) of an open system (a
    Hamiltonian with an ``Absorber``): matrix-free coarse-to-fine block Davidson
    (``method="auto"``) or shift-invert on the assembled matrix (``"shift-invert"``).
    Converged pairs first, each group nearest the target first; every member of a degenerate
    pair. With a ``memory_budget`` (bytes) below the in-core estimate the search space goes to
    an unlinked scratch file (``result.scratch_bytes``); below even that need, ``LimitExceeded``
    up front. Same ``progress``, errors and GIL release as :func:`solve_lowest`.
    """
    callback, close = _progress_callback(progress)
    try:
        return _qdsim_mem.solve_resonances(
            manager if manager is not None else default_manager(),
            hamiltonian,
            complex(target),
            k,
            tol=tol,
            method=method,
            max_iterations=max_iterations,
            memory_budget=memory_budget,
            progress=callback,
        )
    finally:
        close()


def to_scipy(hamiltonian: Hamiltonian, manager: Manager | None = None):
    """The Hamiltonian's matrix as a ``scipy.sparse.csr_array`` whose arrays are pool blocks of
    ``manager`` (tag ``hamiltonian.csr``; the default manager when None), no copy."""
    return hamiltonian.to_scipy(manager if manager is not None else default_manager())


def parabolic_potential(grid: Grid, hbar_omega: float, mass: float = GAAS_MASS, center=None, out=None):
    """V(r) = ½ m* ω² |r − center|² in eV on ``grid`` for the oscillator energy ``hbar_omega``
    (eV): (ħω)² |r − c|² / (4 ħ²/2m*), shaped like the grid (x first). ``center`` defaults to
    the middle of the box. ``out``: a float64 array of the grid's shape to write into (e.g.
    ``mgr.empty(grid.shape, order="F", tag="potential")``), with no grid-sized temporary."""
    import numpy as np

    axes = [grid.coordinates(a) for a in range(grid.dims)]
    if center is None:
        center = [0.5 * (x[0] + x[-1]) for x in axes]
    shape = tuple(len(x) for x in axes)
    if out is None:
        out = np.empty(shape, order="F")
    elif out.shape != shape:
        raise InvalidArgument(f"out has shape {out.shape}; the grid needs {shape}")
    out[...] = 0.0
    for a, (x, c) in enumerate(zip(axes, center)):
        # (x − c)² along axis a, broadcast over the others, added in place.
        out += ((x - c) ** 2).reshape([-1 if b == a else 1 for b in range(len(axes))])
    out *= hbar_omega**2 / (4.0 * HBAR2_OVER_2M0 / mass)
    return out
