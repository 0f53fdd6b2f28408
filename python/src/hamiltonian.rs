//! `qdsim_mem.Grid`, `qdsim_mem.Absorber` and `qdsim_mem.Hamiltonian`: the description of an
//! effective-mass Hamiltonian (the same one the C API's `qdsim_hamiltonian_desc` carries), and
//! its CSR matrix as a `scipy.sparse.csr_array` over pool memory.
//!
//! Arrays on the grid (potential, per-point mass, eigenvectors) are indexed `[i, j, k]` with x
//! first, stored x-fastest: numpy's Fortran order. Arrays in C order are converted once, when
//! the Hamiltonian is made.

use crate::arrays::{matrix_view, numpy_module, reshape_fortran};
use crate::errors::{IntoPyResult, InvalidArgument};
use crate::manager::Manager;
use num_complex::Complex64;
use numpy::{Element, PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use qdsim_mem::matrix::{CsrIndices, CsrMatrix, Scalar};
use qdsim_mem::physics::{self, Axis, HamiltonianSpec, Mass, StencilOperator};

/// A grid of 1 to 3 axes: `Grid(lengths, points, periodic=None)` — `lengths` in nm,
/// `points` interior points per axis (hard walls: spacing length/(points + 1)); `periodic` a
/// bool per axis (spacing length/points).
#[pyclass(module = "qdsim_mem", frozen)]
#[derive(Clone)]
pub struct Grid {
    pub(crate) inner: physics::Grid,
}

#[pymethods]
impl Grid {
    #[new]
    #[pyo3(signature = (lengths, points, periodic=None))]
    fn new(lengths: Vec<f64>, points: Vec<usize>, periodic: Option<Vec<bool>>) -> PyResult<Self> {
        if lengths.len() != points.len() {
            return Err(InvalidArgument::new_err(format!(
                "{} lengths for {} point counts",
                lengths.len(),
                points.len()
            )));
        }
        let periodic = periodic.unwrap_or_else(|| vec![false; lengths.len()]);
        if periodic.len() != lengths.len() {
            return Err(InvalidArgument::new_err(format!(
                "{} periodic flags for {} axes",
                periodic.len(),
                lengths.len()
            )));
        }
        let axes: Vec<Axis> = lengths
            .iter()
            .zip(&points)
            .zip(&periodic)
            .map(|((&l, &n), &p)| {
                if p {
                    Axis::periodic(l, n)
                } else {
                    Axis::dirichlet_box(l, n)
                }
            })
            .collect();
        Ok(Self {
            inner: physics::Grid::new(&axes).py()?,
        })
    }

    /// Number of axes.
    #[getter]
    fn dims(&self) -> usize {
        self.inner.dims()
    }

    /// Points per axis, x first.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.points())
    }

    /// Distance between neighbouring points per axis, nm.
    #[getter]
    fn spacing(&self) -> Vec<f64> {
        self.inner.axes().iter().map(|a| a.spacing).collect()
    }

    /// The coordinates (nm, from the lower wall) of the points along `axis` (0 = x).
    fn coordinates<'py>(
        &self,
        py: Python<'py>,
        axis: usize,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let a = self.inner.axes().get(axis).ok_or_else(|| {
            InvalidArgument::new_err(format!("axis {axis} of a {}D grid", self.inner.dims()))
        })?;
        Ok(PyArray1::from_iter(
            py,
            (0..a.points).map(|i| a.coordinate(i)),
        ))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        let points: Vec<String> = self.points().iter().map(|p| p.to_string()).collect();
        let lengths: Vec<String> = self
            .inner
            .axes()
            .iter()
            .map(|a| format!("{}", a.extent()))
            .collect();
        format!(
            "<qdsim_mem.Grid {} points, {} nm>",
            points.join("×"),
            lengths.join(" × ")
        )
    }
}

impl Grid {
    pub(crate) fn points(&self) -> Vec<usize> {
        self.inner.axes().iter().map(|a| a.points).collect()
    }
}

const FACE_NAMES: [&str; 6] = ["x-", "x+", "y-", "y+", "z-", "z+"];

/// A complex absorbing potential −iη·W(r) on some faces of the box: a polynomial ramp from 0 at
/// `width` nm inside a face to `strength` eV at its wall. `Absorber(width, strength, order=2,
/// faces=None)`: `faces` a list of "x-", "x+", "y-", "y+", "z-", "z+" (None: every face of the
/// grid).
#[pyclass(module = "qdsim_mem", frozen)]
#[derive(Clone)]
pub struct Absorber {
    width: f64,
    strength: f64,
    order: u32,
    /// Bit mask of `FACE_NAMES`; 0 for every face of the grid.
    faces: u32,
}

#[pymethods]
impl Absorber {
    #[new]
    #[pyo3(signature = (width, strength, order=2, faces=None))]
    fn new(width: f64, strength: f64, order: u32, faces: Option<Vec<String>>) -> PyResult<Self> {
        let mut mask = 0;
        for face in faces.iter().flatten() {
            let bit = FACE_NAMES.iter().position(|f| f == face).ok_or_else(|| {
                InvalidArgument::new_err(format!(
                    "absorber face {face:?}: use {}",
                    FACE_NAMES.join(", ")
                ))
            })?;
            mask |= 1 << bit;
        }
        if faces.is_some_and(|f| f.is_empty()) {
            return Err(InvalidArgument::new_err(
                "an absorber needs at least one face (faces=None: all of them)",
            ));
        }
        Ok(Self {
            width,
            strength,
            order,
            faces: mask,
        })
    }

    fn __repr__(&self) -> String {
        let faces: Vec<&str> = (0..6)
            .filter(|b| self.faces >> b & 1 != 0)
            .map(|b| FACE_NAMES[b])
            .collect();
        format!(
            "<qdsim_mem.Absorber width {} nm, strength {} eV, order {}, faces {}>",
            self.width,
            self.strength,
            self.order,
            if faces.is_empty() {
                "all".to_owned()
            } else {
                faces.join(" ")
            }
        )
    }
}

/// The effective mass: one value, or one per grid point.
enum MassArg {
    Uniform(f64),
    PerPoint(Py<PyArray1<f64>>),
}

/// An effective-mass Hamiltonian H = −∇·(ħ²/2m(r))∇ + V(r) − iη·W(r) on a grid.
///
/// `Hamiltonian(grid, potential=None, mass=0.067, field=0.0, absorber=None)`: `potential` in
/// eV and `mass` (in m₀: a number or an array) shaped like the grid (`grid.shape`, x first) or
/// flat (x fastest); `field` a perpendicular magnetic field in tesla (2D); `absorber` an
/// `Absorber` (makes H complex symmetric: its eigenvalues are resonances E − iΓ/2).
#[pyclass(module = "qdsim_mem", frozen)]
pub struct Hamiltonian {
    grid: Grid,
    potential: Option<Py<PyArray1<f64>>>,
    mass: MassArg,
    field: f64,
    absorber: Option<physics::Absorber>,
}

/// `values` (any array-like of n numbers, grid-shaped or flat) as a flat float64 array in the
/// grid's order (x fastest), without a copy when it already is one.
fn grid_array(
    py: Python<'_>,
    name: &str,
    values: &Bound<'_, PyAny>,
    grid: &Grid,
) -> PyResult<Py<PyArray1<f64>>> {
    let np = numpy_module(py)?;
    let array = np.call_method1("asarray", (values, "float64"))?;
    let shape: Vec<usize> = array.getattr("shape")?.extract()?;
    let points = grid.points();
    if shape != points && shape != [grid.inner.len()] {
        return Err(InvalidArgument::new_err(format!(
            "{name} has shape {shape:?}; the grid needs {points:?} (x first) or ({},)",
            grid.inner.len()
        )));
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("order", "F")?;
    let flat = np.call_method("ravel", (array,), Some(&kwargs))?;
    Ok(flat.cast_into::<PyArray1<f64>>()?.unbind())
}

#[pymethods]
impl Hamiltonian {
    #[new]
    #[pyo3(signature = (grid, potential=None, mass=None, field=0.0, absorber=None))]
    fn new(
        py: Python<'_>,
        grid: PyRef<'_, Grid>,
        potential: Option<&Bound<'_, PyAny>>,
        mass: Option<&Bound<'_, PyAny>>,
        field: f64,
        absorber: Option<PyRef<'_, Absorber>>,
    ) -> PyResult<Self> {
        let grid = grid.clone();
        let potential = potential
            .map(|v| grid_array(py, "potential", v, &grid))
            .transpose()?;
        let mass = match mass {
            None => MassArg::Uniform(physics::constants::GAAS_MASS),
            Some(m) => match m.extract::<f64>() {
                Ok(m) => MassArg::Uniform(m),
                Err(_) => MassArg::PerPoint(grid_array(py, "mass", m, &grid)?),
            },
        };
        let absorber = absorber.map(|a| physics::Absorber {
            faces: if a.faces == 0 {
                (1 << (2 * grid.inner.dims())) - 1
            } else {
                a.faces
            },
            width: a.width,
            strength: a.strength,
            order: a.order,
        });
        let h = Self {
            grid,
            potential,
            mass,
            field,
            absorber,
        };
        h.with_spec(py, |spec| spec.validate()).py()?;
        Ok(h)
    }

    /// The grid.
    #[getter]
    fn grid(&self) -> Grid {
        self.grid.clone()
    }

    /// The potential (eV) shaped like the grid, or None.
    #[getter]
    fn potential<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.potential
            .as_ref()
            .map(|v| reshape_fortran(v.bind(py).clone().into_any(), &self.grid.points()))
            .transpose()
    }

    /// True without an absorber (H = Hᴴ).
    #[getter]
    fn is_hermitian(&self) -> bool {
        self.absorber.is_none_or(|a| a.strength == 0.0)
    }

    /// The matrix as a `scipy.sparse.csr_array` whose data and index arrays are pool blocks of
    /// `manager` (tag `hamiltonian.csr`): real without field and absorber, complex otherwise.
    fn to_scipy<'py>(&self, py: Python<'py>, manager: &Manager) -> PyResult<Bound<'py, PyAny>> {
        let complex = self.with_spec(py, |spec| {
            spec.scalar_kind() == qdsim_mem::matrix::ScalarKind::Complex
        });
        if complex {
            self.csr::<Complex64>(py, manager)
        } else {
            self.csr::<f64>(py, manager)
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "<qdsim_mem.Hamiltonian on {}{}{}{}>",
            self.grid.__repr__(),
            if self.potential.is_some() {
                ", potential"
            } else {
                ""
            },
            if self.field != 0.0 {
                format!(", B = {} T", self.field)
            } else {
                String::new()
            },
            if self.absorber.is_some() {
                ", absorber"
            } else {
                ""
            }
        )
    }
}

/// A CSR matrix kept alive as the base object of scipy's arrays over it.
#[pyclass(module = "qdsim_mem", frozen)]
pub struct CsrBlocks {
    matrix: CsrAny,
}

#[pymethods]
impl CsrBlocks {
    /// Bytes of the matrix's arrays (values, column indices, row pointers).
    #[getter]
    fn nbytes(&self) -> usize {
        match &self.matrix {
            CsrAny::Real(m) => m.memory_bytes(),
            CsrAny::Complex(m) => m.memory_bytes(),
        }
    }
}

enum CsrAny {
    Real(CsrMatrix<f64>),
    Complex(CsrMatrix<Complex64>),
}

trait IntoCsrAny: Scalar + Element {
    fn wrap(m: CsrMatrix<Self>) -> CsrAny;
}
impl IntoCsrAny for f64 {
    fn wrap(m: CsrMatrix<f64>) -> CsrAny {
        CsrAny::Real(m)
    }
}
impl IntoCsrAny for Complex64 {
    fn wrap(m: CsrMatrix<Complex64>) -> CsrAny {
        CsrAny::Complex(m)
    }
}

impl Hamiltonian {
    /// Runs `f` with the description borrowing the arrays (read-only for its duration).
    pub(crate) fn with_spec<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&HamiltonianSpec<'_>) -> R,
    ) -> R {
        let potential = self.potential.as_ref().map(|v| v.bind(py).readonly());
        let mass = match &self.mass {
            MassArg::PerPoint(m) => Some(m.bind(py).readonly()),
            MassArg::Uniform(_) => None,
        };
        let spec = HamiltonianSpec {
            grid: self.grid.inner.clone(),
            potential: potential
                .as_ref()
                .map(|v| v.as_slice().expect("a raveled array is contiguous")),
            mass: match (&self.mass, &mass) {
                (MassArg::Uniform(m), _) => Mass::Uniform(*m),
                (MassArg::PerPoint(_), Some(m)) => {
                    Mass::PerPoint(m.as_slice().expect("a raveled array is contiguous"))
                }
                (MassArg::PerPoint(_), None) => unreachable!("borrowed above"),
            },
            magnetic_field: self.field,
            absorber: self.absorber,
        };
        f(&spec)
    }

    /// The grid's shape, x first.
    pub(crate) fn shape(&self) -> Vec<usize> {
        self.grid.points()
    }

    fn csr<'py, T: IntoCsrAny>(
        &self,
        py: Python<'py>,
        manager: &Manager,
    ) -> PyResult<Bound<'py, PyAny>> {
        let matrix = self
            .with_spec(py, |spec| {
                py.detach(|| {
                    StencilOperator::<T>::new(&manager.inner, spec, "hamiltonian.csr")?
                        .to_csr("hamiltonian.csr")
                })
            })
            .py()?;
        let (n, nnz) = (matrix.nrows(), matrix.nnz());
        let values = matrix.values().as_ptr();
        let indices = match matrix.indices() {
            CsrIndices::I32 { row_ptr, col_idx } => (
                Index::I32(row_ptr.as_raw_ptr()),
                Index::I32(col_idx.as_raw_ptr()),
            ),
            CsrIndices::I64 { row_ptr, col_idx } => (
                Index::I64(row_ptr.as_raw_ptr()),
                Index::I64(col_idx.as_raw_ptr()),
            ),
        };
        let owner = Bound::new(
            py,
            CsrBlocks {
                matrix: T::wrap(matrix),
            },
        )?
        .into_any();
        // The arrays are the pool blocks of the CSR matrix that `owner` holds and never changes.
        // SAFETY: `nnz` values.
        let data = unsafe { flat_view(owner.clone(), values, nnz)? };
        // SAFETY: `n + 1` row pointers.
        let indptr = unsafe { indices.0.view(owner.clone(), n + 1)? };
        // SAFETY: `nnz` column indices.
        let cols = unsafe { indices.1.view(owner, nnz)? };
        let sparse = py.import("scipy.sparse")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("shape", (n, n))?;
        kwargs.set_item("copy", false)?;
        sparse.call_method("csr_array", ((data, cols, indptr),), Some(&kwargs))
    }
}

enum Index {
    I32(*mut i32),
    I64(*mut i64),
}

impl Index {
    /// # Safety
    /// As [`flat_view`].
    unsafe fn view<'py>(
        &self,
        owner: Bound<'py, PyAny>,
        len: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: per the caller.
        unsafe {
            match *self {
                Index::I32(p) => flat_view(owner, p.cast_const(), len),
                Index::I64(p) => flat_view(owner, p.cast_const(), len),
            }
        }
    }
}

/// A read-only 1-D numpy view of `len` elements at `ptr`, kept alive by `owner`.
///
/// # Safety
/// `ptr` must point to `len` initialised elements that stay valid and unchanged while `owner`
/// lives.
unsafe fn flat_view<'py, T: Element>(
    owner: Bound<'py, PyAny>,
    ptr: *const T,
    len: usize,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: per the function's contract (one column of `len` rows).
    let matrix = unsafe { matrix_view(owner, ptr, len, 1, len.max(1))? };
    matrix.call_method1("reshape", (len,))
}
