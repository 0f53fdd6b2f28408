!> qdsim_mem: the Fortran 2008 interface to libqdsim_mem, through iso_c_binding, over the whole
!> C API (the guide: docs/fortran.md; the few C-only functions are listed there).
!>
!> - Handles (qdsim_manager, qdsim_csr, qdsim_csr_builder, qdsim_operator, qdsim_matrix,
!>   qdsim_mapped, qdsim_eigen_result, qdsim_profiler, qdsim_gpu_pool) are opaque derived types.
!> - Every procedure takes an optional `status` argument (a QDSIM_* code). Without it, a failure
!>   writes the library's message to stderr (error_unit) and does `error stop 1`; with it, the
!>   caller decides, and qdsim_last_error() returns the message. Calls the module refuses itself
!>   (wrong shape, rank or kind, index out of range) set that message too.
!> - Shapes, counts and indices are class(*) arguments taking integers of kind c_int32_t (default
!>   integers) or c_int64_t. Indices are 1-based.
!> - qdsim_allocate gives Fortran array pointers of rank 1 to 3 (real(c_double),
!>   complex(c_double_complex), integer(c_int32_t), integer(c_int64_t)) from the manager's typed
!>   pools; qdsim_deallocate gives them back.
!> - Zero-copy views (c_f_pointer over the library's memory): eigenvectors (real or complex),
!>   CSR arrays, dense and mapped matrices. Each is valid only while its owner lives (the result,
!>   matrix or mapping; see docs/fortran.md) and must match its element type, or is refused.
!> - The C structs (qdsim_stats, qdsim_hamiltonian_desc, qdsim_eigen_options, …) are bind(C)
!>   types with the same fields as in qdsim_mem.h; unsigned C fields are signed Fortran integers
!>   of the same width.
!>
!> Compile this file with your program (or link libqdsim_mem_fortran from the install) and link
!> libqdsim_mem.
module qdsim_mem
  use, intrinsic :: iso_c_binding
  implicit none
  private

  !> The ABI version of this module; compare with qdsim_abi_version() at start-up.
  integer(c_int32_t), parameter, public :: QDSIM_MEM_ABI_VERSION = 3

  ! Status codes (qdsim_status).
  integer(c_int32_t), parameter, public :: QDSIM_OK = 0
  integer(c_int32_t), parameter, public :: QDSIM_ERR_NULL_ARGUMENT = 1
  integer(c_int32_t), parameter, public :: QDSIM_ERR_INVALID_ARGUMENT = 2
  integer(c_int32_t), parameter, public :: QDSIM_ERR_OUT_OF_MEMORY = 3
  integer(c_int32_t), parameter, public :: QDSIM_ERR_LIMIT_EXCEEDED = 4
  integer(c_int32_t), parameter, public :: QDSIM_ERR_INVALID_HANDLE = 5
  integer(c_int32_t), parameter, public :: QDSIM_ERR_NOT_OWNED = 6
  integer(c_int32_t), parameter, public :: QDSIM_ERR_IO = 7
  integer(c_int32_t), parameter, public :: QDSIM_ERR_CORRUPT_FILE = 8
  integer(c_int32_t), parameter, public :: QDSIM_ERR_NOT_CONVERGED = 9
  integer(c_int32_t), parameter, public :: QDSIM_ERR_NO_DEVICE = 10
  integer(c_int32_t), parameter, public :: QDSIM_ERR_CANCELLED = 11
  integer(c_int32_t), parameter, public :: QDSIM_ERR_BUFFER_TOO_SMALL = 12
  integer(c_int32_t), parameter, public :: QDSIM_ERR_NOT_FOUND = 13
  integer(c_int32_t), parameter, public :: QDSIM_ERR_INTERNAL = 14
  integer(c_int32_t), parameter, public :: QDSIM_ERR_MEMORY_CORRUPTED = 15

  ! Physics constants (the C header's QDSIM_HBAR2_OVER_2M0 … , the same values).
  !> hbar^2 / (2 m0) in eV nm^2.
  real(c_double), parameter, public :: QDSIM_HBAR2_OVER_2M0 = 0.0380998212_c_double
  !> e / hbar in 1/(T nm^2): the magnetic phase per tesla and nm^2.
  real(c_double), parameter, public :: QDSIM_E_OVER_HBAR = 1.519267447e-3_c_double
  !> Effective masses in units of m0.
  real(c_double), parameter, public :: QDSIM_MASS_GAAS = 0.067_c_double, QDSIM_MASS_INAS = 0.026_c_double

  ! Pools, scalar types, boundaries, absorber faces, solver methods.
  integer(c_int32_t), parameter, public :: QDSIM_POOL_F64 = 0, QDSIM_POOL_COMPLEX = 1, &
       QDSIM_POOL_I32 = 2, QDSIM_POOL_I64 = 3, QDSIM_POOL_BYTES = 4
  integer(c_int32_t), parameter, public :: QDSIM_SCALAR_REAL = 0, QDSIM_SCALAR_COMPLEX = 1, &
       QDSIM_SCALAR_AUTO = 2
  integer(c_int32_t), parameter, public :: QDSIM_BOUNDARY_DIRICHLET = 0, QDSIM_BOUNDARY_PERIODIC = 1
  integer(c_int32_t), parameter, public :: QDSIM_FACE_X_MIN = 1, QDSIM_FACE_X_MAX = 2, &
       QDSIM_FACE_Y_MIN = 4, QDSIM_FACE_Y_MAX = 8, QDSIM_FACE_Z_MIN = 16, QDSIM_FACE_Z_MAX = 32
  integer(c_int32_t), parameter, public :: QDSIM_METHOD_AUTO = 0, QDSIM_METHOD_LOBPCG = 1, &
       QDSIM_METHOD_SHIFT_INVERT = 2
  integer(c_int32_t), parameter, public :: QDSIM_PLACEMENT_AUTO = 0, QDSIM_PLACEMENT_IN_CORE = 1, &
       QDSIM_PLACEMENT_OUT_OF_CORE = 2

  !> A memory manager.
  type, public :: qdsim_manager
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_manager

  !> Device memory of one GPU (qdsim_gpu_pool_create; QDSIM_ERR_NO_DEVICE without a GPU).
  type, public :: qdsim_gpu_pool
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_gpu_pool

  !> A sparse matrix (CSR) built from a Hamiltonian.
  type, public :: qdsim_csr
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_csr

  !> A matrix in a memory-mapped file.
  type, public :: qdsim_mapped
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_mapped

  !> Eigenvalues and eigenvectors of a solve.
  type, public :: qdsim_eigen_result
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_eigen_result

  !> A sampling profiler of a manager.
  type, public :: qdsim_profiler
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_profiler

  !> Export formats of qdsim_profiler_write.
  integer(c_int32_t), parameter, public :: QDSIM_FORMAT_CSV = 0, QDSIM_FORMAT_JSON = 1, &
       QDSIM_FORMAT_SVG = 2

  !> Profiler settings (qdsim_profiler_config).
  type, bind(C), public :: qdsim_profiler_config
    real(c_double) :: interval_s
    integer(c_size_t) :: capacity
    integer(c_size_t) :: max_marks
  end type qdsim_profiler_config

  !> What a profiler recorded (qdsim_profile_summary).
  type, bind(C), public :: qdsim_profile_summary
    integer(c_int64_t) :: samples
    integer(c_int64_t) :: marks
    integer(c_int64_t) :: dropped_samples
    integer(c_int64_t) :: dropped_marks
    integer(c_int64_t) :: peak_bytes
    real(c_double) :: peak_time_s
    integer(c_int64_t) :: exact_peak_bytes
    integer(c_int32_t) :: running
  end type qdsim_profile_summary

  !> Statistics of one phase, from qdsim_pop_scope (qdsim_scope_stats).
  type, bind(C), public :: qdsim_scope_stats
    character(kind=c_char) :: name(64)
    integer(c_int64_t) :: allocations
    integer(c_int64_t) :: frees
    integer(c_int64_t) :: bytes_allocated
    integer(c_int64_t) :: bytes_in_use_at_start
    integer(c_int64_t) :: net_bytes
    integer(c_int64_t) :: peak_bytes_in_use
    real(c_double) :: seconds
  end type qdsim_scope_stats

  !> Allocations made after a checkpoint that are still live (qdsim_leak_check).
  type, bind(C), public :: qdsim_leak_check
    integer(c_int64_t) :: count
    integer(c_int64_t) :: bytes
    integer(c_int64_t) :: tags
    integer(c_int32_t) :: is_leak
  end type qdsim_leak_check

  !> Manager settings (qdsim_manager_config); get the defaults from qdsim_manager_config_default.
  type, bind(C), public :: qdsim_manager_config
    integer(c_size_t) :: initial_pool_size
    integer(c_size_t) :: chunk_size
    integer(c_int64_t) :: memory_limit
    integer(c_size_t) :: alignment
    integer(c_int32_t) :: eager
    integer(c_int32_t) :: prefault
    integer(c_int32_t) :: huge_pages
    integer(c_int32_t) :: report_leaks_on_destroy
    integer(c_int32_t) :: thread_cache
    integer(c_int32_t) :: prefault_threads
    integer(c_int64_t) :: retain_bytes
    !> The debug mode: 1 red zones around every block, -1 off, 0 as QDSIM_MEM_DEBUG says (else on
    !> exactly under valgrind).
    integer(c_int32_t) :: red_zones
  end type qdsim_manager_config

  !> Counters of one pool or of the whole manager (qdsim_stats).
  type, bind(C), public :: qdsim_stats
    integer(c_int64_t) :: bytes_in_use
    integer(c_int64_t) :: peak_bytes_in_use
    integer(c_int64_t) :: footprint_bytes
    integer(c_int64_t) :: total_allocated_bytes
    integer(c_int64_t) :: allocation_count
    integer(c_int64_t) :: free_count
    integer(c_int64_t) :: live_allocations
    integer(c_int64_t) :: failed_allocations
    integer(c_int64_t) :: free_bytes
    integer(c_int64_t) :: largest_free_block
    real(c_double) :: fragmentation
    integer(c_int64_t) :: available_bytes
    integer(c_int64_t) :: limit_bytes
    integer(c_int64_t) :: chunk_count
    integer(c_int64_t) :: direct_allocations
    integer(c_int64_t) :: direct_bytes
    integer(c_int64_t) :: cached_bytes
    integer(c_int64_t) :: retained_bytes
  end type qdsim_stats

  !> Live allocations and their bytes (qdsim_leak_summary).
  type, bind(C), public :: qdsim_leak_summary
    integer(c_int64_t) :: count
    integer(c_int64_t) :: bytes
  end type qdsim_leak_summary

  !> One grid axis (qdsim_axis).
  type, bind(C), public :: qdsim_axis
    integer(c_size_t) :: points
    real(c_double) :: spacing
    integer(c_int32_t) :: boundary
  end type qdsim_axis

  !> A grid of 1 to 3 axes, x fastest (qdsim_grid).
  type, bind(C), public :: qdsim_grid
    integer(c_int32_t) :: dims
    type(qdsim_axis) :: axes(3)
  end type qdsim_grid

  !> A complex absorbing potential (qdsim_absorber); faces = 0 for none.
  type, bind(C), public :: qdsim_absorber
    integer(c_int32_t) :: faces
    integer(c_int32_t) :: order
    real(c_double) :: width
    real(c_double) :: strength
  end type qdsim_absorber

  !> A Hamiltonian description (qdsim_hamiltonian_desc); potential = c_loc(your array).
  type, bind(C), public :: qdsim_hamiltonian_desc
    type(qdsim_grid) :: grid
    type(c_ptr) :: potential
    real(c_double) :: mass
    type(c_ptr) :: mass_field
    real(c_double) :: magnetic_field
    type(qdsim_absorber) :: absorber
  end type qdsim_hamiltonian_desc

  !> One progress report (qdsim_progress), passed to a bind(C) callback.
  type, bind(C), public :: qdsim_progress
    integer(c_size_t) :: level
    integer(c_size_t) :: levels
    integer(c_size_t) :: iteration
    integer(c_size_t) :: converged
    integer(c_size_t) :: wanted
    real(c_double) :: max_residual
    integer(c_int64_t) :: applications
  end type qdsim_progress

  !> Solver settings (qdsim_eigen_options); progress = c_funloc(callback) or c_null_funptr.
  type, bind(C), public :: qdsim_eigen_options
    integer(c_size_t) :: k
    real(c_double) :: tolerance
    integer(c_size_t) :: max_iterations
    integer(c_int64_t) :: block_extra
    integer(c_int64_t) :: seed
    integer(c_int32_t) :: method
    integer(c_int32_t) :: coarse_to_fine
    integer(c_int64_t) :: memory_budget
    type(c_funptr) :: progress
    type(c_ptr) :: progress_user
    !> Scratch directory: c_loc of a c_null_char-terminated character array, or c_null_ptr.
    type(c_ptr) :: scratch_dir
    integer(c_int32_t) :: placement
    !> Eigenvector file (same form as scratch_dir), or c_null_ptr for the pool.
    type(c_ptr) :: vectors_file
  end type qdsim_eigen_options

  !> What a result holds (qdsim_eigen_info).
  type, bind(C), public :: qdsim_eigen_info
    integer(c_size_t) :: count
    integer(c_size_t) :: dim
    integer(c_size_t) :: converged
    integer(c_size_t) :: iterations
    integer(c_int64_t) :: applications
    real(c_double) :: seconds
    integer(c_int64_t) :: peak_pool_bytes
    integer(c_int32_t) :: method
    integer(c_int32_t) :: vector_scalar
    integer(c_int32_t) :: complex_values
    integer(c_int32_t) :: levels
    integer(c_int64_t) :: scratch_bytes
  end type qdsim_eigen_info

  !> A sparse matrix under construction (qdsim_csr_builder_create).
  type, public :: qdsim_csr_builder
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_csr_builder

  !> A dense matrix in a manager's pool (qdsim_matrix_create).
  type, public :: qdsim_matrix
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_matrix

  !> A matrix-free Hamiltonian (qdsim_hamiltonian_operator).
  type, public :: qdsim_operator
    private
    type(c_ptr) :: ptr = c_null_ptr
  end type qdsim_operator

  !> Storage of a mapped matrix (qdsim_mapped_info%layout).
  integer(c_int32_t), parameter, public :: QDSIM_MAPPED_DENSE = 0, QDSIM_MAPPED_CSR = 1
  !> Number of pools; the longest tag plus its NUL.
  integer(c_int32_t), parameter, public :: QDSIM_POOL_COUNT = 5, QDSIM_TAG_CAPACITY = 64

  !> Shape and storage of a CSR matrix (qdsim_csr_info).
  type, bind(C), public :: qdsim_csr_info
    integer(c_size_t) :: rows
    integer(c_size_t) :: cols
    integer(c_size_t) :: nnz
    !> 32 or 64: the kind of the row_ptr and col_idx arrays (c_int32_t or c_int64_t).
    integer(c_int32_t) :: index_bits
    integer(c_int32_t) :: scalar
    integer(c_int64_t) :: bytes
  end type qdsim_csr_info

  !> Statistics of one tag (qdsim_tag_stats); name is NUL-terminated.
  type, bind(C), public :: qdsim_tag_stats
    character(kind=c_char) :: name(64)
    integer(c_int64_t) :: bytes_in_use
    integer(c_int64_t) :: peak_bytes_in_use
    integer(c_int64_t) :: total_allocated_bytes
    integer(c_int64_t) :: allocation_count
    integer(c_int64_t) :: free_count
    integer(c_int64_t) :: live_allocations
  end type qdsim_tag_stats

  !> What an operator is (qdsim_operator_info).
  type, bind(C), public :: qdsim_operator_info
    integer(c_size_t) :: dim
    integer(c_int32_t) :: scalar
    integer(c_int32_t) :: hermitian
    integer(c_int64_t) :: bytes
  end type qdsim_operator_info

  !> One live allocation (qdsim_allocation_info, from qdsim_find).
  type, bind(C), public :: qdsim_allocation_info
    type(c_ptr) :: address
    integer(c_int64_t) :: size
    integer(c_int32_t) :: pool
    integer(c_int32_t) :: direct
    character(kind=c_char) :: tag(64)
  end type qdsim_allocation_info

  !> What a mapped file holds (qdsim_mapped_info).
  type, bind(C), public :: qdsim_mapped_info
    integer(c_size_t) :: rows
    integer(c_size_t) :: cols
    integer(c_size_t) :: nnz
    integer(c_size_t) :: ld
    integer(c_int64_t) :: file_bytes
    integer(c_int32_t) :: layout
    integer(c_int32_t) :: scalar
    integer(c_int32_t) :: index_bits
    integer(c_int32_t) :: writable
    integer(c_int32_t) :: finalized
  end type qdsim_mapped_info

  !> Shape and storage of a dense matrix (qdsim_matrix_info).
  type, bind(C), public :: qdsim_matrix_info
    integer(c_size_t) :: rows
    integer(c_size_t) :: cols
    integer(c_size_t) :: ld
    integer(c_int32_t) :: scalar
    integer(c_int64_t) :: bytes
  end type qdsim_matrix_info

  !> What qdsim_replay_event_log measured (qdsim_replay_summary).
  type, bind(C), public :: qdsim_replay_summary
    integer(c_int64_t) :: allocations
    integer(c_int64_t) :: frees
    integer(c_int64_t) :: peak_bytes_in_use
    integer(c_int64_t) :: live_at_end
  end type qdsim_replay_summary

  abstract interface
    !> The form of a progress callback: set options%progress = c_funloc(f) for a bind(C) function
    !> f with this interface, and options%progress_user = c_loc(anything) (or c_null_ptr). It
    !> runs on the thread that called the solve; return non-zero to cancel (QDSIM_ERR_CANCELLED).
    function qdsim_progress_fn(user, progress) bind(C) result(stop_solve)
      import :: c_ptr, c_int32_t, qdsim_progress
      type(c_ptr), value :: user
      type(qdsim_progress), intent(in) :: progress
      integer(c_int32_t) :: stop_solve
    end function qdsim_progress_fn
  end interface
  public :: qdsim_progress_fn

  public :: qdsim_abi_version, qdsim_last_error, qdsim_status_name
  public :: qdsim_manager_config_default, qdsim_create, qdsim_destroy
  public :: qdsim_allocate, qdsim_deallocate
  public :: qdsim_get_stats, qdsim_get_leak_summary, qdsim_allocation_report, qdsim_leak_report
  public :: qdsim_parabolic_potential, qdsim_open_dot_potential, qdsim_get_config
  public :: qdsim_grid_box, qdsim_hamiltonian_desc_default, qdsim_hamiltonian_csr, qdsim_csr_destroy
  public :: qdsim_csr_write_petsc, qdsim_csr_write_matrix_market, qdsim_csr_read_matrix_market
  public :: qdsim_csr_read_petsc
  public :: qdsim_mapped_from_csr, qdsim_mapped_open, qdsim_mapped_open_verified
  public :: qdsim_mapped_verify, qdsim_mapped_destroy
  public :: qdsim_eigen_options_default, qdsim_solve_lowest, qdsim_solve_resonances
  public :: qdsim_gpu_pool_create, qdsim_gpu_pool_destroy, qdsim_gpu_solve_lowest
  public :: qdsim_result_info, qdsim_result_values, qdsim_result_complex_values
  public :: qdsim_result_residuals, qdsim_result_vector, qdsim_result_destroy
  public :: qdsim_profiler_create, qdsim_profiler_start, qdsim_profiler_stop, qdsim_profiler_mark
  public :: qdsim_profiler_summary, qdsim_profiler_write, qdsim_profiler_destroy
  public :: qdsim_push_scope, qdsim_pop_scope, qdsim_checkpoint, qdsim_leaks_since
  public :: qdsim_version, qdsim_pool_name, qdsim_set_solver_threads, qdsim_solver_threads
  public :: qdsim_trim, qdsim_check, qdsim_get_pool_stats, qdsim_get_tag_stats, qdsim_tag_count
  public :: qdsim_tag_list, qdsim_find, qdsim_set_event_log, qdsim_write_event_log
  public :: qdsim_replay_event_log, qdsim_profiler_sample, qdsim_profiler_export
  public :: qdsim_csr_builder_create, qdsim_csr_builder_add, qdsim_csr_builder_finalize
  public :: qdsim_csr_builder_destroy, qdsim_csr_get_info, qdsim_csr_arrays, qdsim_csr_spmv
  public :: qdsim_csr_solve_lowest
  public :: qdsim_hamiltonian_operator, qdsim_operator_destroy, qdsim_operator_get_info
  public :: qdsim_operator_apply, qdsim_operator_to_csr
  public :: qdsim_mapped_create_dense, qdsim_mapped_get_info, qdsim_mapped_data, qdsim_mapped_data_mut
  public :: qdsim_mapped_csr_arrays, qdsim_mapped_read_columns, qdsim_mapped_write_columns
  public :: qdsim_mapped_grow, qdsim_mapped_flush, qdsim_mapped_finalize, qdsim_mapped_to_csr
  public :: qdsim_mapped_from_matrix, qdsim_mapped_to_matrix, qdsim_mapped_solve_lowest
  public :: qdsim_matrix_create, qdsim_matrix_destroy, qdsim_matrix_get_info, qdsim_matrix_data
  public :: qdsim_matrix_copy, qdsim_matrix_transpose, qdsim_matrix_adjoint
  public :: qdsim_matrix_eigen_hermitian, qdsim_matrix_eigen_general, qdsim_result_vectors
  public :: qdsim_gpu_device_count, qdsim_gpu_alloc, qdsim_gpu_free, qdsim_gpu_copy_to_host
  public :: qdsim_gpu_copy_to_device, qdsim_gpu_pool_stats, qdsim_gpu_pool_pinned_stats
  public :: qdsim_gpu_pool_tag_stats, qdsim_gpu_pool_leak_report, qdsim_gpu_pinned_alloc
  public :: qdsim_gpu_pinned_free

  !> Eigenvector j of a result as a zero-copy pointer: real(c_double) or complex(c_double_complex)
  !> (the kind must match info%vector_scalar).
  interface qdsim_result_vector
    module procedure result_vector_r8, result_vector_c8
  end interface qdsim_result_vector

  !> All eigenvectors of a result as a zero-copy (dim, count) pointer, real or complex.
  interface qdsim_result_vectors
    module procedure result_vectors_r8, result_vectors_c8
  end interface qdsim_result_vectors

  !> Adds a real or a complex value at (row, col), 1-based, to a CSR builder.
  interface qdsim_csr_builder_add
    module procedure csr_builder_add_r8, csr_builder_add_c8
  end interface qdsim_csr_builder_add

  !> Zero-copy views of the CSR arrays (0-based C indices): row_ptr and col_idx of kind
  !> c_int32_t or c_int64_t (info%index_bits 32 or 64), values real or complex (info%scalar).
  interface qdsim_csr_arrays
    module procedure csr_arrays_i4_r8, csr_arrays_i4_c8, csr_arrays_i8_r8, csr_arrays_i8_c8
  end interface qdsim_csr_arrays

  !> The same views of a mapped CSR matrix.
  interface qdsim_mapped_csr_arrays
    module procedure mapped_csr_arrays_i4_r8, mapped_csr_arrays_i4_c8, &
       mapped_csr_arrays_i8_r8, mapped_csr_arrays_i8_c8
  end interface qdsim_mapped_csr_arrays

  !> y = alpha A x + beta y with real or complex vectors.
  interface qdsim_csr_spmv
    module procedure csr_spmv_r8, csr_spmv_c8
  end interface qdsim_csr_spmv

  !> y = alpha H x + beta y with real or complex vectors.
  interface qdsim_operator_apply
    module procedure operator_apply_r8, operator_apply_c8
  end interface qdsim_operator_apply

  !> Zero-copy (rows, cols) view of a dense mapped matrix, read-only.
  interface qdsim_mapped_data
    module procedure mapped_data_r8, mapped_data_c8
  end interface qdsim_mapped_data

  !> Zero-copy (rows, cols) view of a writable dense mapped matrix, for writing.
  interface qdsim_mapped_data_mut
    module procedure mapped_data_mut_r8, mapped_data_mut_c8
  end interface qdsim_mapped_data_mut

  !> Copies columns of a dense mapped matrix into a real or complex array.
  interface qdsim_mapped_read_columns
    module procedure mapped_read_columns_r8, mapped_read_columns_c8
  end interface qdsim_mapped_read_columns

  !> Copies a real or complex array into columns of a writable dense mapped matrix.
  interface qdsim_mapped_write_columns
    module procedure mapped_write_columns_r8, mapped_write_columns_c8
  end interface qdsim_mapped_write_columns

  !> Zero-copy (rows, cols) view of a dense matrix, real or complex.
  interface qdsim_matrix_data
    module procedure matrix_data_r8, matrix_data_c8
  end interface qdsim_matrix_data

  !> Typed array allocation from the manager's pools (rank 1 to 3).
  interface qdsim_allocate
    module procedure &
       alloc_r8_1, alloc_r8_2, alloc_r8_3, &
       alloc_c8_1, alloc_c8_2, alloc_c8_3, &
       alloc_i4_1, alloc_i4_2, alloc_i4_3, &
       alloc_i8_1, alloc_i8_2, alloc_i8_3
  end interface qdsim_allocate

  !> Gives arrays from qdsim_allocate back to the manager.
  !> Resonances of an open system: from a CSR matrix (qdsim_csr_resonances) or from a grid
  !> description (qdsim_grid_resonances).
  interface qdsim_solve_resonances
    module procedure qdsim_csr_resonances, qdsim_grid_resonances
  end interface qdsim_solve_resonances

  interface qdsim_deallocate
    module procedure &
       free_r8_1, free_r8_2, free_r8_3, &
       free_c8_1, free_c8_2, free_c8_3, &
       free_i4_1, free_i4_2, free_i4_3, &
       free_i8_1, free_i8_2, free_i8_3
  end interface qdsim_deallocate

  ! The C functions (see qdsim_mem.h for their contracts).
  interface
    function c_qdsim_abi_version() bind(C, name="qdsim_abi_version")
      import :: c_int32_t
      integer(c_int32_t) :: c_qdsim_abi_version
    end function
    function c_qdsim_last_error_message() bind(C, name="qdsim_last_error_message")
      import :: c_ptr
      type(c_ptr) :: c_qdsim_last_error_message
    end function
    function c_qdsim_status_string(status) bind(C, name="qdsim_status_string")
      import :: c_ptr, c_int32_t
      integer(c_int32_t), value :: status
      type(c_ptr) :: c_qdsim_status_string
    end function
    function c_strlen(s) bind(C, name="strlen")
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: c_strlen
    end function
    function c_qdsim_string_free(s) bind(C, name="qdsim_string_free")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: s
      integer(c_int32_t) :: c_qdsim_string_free
    end function
    function c_qdsim_manager_config_default(config) bind(C, name="qdsim_manager_config_default")
      import :: c_int32_t, qdsim_manager_config
      type(qdsim_manager_config), intent(out) :: config
      integer(c_int32_t) :: c_qdsim_manager_config_default
    end function
    function c_qdsim_manager_get_config(m, out) bind(C, name="qdsim_manager_get_config")
      import :: c_ptr, c_int32_t, qdsim_manager_config
      type(c_ptr), value :: m
      type(qdsim_manager_config), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_get_config
    end function
    function c_qdsim_parabolic_potential(grid, mass, hbar_omega, out, out_len) &
         bind(C, name="qdsim_parabolic_potential")
      import :: c_int32_t, c_double, c_size_t, qdsim_grid
      type(qdsim_grid), intent(in) :: grid
      real(c_double), value :: mass, hbar_omega
      real(c_double), intent(inout) :: out(*)
      integer(c_size_t), value :: out_len
      integer(c_int32_t) :: c_qdsim_parabolic_potential
    end function
    function c_qdsim_open_dot_potential(grid, radius, thickness, height, out, out_len) &
         bind(C, name="qdsim_open_dot_potential")
      import :: c_int32_t, c_double, c_size_t, qdsim_grid
      type(qdsim_grid), intent(in) :: grid
      real(c_double), value :: radius, thickness, height
      real(c_double), intent(inout) :: out(*)
      integer(c_size_t), value :: out_len
      integer(c_int32_t) :: c_qdsim_open_dot_potential
    end function
    function c_qdsim_manager_create(config, out) bind(C, name="qdsim_manager_create")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: config
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_create
    end function
    function c_qdsim_manager_destroy(m) bind(C, name="qdsim_manager_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m
      integer(c_int32_t) :: c_qdsim_manager_destroy
    end function
    function c_qdsim_manager_alloc(m, pool, count, alignment, tag, out) bind(C, name="qdsim_manager_alloc")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: m
      integer(c_int32_t), value :: pool
      integer(c_size_t), value :: count, alignment
      type(c_ptr), value :: tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_alloc
    end function
    function c_qdsim_manager_free(m, p) bind(C, name="qdsim_manager_free")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m, p
      integer(c_int32_t) :: c_qdsim_manager_free
    end function
    function c_qdsim_manager_stats(m, out) bind(C, name="qdsim_manager_stats")
      import :: c_ptr, c_int32_t, qdsim_stats
      type(c_ptr), value :: m
      type(qdsim_stats), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_stats
    end function
    function c_qdsim_manager_leak_summary(m, out) bind(C, name="qdsim_manager_leak_summary")
      import :: c_ptr, c_int32_t, qdsim_leak_summary
      type(c_ptr), value :: m
      type(qdsim_leak_summary), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_leak_summary
    end function
    function c_qdsim_manager_allocation_report(m, text) bind(C, name="qdsim_manager_allocation_report")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m
      type(c_ptr), intent(out) :: text
      integer(c_int32_t) :: c_qdsim_manager_allocation_report
    end function
    function c_qdsim_manager_leak_report(m, text) bind(C, name="qdsim_manager_leak_report")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m
      type(c_ptr), intent(out) :: text
      integer(c_int32_t) :: c_qdsim_manager_leak_report
    end function
    function c_qdsim_grid_box(dims, lengths, points, out) bind(C, name="qdsim_grid_box")
      import :: c_int32_t, c_double, c_size_t, qdsim_grid
      integer(c_int32_t), value :: dims
      real(c_double), intent(in) :: lengths(*)
      integer(c_size_t), intent(in) :: points(*)
      type(qdsim_grid), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_grid_box
    end function
    function c_qdsim_hamiltonian_desc_default(out) bind(C, name="qdsim_hamiltonian_desc_default")
      import :: c_int32_t, qdsim_hamiltonian_desc
      type(qdsim_hamiltonian_desc), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_hamiltonian_desc_default
    end function
    function c_qdsim_hamiltonian_csr(m, desc, scalar, tag, out) bind(C, name="qdsim_hamiltonian_csr")
      import :: c_ptr, c_int32_t, qdsim_hamiltonian_desc
      type(c_ptr), value :: m
      type(qdsim_hamiltonian_desc), intent(in) :: desc
      integer(c_int32_t), value :: scalar
      type(c_ptr), value :: tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_hamiltonian_csr
    end function
    function c_qdsim_csr_destroy(h) bind(C, name="qdsim_csr_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: c_qdsim_csr_destroy
    end function
    function c_qdsim_mapped_from_csr(csr, path, out) bind(C, name="qdsim_mapped_from_csr")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: csr, path
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_from_csr
    end function
    function c_qdsim_mapped_open(path, writable, out) bind(C, name="qdsim_mapped_open")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: path
      integer(c_int32_t), value :: writable
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_open
    end function
    function c_qdsim_mapped_open_verified(path, writable, out) &
         bind(C, name="qdsim_mapped_open_verified")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: path
      integer(c_int32_t), value :: writable
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_open_verified
    end function
    function c_qdsim_mapped_verify(h) bind(C, name="qdsim_mapped_verify")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: c_qdsim_mapped_verify
    end function
    function c_qdsim_mapped_destroy(h) bind(C, name="qdsim_mapped_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: c_qdsim_mapped_destroy
    end function
    function c_qdsim_csr_write_petsc(h, path) bind(C, name="qdsim_csr_write_petsc")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h, path
      integer(c_int32_t) :: c_qdsim_csr_write_petsc
    end function
    function c_qdsim_csr_write_matrix_market(h, path) bind(C, name="qdsim_csr_write_matrix_market")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h, path
      integer(c_int32_t) :: c_qdsim_csr_write_matrix_market
    end function
    function c_qdsim_csr_read_matrix_market(m, path, tag, out) bind(C, name="qdsim_csr_read_matrix_market")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m, path, tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_csr_read_matrix_market
    end function
    function c_qdsim_csr_read_petsc(m, path, tag, out) bind(C, name="qdsim_csr_read_petsc")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m, path, tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_csr_read_petsc
    end function
    function c_qdsim_eigen_options_default(out) bind(C, name="qdsim_eigen_options_default")
      import :: c_int32_t, qdsim_eigen_options
      type(qdsim_eigen_options), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_eigen_options_default
    end function
    function c_qdsim_solve_lowest(m, desc, scalar, options, out) bind(C, name="qdsim_solve_lowest")
      import :: c_ptr, c_int32_t, qdsim_hamiltonian_desc, qdsim_eigen_options
      type(c_ptr), value :: m
      type(qdsim_hamiltonian_desc), intent(in) :: desc
      integer(c_int32_t), value :: scalar
      type(qdsim_eigen_options), intent(in) :: options
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_solve_lowest
    end function
    function c_qdsim_solve_resonances(m, desc, target, options, out) bind(C, name="qdsim_solve_resonances")
      import :: c_ptr, c_int32_t, c_double_complex, qdsim_hamiltonian_desc, qdsim_eigen_options
      type(c_ptr), value :: m
      type(qdsim_hamiltonian_desc), intent(in) :: desc
      complex(c_double_complex), value :: target
      type(qdsim_eigen_options), intent(in) :: options
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_solve_resonances
    end function
    function c_qdsim_gpu_pool_create(device, limit_bytes, out) bind(C, name="qdsim_gpu_pool_create")
      import :: c_ptr, c_int32_t, c_int64_t
      integer(c_int32_t), value :: device
      integer(c_int64_t), value :: limit_bytes
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_gpu_pool_create
    end function
    function c_qdsim_gpu_pool_destroy(pool) bind(C, name="qdsim_gpu_pool_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: pool
      integer(c_int32_t) :: c_qdsim_gpu_pool_destroy
    end function
    function c_qdsim_gpu_solve_lowest(pool, m, desc, scalar, options, out) &
         bind(C, name="qdsim_gpu_solve_lowest")
      import :: c_ptr, c_int32_t, qdsim_hamiltonian_desc, qdsim_eigen_options
      type(c_ptr), value :: pool
      type(c_ptr), value :: m
      type(qdsim_hamiltonian_desc), intent(in) :: desc
      integer(c_int32_t), value :: scalar
      type(qdsim_eigen_options), intent(in) :: options
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_gpu_solve_lowest
    end function
    function c_qdsim_csr_solve_resonances(h, target, k, tol, seed, out) bind(C, name="qdsim_csr_solve_resonances")
      import :: c_ptr, c_int32_t, c_double_complex, c_size_t, c_double, c_int64_t
      type(c_ptr), value :: h
      complex(c_double_complex), value :: target
      integer(c_size_t), value :: k
      real(c_double), value :: tol
      integer(c_int64_t), value :: seed
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_csr_solve_resonances
    end function
    function c_qdsim_eigen_result_info(r, out) bind(C, name="qdsim_eigen_result_info")
      import :: c_ptr, c_int32_t, qdsim_eigen_info
      type(c_ptr), value :: r
      type(qdsim_eigen_info), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_eigen_result_info
    end function
    function c_qdsim_eigen_result_values(r, values) bind(C, name="qdsim_eigen_result_values")
      import :: c_ptr, c_int32_t, c_double
      type(c_ptr), value :: r
      real(c_double), intent(out) :: values(*)
      integer(c_int32_t) :: c_qdsim_eigen_result_values
    end function
    function c_qdsim_eigen_result_complex_values(r, values) bind(C, name="qdsim_eigen_result_complex_values")
      import :: c_ptr, c_int32_t, c_double_complex
      type(c_ptr), value :: r
      complex(c_double_complex), intent(out) :: values(*)
      integer(c_int32_t) :: c_qdsim_eigen_result_complex_values
    end function
    function c_qdsim_eigen_result_residuals(r, values) bind(C, name="qdsim_eigen_result_residuals")
      import :: c_ptr, c_int32_t, c_double
      type(c_ptr), value :: r
      real(c_double), intent(out) :: values(*)
      integer(c_int32_t) :: c_qdsim_eigen_result_residuals
    end function
    function c_qdsim_eigen_result_vectors(r, data, ld) bind(C, name="qdsim_eigen_result_vectors")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: r
      type(c_ptr), intent(out) :: data
      integer(c_size_t), intent(out) :: ld
      integer(c_int32_t) :: c_qdsim_eigen_result_vectors
    end function
    function c_qdsim_eigen_result_destroy(r) bind(C, name="qdsim_eigen_result_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: r
      integer(c_int32_t) :: c_qdsim_eigen_result_destroy
    end function
    function c_qdsim_profiler_config_default(c) bind(C, name="qdsim_profiler_config_default")
      import :: c_int32_t, qdsim_profiler_config
      type(qdsim_profiler_config), intent(out) :: c
      integer(c_int32_t) :: c_qdsim_profiler_config_default
    end function
    function c_qdsim_profiler_create(m, c, out) bind(C, name="qdsim_profiler_create")
      import :: c_ptr, c_int32_t, qdsim_profiler_config
      type(c_ptr), value :: m
      type(qdsim_profiler_config), intent(in) :: c
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_profiler_create
    end function
    function c_qdsim_profiler_start(p) bind(C, name="qdsim_profiler_start")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: p
      integer(c_int32_t) :: c_qdsim_profiler_start
    end function
    function c_qdsim_profiler_stop(p) bind(C, name="qdsim_profiler_stop")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: p
      integer(c_int32_t) :: c_qdsim_profiler_stop
    end function
    function c_qdsim_profiler_mark(p, label) bind(C, name="qdsim_profiler_mark")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: p, label
      integer(c_int32_t) :: c_qdsim_profiler_mark
    end function
    function c_qdsim_profiler_summary(p, out) bind(C, name="qdsim_profiler_summary")
      import :: c_ptr, c_int32_t, qdsim_profile_summary
      type(c_ptr), value :: p
      type(qdsim_profile_summary), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_profiler_summary
    end function
    function c_qdsim_profiler_write(p, format, path) bind(C, name="qdsim_profiler_write")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: p, path
      integer(c_int32_t), value :: format
      integer(c_int32_t) :: c_qdsim_profiler_write
    end function
    function c_qdsim_profiler_destroy(p) bind(C, name="qdsim_profiler_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: p
      integer(c_int32_t) :: c_qdsim_profiler_destroy
    end function
    function c_qdsim_manager_push_scope(m, name) bind(C, name="qdsim_manager_push_scope")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m, name
      integer(c_int32_t) :: c_qdsim_manager_push_scope
    end function
    function c_qdsim_manager_pop_scope(m, out) bind(C, name="qdsim_manager_pop_scope")
      import :: c_ptr, c_int32_t, qdsim_scope_stats
      type(c_ptr), value :: m
      type(qdsim_scope_stats), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_pop_scope
    end function
    function c_qdsim_manager_checkpoint(m, out) bind(C, name="qdsim_manager_checkpoint")
      import :: c_ptr, c_int32_t, c_int64_t
      type(c_ptr), value :: m
      integer(c_int64_t), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_checkpoint
    end function
    function c_qdsim_manager_leaks_since(m, checkpoint, threshold, out, report) &
        bind(C, name="qdsim_manager_leaks_since")
      import :: c_ptr, c_int32_t, c_int64_t, qdsim_leak_check
      type(c_ptr), value :: m, report
      integer(c_int64_t), value :: checkpoint, threshold
      type(qdsim_leak_check), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_leaks_since
    end function
    function c_qdsim_set_last_error_message(message) bind(C, name="qdsim_set_last_error_message")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: message
      integer(c_int32_t) :: c_qdsim_set_last_error_message
    end function
    function c_qdsim_version_string() bind(C, name="qdsim_version_string")
      import :: c_ptr
      type(c_ptr) :: c_qdsim_version_string
    end function
    function c_qdsim_pool_name(pool) bind(C, name="qdsim_pool_name")
      import :: c_ptr, c_int32_t
      integer(c_int32_t), value :: pool
      type(c_ptr) :: c_qdsim_pool_name
    end function
    function c_qdsim_set_solver_threads(threads) bind(C, name="qdsim_set_solver_threads")
      import :: c_int32_t, c_size_t
      integer(c_size_t), value :: threads
      integer(c_int32_t) :: c_qdsim_set_solver_threads
    end function
    function c_qdsim_solver_threads(threads) bind(C, name="qdsim_solver_threads")
      import :: c_int32_t, c_size_t
      integer(c_size_t), intent(out) :: threads
      integer(c_int32_t) :: c_qdsim_solver_threads
    end function
    function c_qdsim_manager_alloc_zeroed(m, pool, count, alignment, tag, out) &
         bind(C, name="qdsim_manager_alloc_zeroed")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: m
      integer(c_int32_t), value :: pool
      integer(c_size_t), value :: count, alignment
      type(c_ptr), value :: tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_alloc_zeroed
    end function
    function c_qdsim_manager_trim(m, released) bind(C, name="qdsim_manager_trim")
      import :: c_ptr, c_int32_t, c_int64_t
      type(c_ptr), value :: m
      integer(c_int64_t), intent(out) :: released
      integer(c_int32_t) :: c_qdsim_manager_trim
    end function
    function c_qdsim_manager_check(m) bind(C, name="qdsim_manager_check")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m
      integer(c_int32_t) :: c_qdsim_manager_check
    end function
    function c_qdsim_manager_pool_stats(m, pool, out) bind(C, name="qdsim_manager_pool_stats")
      import :: c_ptr, c_int32_t, qdsim_stats
      type(c_ptr), value :: m
      integer(c_int32_t), value :: pool
      type(qdsim_stats), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_pool_stats
    end function
    function c_qdsim_manager_tag_stats(m, tag, out) bind(C, name="qdsim_manager_tag_stats")
      import :: c_ptr, c_int32_t, qdsim_tag_stats
      type(c_ptr), value :: m, tag
      type(qdsim_tag_stats), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_tag_stats
    end function
    function c_qdsim_manager_tag_count(m, count) bind(C, name="qdsim_manager_tag_count")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: m
      integer(c_size_t), intent(out) :: count
      integer(c_int32_t) :: c_qdsim_manager_tag_count
    end function
    function c_qdsim_manager_tag_list(m, out, capacity, written) bind(C, name="qdsim_manager_tag_list")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: m, out
      integer(c_size_t), value :: capacity
      integer(c_size_t), intent(out) :: written
      integer(c_int32_t) :: c_qdsim_manager_tag_list
    end function
    function c_qdsim_manager_find(m, ptr, out) bind(C, name="qdsim_manager_find")
      import :: c_ptr, c_int32_t, qdsim_allocation_info
      type(c_ptr), value :: m, ptr
      type(qdsim_allocation_info), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_manager_find
    end function
    function c_qdsim_manager_set_event_log(m, on) bind(C, name="qdsim_manager_set_event_log")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m
      integer(c_int32_t), value :: on
      integer(c_int32_t) :: c_qdsim_manager_set_event_log
    end function
    function c_qdsim_manager_write_event_log(m, path) bind(C, name="qdsim_manager_write_event_log")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: m, path
      integer(c_int32_t) :: c_qdsim_manager_write_event_log
    end function
    function c_qdsim_replay_event_log(path, out, report) bind(C, name="qdsim_replay_event_log")
      import :: c_ptr, c_int32_t, qdsim_replay_summary
      type(c_ptr), value :: path
      type(qdsim_replay_summary), intent(out) :: out
      type(c_ptr), intent(out) :: report
      integer(c_int32_t) :: c_qdsim_replay_event_log
    end function
    function c_qdsim_profiler_sample(p) bind(C, name="qdsim_profiler_sample")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: p
      integer(c_int32_t) :: c_qdsim_profiler_sample
    end function
    function c_qdsim_profiler_export(p, format, text) bind(C, name="qdsim_profiler_export")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: p
      integer(c_int32_t), value :: format
      type(c_ptr), intent(out) :: text
      integer(c_int32_t) :: c_qdsim_profiler_export
    end function
    function c_qdsim_csr_builder_create(m, scalar, rows, cols, tag, out) bind(C, name="qdsim_csr_builder_create")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: m
      integer(c_int32_t), value :: scalar
      integer(c_size_t), value :: rows, cols
      type(c_ptr), value :: tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_csr_builder_create
    end function
    function c_qdsim_csr_builder_destroy(b) bind(C, name="qdsim_csr_builder_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: b
      integer(c_int32_t) :: c_qdsim_csr_builder_destroy
    end function
    function c_qdsim_csr_builder_add(b, row, col, value) bind(C, name="qdsim_csr_builder_add")
      import :: c_ptr, c_int32_t, c_size_t, c_double
      type(c_ptr), value :: b
      integer(c_size_t), value :: row, col
      real(c_double), value :: value
      integer(c_int32_t) :: c_qdsim_csr_builder_add
    end function
    ! qdsim_complex {double re, im} by value is passed like a C double _Complex (two SSE
    ! registers on x86-64, two FP registers on AArch64), so complex(c_double_complex), value fits.
    function c_qdsim_csr_builder_add_complex(b, row, col, value) bind(C, name="qdsim_csr_builder_add_complex")
      import :: c_ptr, c_int32_t, c_size_t, c_double_complex
      type(c_ptr), value :: b
      integer(c_size_t), value :: row, col
      complex(c_double_complex), value :: value
      integer(c_int32_t) :: c_qdsim_csr_builder_add_complex
    end function
    function c_qdsim_csr_builder_finalize(b, out) bind(C, name="qdsim_csr_builder_finalize")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: b
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_csr_builder_finalize
    end function
    function c_qdsim_csr_get_info(h, out) bind(C, name="qdsim_csr_get_info")
      import :: c_ptr, c_int32_t, qdsim_csr_info
      type(c_ptr), value :: h
      type(qdsim_csr_info), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_csr_get_info
    end function
    function c_qdsim_csr_arrays(h, row_ptr, col_idx, values) bind(C, name="qdsim_csr_arrays")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      type(c_ptr), intent(out) :: row_ptr, col_idx, values
      integer(c_int32_t) :: c_qdsim_csr_arrays
    end function
    function c_qdsim_csr_spmv(h, alpha, x, beta, y) bind(C, name="qdsim_csr_spmv")
      import :: c_ptr, c_int32_t, c_double
      type(c_ptr), value :: h
      real(c_double), value :: alpha, beta
      real(c_double), intent(in) :: x(*)
      real(c_double), intent(inout) :: y(*)
      integer(c_int32_t) :: c_qdsim_csr_spmv
    end function
    function c_qdsim_csr_spmv_complex(h, alpha, x, beta, y) bind(C, name="qdsim_csr_spmv_complex")
      import :: c_ptr, c_int32_t, c_double_complex
      type(c_ptr), value :: h
      complex(c_double_complex), value :: alpha, beta
      complex(c_double_complex), intent(in) :: x(*)
      complex(c_double_complex), intent(inout) :: y(*)
      integer(c_int32_t) :: c_qdsim_csr_spmv_complex
    end function
    function c_qdsim_csr_solve_lowest(h, options, out) bind(C, name="qdsim_csr_solve_lowest")
      import :: c_ptr, c_int32_t, qdsim_eigen_options
      type(c_ptr), value :: h
      type(qdsim_eigen_options), intent(in) :: options
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_csr_solve_lowest
    end function
    function c_qdsim_hamiltonian_operator(m, desc, scalar, tag, out) bind(C, name="qdsim_hamiltonian_operator")
      import :: c_ptr, c_int32_t, qdsim_hamiltonian_desc
      type(c_ptr), value :: m
      type(qdsim_hamiltonian_desc), intent(in) :: desc
      integer(c_int32_t), value :: scalar
      type(c_ptr), value :: tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_hamiltonian_operator
    end function
    function c_qdsim_operator_destroy(op) bind(C, name="qdsim_operator_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: op
      integer(c_int32_t) :: c_qdsim_operator_destroy
    end function
    function c_qdsim_operator_get_info(op, out) bind(C, name="qdsim_operator_get_info")
      import :: c_ptr, c_int32_t, qdsim_operator_info
      type(c_ptr), value :: op
      type(qdsim_operator_info), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_operator_get_info
    end function
    function c_qdsim_operator_apply(op, alpha, x, beta, y) bind(C, name="qdsim_operator_apply")
      import :: c_ptr, c_int32_t, c_double
      type(c_ptr), value :: op
      real(c_double), value :: alpha, beta
      real(c_double), intent(in) :: x(*)
      real(c_double), intent(inout) :: y(*)
      integer(c_int32_t) :: c_qdsim_operator_apply
    end function
    function c_qdsim_operator_apply_complex(op, alpha, x, beta, y) bind(C, name="qdsim_operator_apply_complex")
      import :: c_ptr, c_int32_t, c_double_complex
      type(c_ptr), value :: op
      complex(c_double_complex), value :: alpha, beta
      complex(c_double_complex), intent(in) :: x(*)
      complex(c_double_complex), intent(inout) :: y(*)
      integer(c_int32_t) :: c_qdsim_operator_apply_complex
    end function
    function c_qdsim_operator_to_csr(op, tag, out) bind(C, name="qdsim_operator_to_csr")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: op, tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_operator_to_csr
    end function
    function c_qdsim_mapped_create_dense(path, scalar, rows, cols, out) bind(C, name="qdsim_mapped_create_dense")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: path
      integer(c_int32_t), value :: scalar
      integer(c_size_t), value :: rows, cols
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_create_dense
    end function
    function c_qdsim_mapped_get_info(h, out) bind(C, name="qdsim_mapped_get_info")
      import :: c_ptr, c_int32_t, qdsim_mapped_info
      type(c_ptr), value :: h
      type(qdsim_mapped_info), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_get_info
    end function
    function c_qdsim_mapped_data(h, data, ld) bind(C, name="qdsim_mapped_data")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: h
      type(c_ptr), intent(out) :: data
      integer(c_size_t), intent(out) :: ld
      integer(c_int32_t) :: c_qdsim_mapped_data
    end function
    function c_qdsim_mapped_data_mut(h, data, ld) bind(C, name="qdsim_mapped_data_mut")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: h
      type(c_ptr), intent(out) :: data
      integer(c_size_t), intent(out) :: ld
      integer(c_int32_t) :: c_qdsim_mapped_data_mut
    end function
    function c_qdsim_mapped_csr_arrays(h, row_ptr, col_idx, values) bind(C, name="qdsim_mapped_csr_arrays")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      type(c_ptr), intent(out) :: row_ptr, col_idx, values
      integer(c_int32_t) :: c_qdsim_mapped_csr_arrays
    end function
    function c_qdsim_mapped_read_columns(h, scalar, first, count, dst, ld_dst) bind(C, name="qdsim_mapped_read_columns")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: h, dst
      integer(c_int32_t), value :: scalar
      integer(c_size_t), value :: first, count, ld_dst
      integer(c_int32_t) :: c_qdsim_mapped_read_columns
    end function
    function c_qdsim_mapped_write_columns(h, scalar, first, count, src, ld_src) &
         bind(C, name="qdsim_mapped_write_columns")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: h, src
      integer(c_int32_t), value :: scalar
      integer(c_size_t), value :: first, count, ld_src
      integer(c_int32_t) :: c_qdsim_mapped_write_columns
    end function
    function c_qdsim_mapped_grow(h, cols) bind(C, name="qdsim_mapped_grow")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: h
      integer(c_size_t), value :: cols
      integer(c_int32_t) :: c_qdsim_mapped_grow
    end function
    function c_qdsim_mapped_flush(h) bind(C, name="qdsim_mapped_flush")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: c_qdsim_mapped_flush
    end function
    function c_qdsim_mapped_finalize(h) bind(C, name="qdsim_mapped_finalize")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: c_qdsim_mapped_finalize
    end function
    function c_qdsim_mapped_to_csr(h, m, tag, out) bind(C, name="qdsim_mapped_to_csr")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h, m, tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_to_csr
    end function
    function c_qdsim_mapped_from_matrix(a, path, out) bind(C, name="qdsim_mapped_from_matrix")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: a, path
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_from_matrix
    end function
    function c_qdsim_mapped_to_matrix(h, m, tag, out) bind(C, name="qdsim_mapped_to_matrix")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h, m, tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_to_matrix
    end function
    function c_qdsim_mapped_solve_lowest(m, h, options, out) bind(C, name="qdsim_mapped_solve_lowest")
      import :: c_ptr, c_int32_t, qdsim_eigen_options
      type(c_ptr), value :: m, h
      type(qdsim_eigen_options), intent(in) :: options
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_mapped_solve_lowest
    end function
    function c_qdsim_matrix_create(m, scalar, rows, cols, tag, out) bind(C, name="qdsim_matrix_create")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: m
      integer(c_int32_t), value :: scalar
      integer(c_size_t), value :: rows, cols
      type(c_ptr), value :: tag
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_matrix_create
    end function
    function c_qdsim_matrix_destroy(a) bind(C, name="qdsim_matrix_destroy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: a
      integer(c_int32_t) :: c_qdsim_matrix_destroy
    end function
    function c_qdsim_matrix_get_info(a, out) bind(C, name="qdsim_matrix_get_info")
      import :: c_ptr, c_int32_t, qdsim_matrix_info
      type(c_ptr), value :: a
      type(qdsim_matrix_info), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_matrix_get_info
    end function
    function c_qdsim_matrix_data(a, data) bind(C, name="qdsim_matrix_data")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: a
      type(c_ptr), intent(out) :: data
      integer(c_int32_t) :: c_qdsim_matrix_data
    end function
    function c_qdsim_matrix_copy(src, dst) bind(C, name="qdsim_matrix_copy")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: src, dst
      integer(c_int32_t) :: c_qdsim_matrix_copy
    end function
    function c_qdsim_matrix_transpose(src, dst) bind(C, name="qdsim_matrix_transpose")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: src, dst
      integer(c_int32_t) :: c_qdsim_matrix_transpose
    end function
    function c_qdsim_matrix_adjoint(src, dst) bind(C, name="qdsim_matrix_adjoint")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: src, dst
      integer(c_int32_t) :: c_qdsim_matrix_adjoint
    end function
    function c_qdsim_matrix_eigen_hermitian(a, k, out) bind(C, name="qdsim_matrix_eigen_hermitian")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: a
      integer(c_size_t), value :: k
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_matrix_eigen_hermitian
    end function
    function c_qdsim_matrix_eigen_general(a, out) bind(C, name="qdsim_matrix_eigen_general")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: a
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_matrix_eigen_general
    end function
    function c_qdsim_gpu_device_count(count) bind(C, name="qdsim_gpu_device_count")
      import :: c_int32_t
      integer(c_int32_t), intent(out) :: count
      integer(c_int32_t) :: c_qdsim_gpu_device_count
    end function
    ! Device addresses are uint64_t in C: integer(c_int64_t) of the same width here.
    function c_qdsim_gpu_alloc(pool, bytes, tag, device_ptr) bind(C, name="qdsim_gpu_alloc")
      import :: c_ptr, c_int32_t, c_size_t, c_int64_t
      type(c_ptr), value :: pool, tag
      integer(c_size_t), value :: bytes
      integer(c_int64_t), intent(out) :: device_ptr
      integer(c_int32_t) :: c_qdsim_gpu_alloc
    end function
    function c_qdsim_gpu_free(pool, device_ptr) bind(C, name="qdsim_gpu_free")
      import :: c_ptr, c_int32_t, c_int64_t
      type(c_ptr), value :: pool
      integer(c_int64_t), value :: device_ptr
      integer(c_int32_t) :: c_qdsim_gpu_free
    end function
    function c_qdsim_gpu_copy_to_host(pool, dst, src, bytes) bind(C, name="qdsim_gpu_copy_to_host")
      import :: c_ptr, c_int32_t, c_int64_t, c_size_t
      type(c_ptr), value :: pool, dst
      integer(c_int64_t), value :: src
      integer(c_size_t), value :: bytes
      integer(c_int32_t) :: c_qdsim_gpu_copy_to_host
    end function
    function c_qdsim_gpu_copy_to_device(pool, dst, src, bytes) bind(C, name="qdsim_gpu_copy_to_device")
      import :: c_ptr, c_int32_t, c_int64_t, c_size_t
      type(c_ptr), value :: pool, src
      integer(c_int64_t), value :: dst
      integer(c_size_t), value :: bytes
      integer(c_int32_t) :: c_qdsim_gpu_copy_to_device
    end function
    function c_qdsim_gpu_pool_stats(pool, out) bind(C, name="qdsim_gpu_pool_stats")
      import :: c_ptr, c_int32_t, qdsim_stats
      type(c_ptr), value :: pool
      type(qdsim_stats), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_gpu_pool_stats
    end function
    function c_qdsim_gpu_pool_pinned_stats(pool, out) bind(C, name="qdsim_gpu_pool_pinned_stats")
      import :: c_ptr, c_int32_t, qdsim_stats
      type(c_ptr), value :: pool
      type(qdsim_stats), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_gpu_pool_pinned_stats
    end function
    function c_qdsim_gpu_pool_tag_stats(pool, tag, out) bind(C, name="qdsim_gpu_pool_tag_stats")
      import :: c_ptr, c_int32_t, qdsim_tag_stats
      type(c_ptr), value :: pool, tag
      type(qdsim_tag_stats), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_gpu_pool_tag_stats
    end function
    function c_qdsim_gpu_pool_leak_report(pool, report) bind(C, name="qdsim_gpu_pool_leak_report")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: pool
      type(c_ptr), intent(out) :: report
      integer(c_int32_t) :: c_qdsim_gpu_pool_leak_report
    end function
    function c_qdsim_gpu_pinned_alloc(pool, bytes, tag, out) bind(C, name="qdsim_gpu_pinned_alloc")
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: pool, tag
      integer(c_size_t), value :: bytes
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: c_qdsim_gpu_pinned_alloc
    end function
    function c_qdsim_gpu_pinned_free(pool, ptr) bind(C, name="qdsim_gpu_pinned_free")
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: pool, ptr
      integer(c_int32_t) :: c_qdsim_gpu_pinned_free
    end function
  end interface

contains

  ! ---- helpers ---------------------------------------------------------------------------

  !> A Fortran copy of the NUL-terminated C string at `p`.
  function from_c(p) result(text)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: text
    character(kind=c_char), pointer :: chars(:)
    integer(c_size_t) :: n, i
    if (.not. c_associated(p)) then
      text = ""
      return
    end if
    n = c_strlen(p)
    call c_f_pointer(p, chars, [n])
    allocate(character(len=n) :: text)
    do i = 1, n
      text(i:i) = chars(i)
    end do
  end function from_c

  !> `text` as a NUL-terminated C string in `buffer` (kept alive by the caller).
  subroutine to_c(text, buffer)
    character(len=*), intent(in) :: text
    character(kind=c_char), allocatable, target, intent(out) :: buffer(:)
    allocate(buffer(len_trim(text) + 1))
    call fill_c(text, buffer)
  end subroutine to_c

  !> `text` (its trailing blanks dropped) and a NUL written to the start of `buffer`, which
  !> holds at least len_trim(text) + 1 characters.
  subroutine fill_c(text, buffer)
    character(len=*), intent(in) :: text
    character(kind=c_char), intent(inout) :: buffer(:)
    integer :: i
    do i = 1, len_trim(text)
      buffer(i) = text(i:i)
    end do
    buffer(len_trim(text) + 1) = c_null_char
  end subroutine fill_c

  !> An optional logical as a C int flag: 1 when present and true, else 0.
  pure function c_flag(flag) result(value)
    logical, intent(in), optional :: flag
    integer(c_int32_t) :: value
    value = 0
    if (present(flag)) then
      if (flag) value = 1
    end if
  end function c_flag

  !> Hands `st` to the caller's `status`; without one, a failure writes the library's message to
  !> stderr and stops the program (Fortran 2008 allows only a constant stop code, so the message
  !> goes to error_unit first and `error stop 1` follows).
  subroutine report(st, status)
    use, intrinsic :: iso_fortran_env, only: error_unit
    integer(c_int32_t), intent(in) :: st
    integer(c_int32_t), intent(out), optional :: status
    if (present(status)) then
      status = st
    else if (st /= QDSIM_OK) then
      write (error_unit, '(a)') 'qdsim_mem: ' // qdsim_status_name(st) // ': ' // qdsim_last_error()
      error stop 1
    end if
  end subroutine report

  !> Checks `shape` (see shape_arg) into `extents` (one per rank of the array) and calls
  !> qdsim_manager_alloc (qdsim_manager_alloc_zeroed when `zeroed`) for that many elements of
  !> `pool`, tagged `tag` (if present).
  function raw_alloc(m, pool, shape, tag, zeroed, p, extents) result(st)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), intent(in) :: pool
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    logical, intent(in), optional :: zeroed
    type(c_ptr), intent(out) :: p
    integer(c_int64_t), intent(out) :: extents(:)
    integer(c_int32_t) :: st
    ! Tags the library accepts (at most 63 bytes) are passed from this buffer on the stack:
    ! no allocation per call. A longer one goes through `ctag` (and is refused by the library).
    character(kind=c_char), target :: short_tag(64)
    character(kind=c_char), allocatable, target :: ctag(:)
    type(c_ptr) :: ctag_ptr
    integer(c_size_t) :: count
    p = c_null_ptr
    st = shape_arg(shape, 'qdsim_allocate', extents)
    if (st /= QDSIM_OK) return
    count = int(product(extents), c_size_t)
    ctag_ptr = c_null_ptr
    if (present(tag)) then
      if (len_trim(tag) < size(short_tag)) then
        call fill_c(tag, short_tag)
        ctag_ptr = c_loc(short_tag)
      else
        ctag_ptr = c_str_or_null(tag, ctag)
      end if
    end if
    if (c_flag(zeroed) == 1) then
      st = c_qdsim_manager_alloc_zeroed(m%ptr, pool, count, 0_c_size_t, ctag_ptr, p)
    else
      st = c_qdsim_manager_alloc(m%ptr, pool, count, 0_c_size_t, ctag_ptr, p)
    end if
  end function raw_alloc

  !> c_loc of `text` as a C string kept in `buffer`, or c_null_ptr when `text` is absent.
  function c_str_or_null(text, buffer) result(p)
    character(len=*), intent(in), optional :: text
    character(kind=c_char), allocatable, target, intent(inout) :: buffer(:)
    type(c_ptr) :: p
    p = c_null_ptr
    if (present(text)) then
      call to_c(text, buffer)
      p = c_loc(buffer)
    end if
  end function c_str_or_null

  !> A Fortran copy of the library-owned string `p` (freed here) when `st` is QDSIM_OK, else "".
  function take_string(st, p) result(text)
    integer(c_int32_t), intent(inout) :: st
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: text
    text = ""
    if (st == QDSIM_OK) then
      text = from_c(p)
      st = c_qdsim_string_free(p)
    end if
  end function take_string

  !> `n` in decimal.
  function itoa(n) result(text)
    integer(c_int64_t), intent(in) :: n
    character(len=:), allocatable :: text
    character(len=24) :: buffer
    write (buffer, '(i0)') n
    text = trim(buffer)
  end function itoa

  !> Refuses a call on the module's side: `message` ("procedure: reason") becomes this thread's
  !> qdsim_last_error(), as for a refusal by the library; returns QDSIM_ERR_INVALID_ARGUMENT.
  function refuse(message) result(st)
    character(len=*), intent(in) :: message
    integer(c_int32_t) :: st
    character(kind=c_char), allocatable, target :: cmessage(:)
    call to_c(message, cmessage)
    ! It fails only for a NULL message, which this is not.
    st = c_qdsim_set_last_error_message(c_loc(cmessage))
    st = QDSIM_ERR_INVALID_ARGUMENT
  end function refuse

  !> The integer argument `value` as 64 bits: it may be of kind c_int32_t (default integers) or
  !> c_int64_t. Another type or kind, or a value below `minimum`, is refused (st, unless st
  !> already holds a failure) with a message naming `what` ("procedure: argument").
  function int_arg(value, minimum, what, st) result(v)
    class(*), intent(in) :: value
    integer(c_int64_t), intent(in) :: minimum
    character(len=*), intent(in) :: what
    integer(c_int32_t), intent(inout) :: st
    integer(c_int64_t) :: v
    if (.not. int_value(value, v)) then
      v = minimum
      if (st == QDSIM_OK) st = refuse(what // ' must be an integer of kind c_int32_t (default) or c_int64_t')
      return
    end if
    if (v < minimum) then
      if (st == QDSIM_OK) st = refuse(what // ' is ' // itoa(v) // ', below ' // itoa(minimum))
      v = minimum
    end if
  end function int_arg

  !> The extents `shape` (kind c_int32_t or c_int64_t, none negative) of an array of rank
  !> size(extents), or a refusal naming `what`.
  function shape_arg(shape, what, extents) result(st)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in) :: what
    integer(c_int64_t), intent(out) :: extents(:)
    integer(c_int32_t) :: st
    integer :: i
    logical :: integer_extent
    st = QDSIM_OK
    extents = 0
    if (size(shape) /= size(extents)) then
      st = refuse(what // ': shape has ' // itoa(int(size(shape), c_int64_t)) // &
           ' extents for an array of rank ' // itoa(int(size(extents), c_int64_t)))
      return
    end if
    do i = 1, size(shape)
      ! The message of a refusal is built only for one (itoa is formatted output: slow).
      integer_extent = int_value(shape(i), extents(i))
      if (.not. integer_extent .or. extents(i) < 0) then
        extents(i) = int_arg(shape(i), 0_c_int64_t, what // ': extent ' // itoa(int(i, c_int64_t)), st)
      end if
    end do
  end function shape_arg

  !> True, with `v` set, when `value` is an integer of kind c_int32_t or c_int64_t (else `v` is
  !> 0): the check of int_arg and shape_arg, without a message.
  logical function int_value(value, v)
    class(*), intent(in) :: value
    integer(c_int64_t), intent(out) :: v
    int_value = .true.
    v = 0
    select type (value)
    type is (integer(c_int32_t))
      v = int(value, c_int64_t)
    type is (integer(c_int64_t))
      v = value
    class default
      int_value = .false.
    end select
  end function int_value

  !> QDSIM_OK when a handle's elements (`actual`, a QDSIM_SCALAR_* value) are those of the
  !> caller's array (`wanted`), else a refusal naming `what`.
  function check_scalar(what, actual, wanted) result(st)
    character(len=*), intent(in) :: what
    integer(c_int32_t), intent(in) :: actual, wanted
    integer(c_int32_t) :: st
    character(len=*), parameter :: names(0:1) = [character(len=25) :: &
         'real(c_double)', 'complex(c_double_complex)']
    st = QDSIM_OK
    if (actual /= wanted) st = refuse(what // ': the elements are ' // trim(names(actual)) // &
         ', the array is ' // trim(names(wanted)))
  end function check_scalar

  !> QDSIM_OK when an array argument has `actual` elements where `expected` are needed, else a
  !> refusal naming `what`.
  function check_size(what, actual, expected) result(st)
    character(len=*), intent(in) :: what
    integer(c_int64_t), intent(in) :: actual, expected
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (actual /= expected) st = refuse(what // ' has ' // itoa(actual) // ' elements, ' // &
         itoa(expected) // ' expected')
  end function check_size

  ! ---- library ----------------------------------------------------------------------------

  !> The ABI version of the loaded library (compare with QDSIM_MEM_ABI_VERSION).
  function qdsim_abi_version() result(v)
    integer(c_int32_t) :: v
    v = c_qdsim_abi_version()
  end function qdsim_abi_version

  !> The message of this thread's last failed call.
  function qdsim_last_error() result(text)
    character(len=:), allocatable :: text
    text = from_c(c_qdsim_last_error_message())
  end function qdsim_last_error

  !> The name of a status code ("QDSIM_ERR_LIMIT_EXCEEDED", …).
  function qdsim_status_name(status) result(text)
    integer(c_int32_t), intent(in) :: status
    character(len=:), allocatable :: text
    text = from_c(c_qdsim_status_string(status))
  end function qdsim_status_name

  ! ---- manager ----------------------------------------------------------------------------

  !> The default manager settings.
  subroutine qdsim_manager_config_default(config, status)
    type(qdsim_manager_config), intent(out) :: config
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_config_default(config), status)
  end subroutine qdsim_manager_config_default

  !> Creates a manager (with `config`, or the defaults).
  subroutine qdsim_create(m, config, status)
    type(qdsim_manager), intent(out) :: m
    type(qdsim_manager_config), intent(in), target, optional :: config
    integer(c_int32_t), intent(out), optional :: status
    if (present(config)) then
      call report(c_qdsim_manager_create(c_loc(config), m%ptr), status)
    else
      call report(c_qdsim_manager_create(c_null_ptr, m%ptr), status)
    end if
  end subroutine qdsim_create

  !> Destroys a manager (frees everything still allocated from it, reporting leaks on stderr).
  subroutine qdsim_destroy(m, status)
    type(qdsim_manager), intent(inout) :: m
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_destroy(m%ptr), status)
    m%ptr = c_null_ptr
  end subroutine qdsim_destroy

  !> Totals over all pools.
  subroutine qdsim_get_stats(m, stats, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_stats), intent(out) :: stats
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_stats(m%ptr, stats), status)
  end subroutine qdsim_get_stats

  !> How many allocations are live and how many bytes they hold.
  subroutine qdsim_get_leak_summary(m, summary, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_leak_summary), intent(out) :: summary
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_leak_summary(m%ptr, summary), status)
  end subroutine qdsim_get_leak_summary

  !> The allocation report as text.
  function qdsim_allocation_report(m, status) result(text)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), intent(out), optional :: status
    character(len=:), allocatable :: text
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = c_qdsim_manager_allocation_report(m%ptr, p)
    text = ""
    if (st == QDSIM_OK) then
      text = from_c(p)
      st = c_qdsim_string_free(p)
    end if
    call report(st, status)
  end function qdsim_allocation_report

  !> The leak report (the live allocations) as text.
  function qdsim_leak_report(m, status) result(text)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), intent(out), optional :: status
    character(len=:), allocatable :: text
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = c_qdsim_manager_leak_report(m%ptr, p)
    text = ""
    if (st == QDSIM_OK) then
      text = from_c(p)
      st = c_qdsim_string_free(p)
    end if
    call report(st, status)
  end function qdsim_leak_report

  ! ---- profiler, scopes and leak checks ----------------------------------------------------

  !> A profiler of `m` sampling every `interval_s` seconds (default 0.1), not yet started.
  subroutine qdsim_profiler_create(m, p, interval_s, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_profiler), intent(out) :: p
    real(c_double), intent(in), optional :: interval_s
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_profiler_config) :: c
    integer(c_int32_t) :: st
    st = c_qdsim_profiler_config_default(c)
    if (present(interval_s)) c%interval_s = interval_s
    if (st == QDSIM_OK) st = c_qdsim_profiler_create(m%ptr, c, p%ptr)
    call report(st, status)
  end subroutine qdsim_profiler_create

  !> Starts sampling.
  subroutine qdsim_profiler_start(p, status)
    type(qdsim_profiler), intent(in) :: p
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_profiler_start(p%ptr), status)
  end subroutine qdsim_profiler_start

  !> Stops sampling (the history stays).
  subroutine qdsim_profiler_stop(p, status)
    type(qdsim_profiler), intent(in) :: p
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_profiler_stop(p%ptr), status)
  end subroutine qdsim_profiler_stop

  !> A named event on the timeline ("assembly done").
  subroutine qdsim_profiler_mark(p, label, status)
    type(qdsim_profiler), intent(in) :: p
    character(len=*), intent(in) :: label
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: clabel(:)
    call to_c(label, clabel)
    call report(c_qdsim_profiler_mark(p%ptr, c_loc(clabel)), status)
  end subroutine qdsim_profiler_mark

  !> What the profiler recorded so far.
  subroutine qdsim_profiler_summary(p, summary, status)
    type(qdsim_profiler), intent(in) :: p
    type(qdsim_profile_summary), intent(out) :: summary
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_profiler_summary(p%ptr, summary), status)
  end subroutine qdsim_profiler_summary

  !> Writes the history to `path` as QDSIM_FORMAT_CSV, QDSIM_FORMAT_JSON or QDSIM_FORMAT_SVG.
  subroutine qdsim_profiler_write(p, format, path, status)
    type(qdsim_profiler), intent(in) :: p
    integer(c_int32_t), intent(in) :: format
    character(len=*), intent(in) :: path
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_profiler_write(p%ptr, format, c_loc(cpath)), status)
  end subroutine qdsim_profiler_write

  !> Stops and destroys the profiler.
  subroutine qdsim_profiler_destroy(p, status)
    type(qdsim_profiler), intent(inout) :: p
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_profiler_destroy(p%ptr), status)
    p%ptr = c_null_ptr
  end subroutine qdsim_profiler_destroy

  !> Opens a scope named `name` (phase statistics until qdsim_pop_scope; scopes nest).
  subroutine qdsim_push_scope(m, name, status)
    type(qdsim_manager), intent(in) :: m
    character(len=*), intent(in) :: name
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cname(:)
    call to_c(name, cname)
    call report(c_qdsim_manager_push_scope(m%ptr, c_loc(cname)), status)
  end subroutine qdsim_push_scope

  !> Closes the innermost scope and returns its statistics.
  subroutine qdsim_pop_scope(m, stats, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_scope_stats), intent(out) :: stats
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_pop_scope(m%ptr, stats), status)
  end subroutine qdsim_pop_scope

  !> A point in the allocation history, for qdsim_leaks_since.
  subroutine qdsim_checkpoint(m, checkpoint, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), intent(out) :: checkpoint
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_checkpoint(m%ptr, checkpoint), status)
  end subroutine qdsim_checkpoint

  !> The allocations made after `checkpoint` that are still live; is_leak = 1 when their bytes
  !> reach `threshold_bytes`.
  subroutine qdsim_leaks_since(m, checkpoint, threshold_bytes, check, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), intent(in) :: checkpoint, threshold_bytes
    type(qdsim_leak_check), intent(out) :: check
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_leaks_since(m%ptr, checkpoint, threshold_bytes, check, c_null_ptr), status)
  end subroutine qdsim_leaks_since

  ! ---- Hamiltonians -----------------------------------------------------------------------

  !> A hard-wall box: lengths(a) nm with points(a) interior points per axis (points of kind
  !> c_int32_t or c_int64_t, as many as lengths).
  subroutine qdsim_grid_box(lengths, points, grid, status)
    real(c_double), intent(in) :: lengths(:)
    class(*), intent(in) :: points(:)
    type(qdsim_grid), intent(out) :: grid
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: extents(size(lengths))
    integer(c_int32_t) :: st
    st = shape_arg(points, 'qdsim_grid_box: points', extents)
    if (st == QDSIM_OK) st = c_qdsim_grid_box(int(size(lengths), c_int32_t), lengths, int(extents, c_size_t), grid)
    call report(st, status)
  end subroutine qdsim_grid_box

  !> The parabolic dot's potential V = (hbar omega)^2 r^2 / (4 hbar^2/2m*) in eV at every point of
  !> `grid` (r from the box's centre; `mass` in m0, `hbar_omega` in eV) into `v` (one value per
  !> point, x fastest). `v` is unchanged on failure.
  subroutine qdsim_parabolic_potential(grid, mass, hbar_omega, v, status)
    type(qdsim_grid), intent(in) :: grid
    real(c_double), intent(in) :: mass, hbar_omega
    real(c_double), intent(inout), contiguous :: v(:)
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_parabolic_potential(grid, mass, hbar_omega, v, int(size(v), c_size_t)), status)
  end subroutine qdsim_parabolic_potential

  !> The open dot's potential: `height` eV on the shell radius <= r < radius + thickness (nm)
  !> about the box's centre, 0 elsewhere, into `v` (unchanged on failure).
  subroutine qdsim_open_dot_potential(grid, radius, thickness, height, v, status)
    type(qdsim_grid), intent(in) :: grid
    real(c_double), intent(in) :: radius, thickness, height
    real(c_double), intent(inout), contiguous :: v(:)
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_open_dot_potential(grid, radius, thickness, height, v, int(size(v), c_size_t)), &
         status)
  end subroutine qdsim_open_dot_potential

  !> A description with the library's defaults (GaAs mass, no field, no absorber, no grid).
  subroutine qdsim_hamiltonian_desc_default(desc, status)
    type(qdsim_hamiltonian_desc), intent(out) :: desc
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_hamiltonian_desc_default(desc), status)
  end subroutine qdsim_hamiltonian_desc_default

  !> The Hamiltonian as a CSR matrix (complex when it has a field or an absorber).
  subroutine qdsim_hamiltonian_csr(m, desc, h, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_hamiltonian_desc), intent(in) :: desc
    type(qdsim_csr), intent(out) :: h
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_hamiltonian_csr(m%ptr, desc, QDSIM_SCALAR_AUTO, c_null_ptr, h%ptr), status)
  end subroutine qdsim_hamiltonian_csr

  !> Destroys a CSR matrix.
  subroutine qdsim_csr_destroy(h, status)
    type(qdsim_csr), intent(inout) :: h
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_csr_destroy(h%ptr), status)
    h%ptr = c_null_ptr
  end subroutine qdsim_csr_destroy

  !> Writes CSR matrix `h` to a new mapped file `path` (finalized, checksummed) and opens it,
  !> writable, into `out`.
  subroutine qdsim_mapped_from_csr(h, path, out, status)
    type(qdsim_csr), intent(in) :: h
    character(len=*), intent(in) :: path
    type(qdsim_mapped), intent(out) :: out
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_mapped_from_csr(h%ptr, c_loc(cpath), out%ptr), status)
  end subroutine qdsim_mapped_from_csr

  !> Opens the finalized mapped-matrix file `path` (read-only unless `writable`) into `h`.
  subroutine qdsim_mapped_open(path, h, writable, status)
    character(len=*), intent(in) :: path
    type(qdsim_mapped), intent(out) :: h
    logical, intent(in), optional :: writable
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_mapped_open(c_loc(cpath), c_flag(writable), h%ptr), status)
  end subroutine qdsim_mapped_open

  !> Like qdsim_mapped_open, after checking all of the data against the file's checksums.
  subroutine qdsim_mapped_open_verified(path, h, writable, status)
    character(len=*), intent(in) :: path
    type(qdsim_mapped), intent(out) :: h
    logical, intent(in), optional :: writable
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_mapped_open_verified(c_loc(cpath), c_flag(writable), h%ptr), status)
  end subroutine qdsim_mapped_open_verified

  !> Checks all of the data of `h` against its file's checksums: QDSIM_ERR_CORRUPT_FILE on damage,
  !> QDSIM_ERR_INVALID_ARGUMENT for a file without checksums (format version 1).
  subroutine qdsim_mapped_verify(h, status)
    type(qdsim_mapped), intent(in) :: h
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_mapped_verify(h%ptr), status)
  end subroutine qdsim_mapped_verify

  !> Unmaps the file and destroys the handle.
  subroutine qdsim_mapped_destroy(h, status)
    type(qdsim_mapped), intent(inout) :: h
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_mapped_destroy(h%ptr), status)
    h%ptr = c_null_ptr
  end subroutine qdsim_mapped_destroy

  !> Writes `h` to `path` in PETSc's binary format (for SLEPc: see the README).
  subroutine qdsim_csr_write_petsc(h, path, status)
    type(qdsim_csr), intent(in) :: h
    character(len=*), intent(in) :: path
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_csr_write_petsc(h%ptr, c_loc(cpath)), status)
  end subroutine qdsim_csr_write_petsc

  !> Writes `h` to `path` as a MatrixMarket coordinate file.
  subroutine qdsim_csr_write_matrix_market(h, path, status)
    type(qdsim_csr), intent(in) :: h
    character(len=*), intent(in) :: path
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_csr_write_matrix_market(h%ptr, c_loc(cpath)), status)
  end subroutine qdsim_csr_write_matrix_market

  !> Reads the MatrixMarket file `path` into a new CSR matrix `h` of manager `m`.
  subroutine qdsim_csr_read_matrix_market(m, path, h, status)
    type(qdsim_manager), intent(in) :: m
    character(len=*), intent(in) :: path
    type(qdsim_csr), intent(out) :: h
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_csr_read_matrix_market(m%ptr, c_loc(cpath), c_null_ptr, h%ptr), status)
  end subroutine qdsim_csr_read_matrix_market

  !> Reads the PETSc binary matrix file `path` into a new CSR matrix `h` of manager `m`.
  subroutine qdsim_csr_read_petsc(m, path, h, status)
    type(qdsim_manager), intent(in) :: m
    character(len=*), intent(in) :: path
    type(qdsim_csr), intent(out) :: h
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_csr_read_petsc(m%ptr, c_loc(cpath), c_null_ptr, h%ptr), status)
  end subroutine qdsim_csr_read_petsc

  ! ---- solvers ----------------------------------------------------------------------------

  !> The default solver options (k = 10, tolerance 1e-6, automatic method).
  subroutine qdsim_eigen_options_default(options, status)
    type(qdsim_eigen_options), intent(out) :: options
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_eigen_options_default(options), status)
  end subroutine qdsim_eigen_options_default

  !> The lowest options%k states of the grid Hamiltonian `desc`. A solve that stops short of the
  !> tolerance gives QDSIM_ERR_NOT_CONVERGED and still returns the partial result.
  subroutine qdsim_solve_lowest(m, desc, options, result, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_hamiltonian_desc), intent(in) :: desc
    type(qdsim_eigen_options), intent(in) :: options
    type(qdsim_eigen_result), intent(out) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_solve_lowest(m%ptr, desc, QDSIM_SCALAR_AUTO, options, result%ptr), status)
  end subroutine qdsim_solve_lowest

  !> Opens GPU `device` (0-based) and creates a pool of device memory on it with a limit of
  !> `limit_bytes` (0: none). QDSIM_ERR_NO_DEVICE, with the reason in qdsim_last_error(), where
  !> there is no driver or device or the library was built without the gpu feature.
  subroutine qdsim_gpu_pool_create(device, limit_bytes, pool, status)
    integer(c_int32_t), intent(in) :: device
    integer(c_int64_t), intent(in) :: limit_bytes
    type(qdsim_gpu_pool), intent(out) :: pool
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_gpu_pool_create(device, limit_bytes, pool%ptr), status)
  end subroutine qdsim_gpu_pool_create

  !> Destroys a GPU pool (a null pool is a no-op).
  subroutine qdsim_gpu_pool_destroy(pool, status)
    type(qdsim_gpu_pool), intent(inout) :: pool
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_gpu_pool_destroy(pool%ptr), status)
    pool%ptr = c_null_ptr
  end subroutine qdsim_gpu_pool_destroy

  !> qdsim_solve_lowest computed on the GPU of `pool` (multigrid LOBPCG on the device); the
  !> eigenvectors come back into the manager's pool, read with qdsim_result_vector as usual.
  subroutine qdsim_gpu_solve_lowest(pool, m, desc, options, result, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    type(qdsim_manager), intent(in) :: m
    type(qdsim_hamiltonian_desc), intent(in) :: desc
    type(qdsim_eigen_options), intent(in) :: options
    type(qdsim_eigen_result), intent(out) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_gpu_solve_lowest(pool%ptr, m%ptr, desc, QDSIM_SCALAR_AUTO, options, &
         result%ptr), status)
  end subroutine qdsim_gpu_solve_lowest

  !> The resonances E - i Gamma/2 nearest `target` (eV) of an assembled complex-symmetric CSR
  !> matrix (sparse-LU shift-invert); generic name qdsim_solve_resonances. QDSIM_ERR_NOT_CONVERGED
  !> (in `status`) still gives the partial result: info%converged good pairs first.
  subroutine qdsim_csr_resonances(h, target, k, tolerance, result, status)
    type(qdsim_csr), intent(in) :: h
    complex(c_double_complex), intent(in) :: target
    class(*), intent(in) :: k
    real(c_double), intent(in) :: tolerance
    type(qdsim_eigen_result), intent(out) :: result
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: n
    integer(c_int32_t) :: st
    st = QDSIM_OK
    n = int_arg(k, 1_c_int64_t, 'qdsim_solve_resonances: k', st)
    if (st == QDSIM_OK) st = c_qdsim_csr_solve_resonances(h%ptr, target, int(n, c_size_t), tolerance, 1_c_int64_t, &
         result%ptr)
    call report(st, status)
  end subroutine qdsim_csr_resonances

  !> The options%k resonances nearest `target` (eV) of the grid Hamiltonian `desc` (absorber set),
  !> matrix-free and coarse-to-fine; generic name qdsim_solve_resonances. QDSIM_ERR_NOT_CONVERGED
  !> (in `status`) still gives the partial result, converged pairs first.
  subroutine qdsim_grid_resonances(m, desc, target, options, result, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_hamiltonian_desc), intent(in) :: desc
    complex(c_double_complex), intent(in) :: target
    type(qdsim_eigen_options), intent(in) :: options
    type(qdsim_eigen_result), intent(out) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_solve_resonances(m%ptr, desc, target, options, result%ptr), status)
  end subroutine qdsim_grid_resonances

  !> What a result holds.
  subroutine qdsim_result_info(result, info, status)
    type(qdsim_eigen_result), intent(in) :: result
    type(qdsim_eigen_info), intent(out) :: info
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_eigen_result_info(result%ptr, info), status)
  end subroutine qdsim_result_info

  !> The real eigenvalues (eV, ascending) in a new array.
  subroutine qdsim_result_values(result, values, status)
    type(qdsim_eigen_result), intent(in) :: result
    real(c_double), allocatable, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_eigen_info) :: info
    integer(c_int32_t) :: st
    st = c_qdsim_eigen_result_info(result%ptr, info)
    if (st == QDSIM_OK) then
      allocate(values(info%count))
      st = c_qdsim_eigen_result_values(result%ptr, values)
    end if
    call report(st, status)
  end subroutine qdsim_result_values

  !> The eigenvalues as complex numbers in a new array.
  subroutine qdsim_result_complex_values(result, values, status)
    type(qdsim_eigen_result), intent(in) :: result
    complex(c_double_complex), allocatable, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_eigen_info) :: info
    integer(c_int32_t) :: st
    st = c_qdsim_eigen_result_info(result%ptr, info)
    if (st == QDSIM_OK) then
      allocate(values(info%count))
      st = c_qdsim_eigen_result_complex_values(result%ptr, values)
    end if
    call report(st, status)
  end subroutine qdsim_result_complex_values

  !> ‖Hx − λx‖ of every pair in a new array.
  subroutine qdsim_result_residuals(result, residuals, status)
    type(qdsim_eigen_result), intent(in) :: result
    real(c_double), allocatable, intent(out) :: residuals(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_eigen_info) :: info
    integer(c_int32_t) :: st
    st = c_qdsim_eigen_result_info(result%ptr, info)
    if (st == QDSIM_OK) then
      allocate(residuals(info%count))
      st = c_qdsim_eigen_result_residuals(result%ptr, residuals)
    end if
    call report(st, status)
  end subroutine qdsim_result_residuals

  !> Destroys a result.
  subroutine qdsim_result_destroy(result, status)
    type(qdsim_eigen_result), intent(inout) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_eigen_result_destroy(result%ptr), status)
    result%ptr = c_null_ptr
  end subroutine qdsim_result_destroy

  ! ---- library: version, pools, solver threads ---------------------------------------------

  !> The library's version as text ("3.0.0").
  function qdsim_version() result(text)
    character(len=:), allocatable :: text
    text = from_c(c_qdsim_version_string())
  end function qdsim_version

  !> The short name of pool `pool` ("f64", "complex64", …), or "unknown".
  function qdsim_pool_name(pool) result(text)
    integer(c_int32_t), intent(in) :: pool
    character(len=:), allocatable :: text
    text = from_c(c_qdsim_pool_name(pool))
  end function qdsim_pool_name

  !> Makes every solve started from now on use `threads` threads (0: one per core); an integer
  !> of kind c_int32_t or c_int64_t.
  subroutine qdsim_set_solver_threads(threads, status)
    class(*), intent(in) :: threads
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    integer(c_int64_t) :: n
    st = QDSIM_OK
    n = int_arg(threads, 0_c_int64_t, 'qdsim_set_solver_threads: threads', st)
    if (st == QDSIM_OK) st = c_qdsim_set_solver_threads(int(n, c_size_t))
    call report(st, status)
  end subroutine qdsim_set_solver_threads

  !> The number of threads a solve started now would use.
  subroutine qdsim_solver_threads(threads, status)
    integer(c_int64_t), intent(out) :: threads
    integer(c_int32_t), intent(out), optional :: status
    integer(c_size_t) :: n
    integer(c_int32_t) :: st
    n = 0
    st = c_qdsim_solver_threads(n)
    threads = int(n, c_int64_t)
    call report(st, status)
  end subroutine qdsim_solver_threads

  ! ---- manager: trim, check, statistics, tags, event log -----------------------------------

  !> Gives every entirely free chunk back to the system; `released` (optional) gets the bytes.
  subroutine qdsim_trim(m, released, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), intent(out), optional :: released
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: bytes
    bytes = 0
    call report(c_qdsim_manager_trim(m%ptr, bytes), status)
    if (present(released)) released = bytes
  end subroutine qdsim_trim

  !> The settings `m` runs with (defaults filled in, the debug mode decided).
  subroutine qdsim_get_config(m, config, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_manager_config), intent(out) :: config
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_get_config(m%ptr, config), status)
  end subroutine qdsim_get_config

  !> Verifies the manager's internal invariants (QDSIM_ERR_INTERNAL with a description if not);
  !> in the debug mode also every block's red zones (QDSIM_ERR_MEMORY_CORRUPTED naming the block's
  !> tag and the offset written).
  subroutine qdsim_check(m, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_check(m%ptr), status)
  end subroutine qdsim_check

  !> The counters of pool `pool` (a QDSIM_POOL_* value).
  subroutine qdsim_get_pool_stats(m, pool, stats, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), intent(in) :: pool
    type(qdsim_stats), intent(out) :: stats
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_pool_stats(m%ptr, pool, stats), status)
  end subroutine qdsim_get_pool_stats

  !> The statistics of tag `tag` ("" for untagged allocations); QDSIM_ERR_NOT_FOUND when unused.
  subroutine qdsim_get_tag_stats(m, tag, stats, status)
    type(qdsim_manager), intent(in) :: m
    character(len=*), intent(in) :: tag
    type(qdsim_tag_stats), intent(out) :: stats
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    call to_c(tag, ctag)
    call report(c_qdsim_manager_tag_stats(m%ptr, c_loc(ctag), stats), status)
  end subroutine qdsim_get_tag_stats

  !> The number of distinct tags used so far.
  subroutine qdsim_tag_count(m, count, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), intent(out) :: count
    integer(c_int32_t), intent(out), optional :: status
    integer(c_size_t) :: n
    n = 0
    call report(c_qdsim_manager_tag_count(m%ptr, n), status)
    count = int(n, c_int64_t)
  end subroutine qdsim_tag_count

  !> The statistics of every tag, most bytes in use first, in a new array.
  subroutine qdsim_tag_list(m, tags, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_tag_stats), allocatable, target, intent(out) :: tags(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_tag_stats), allocatable, target :: buffer(:)
    integer(c_size_t) :: n, written
    integer(c_int32_t) :: st
    n = 0
    written = 0
    ! Another thread may add tags between the count and the list: retry with the larger count.
    do
      st = c_qdsim_manager_tag_count(m%ptr, n)
      if (st /= QDSIM_OK) exit
      allocate(buffer(max(n, 1_c_size_t)))
      st = c_qdsim_manager_tag_list(m%ptr, c_loc(buffer), int(size(buffer), c_size_t), written)
      if (st /= QDSIM_ERR_BUFFER_TOO_SMALL) exit
      deallocate(buffer)
    end do
    if (st == QDSIM_OK) then
      tags = buffer(1:written)
    else
      allocate(tags(0))
    end if
    call report(st, status)
  end subroutine qdsim_tag_list

  !> Describes the live allocation that starts at `address` (c_loc(array)) in `info`;
  !> QDSIM_ERR_NOT_FOUND when it is not one of the manager's.
  subroutine qdsim_find(m, address, info, status)
    type(qdsim_manager), intent(in) :: m
    type(c_ptr), intent(in) :: address
    type(qdsim_allocation_info), intent(out) :: info
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_find(m%ptr, address, info), status)
  end subroutine qdsim_find

  !> Turns the allocation event log on or off.
  subroutine qdsim_set_event_log(m, on, status)
    type(qdsim_manager), intent(in) :: m
    logical, intent(in) :: on
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_manager_set_event_log(m%ptr, c_flag(on)), status)
  end subroutine qdsim_set_event_log

  !> Writes the events recorded so far to `path` as CSV.
  subroutine qdsim_write_event_log(m, path, status)
    type(qdsim_manager), intent(in) :: m
    character(len=*), intent(in) :: path
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_manager_write_event_log(m%ptr, c_loc(cpath)), status)
  end subroutine qdsim_write_event_log

  !> Re-runs the event log at `path` against a fresh manager: counts and peak in `summary`, the
  !> text report (with the size histogram) in `text` when present.
  subroutine qdsim_replay_event_log(path, summary, text, status)
    character(len=*), intent(in) :: path
    type(qdsim_replay_summary), intent(out) :: summary
    character(len=:), allocatable, intent(out), optional :: text
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    character(len=:), allocatable :: report_text
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    call to_c(path, cpath)
    st = c_qdsim_replay_event_log(c_loc(cpath), summary, p)
    report_text = take_string(st, p)
    if (present(text)) text = report_text
    call report(st, status)
  end subroutine qdsim_replay_event_log

  !> Records a sample now (works while stopped too).
  subroutine qdsim_profiler_sample(p, status)
    type(qdsim_profiler), intent(in) :: p
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_profiler_sample(p%ptr), status)
  end subroutine qdsim_profiler_sample

  !> The history as text in QDSIM_FORMAT_CSV, QDSIM_FORMAT_JSON or QDSIM_FORMAT_SVG.
  function qdsim_profiler_export(p, format, status) result(text)
    type(qdsim_profiler), intent(in) :: p
    integer(c_int32_t), intent(in) :: format
    integer(c_int32_t), intent(out), optional :: status
    character(len=:), allocatable :: text
    type(c_ptr) :: ptr
    integer(c_int32_t) :: st
    st = c_qdsim_profiler_export(p%ptr, format, ptr)
    text = take_string(st, ptr)
    call report(st, status)
  end function qdsim_profiler_export

  ! ---- CSR: builder, arrays, products, lowest states ---------------------------------------

  !> A builder for a `rows` x `cols` matrix of `scalar` (QDSIM_SCALAR_REAL or _COMPLEX); rows and
  !> cols are integers of kind c_int32_t or c_int64_t. The final arrays are tagged `tag`.*.
  subroutine qdsim_csr_builder_create(m, scalar, rows, cols, builder, tag, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), intent(in) :: scalar
    class(*), intent(in) :: rows, cols
    type(qdsim_csr_builder), intent(out) :: builder
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    integer(c_int64_t) :: nr, nc
    integer(c_int32_t) :: st
    st = QDSIM_OK
    nr = int_arg(rows, 0_c_int64_t, 'qdsim_csr_builder_create: rows', st)
    nc = int_arg(cols, 0_c_int64_t, 'qdsim_csr_builder_create: cols', st)
    if (st == QDSIM_OK) st = c_qdsim_csr_builder_create(m%ptr, scalar, int(nr, c_size_t), int(nc, c_size_t), &
         c_str_or_null(tag, ctag), builder%ptr)
    call report(st, status)
  end subroutine qdsim_csr_builder_create

  !> Adds real `value` at (`row`, `col`), 1-based (entries at one position are summed).
  subroutine csr_builder_add_r8(builder, row, col, value, status)
    type(qdsim_csr_builder), intent(in) :: builder
    class(*), intent(in) :: row, col
    real(c_double), intent(in) :: value
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: i, j
    integer(c_int32_t) :: st
    st = QDSIM_OK
    i = int_arg(row, 1_c_int64_t, 'qdsim_csr_builder_add: row', st)
    j = int_arg(col, 1_c_int64_t, 'qdsim_csr_builder_add: col', st)
    if (st == QDSIM_OK) st = c_qdsim_csr_builder_add(builder%ptr, int(i - 1, c_size_t), int(j - 1, c_size_t), value)
    call report(st, status)
  end subroutine csr_builder_add_r8

  !> Adds complex `value` at (`row`, `col`), 1-based.
  subroutine csr_builder_add_c8(builder, row, col, value, status)
    type(qdsim_csr_builder), intent(in) :: builder
    class(*), intent(in) :: row, col
    complex(c_double_complex), intent(in) :: value
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: i, j
    integer(c_int32_t) :: st
    st = QDSIM_OK
    i = int_arg(row, 1_c_int64_t, 'qdsim_csr_builder_add: row', st)
    j = int_arg(col, 1_c_int64_t, 'qdsim_csr_builder_add: col', st)
    if (st == QDSIM_OK) st = c_qdsim_csr_builder_add_complex(builder%ptr, int(i - 1, c_size_t), &
         int(j - 1, c_size_t), value)
    call report(st, status)
  end subroutine csr_builder_add_c8

  !> Sorts the entries, sums duplicates and returns the CSR matrix; the builder is emptied (and
  !> may be reused) and must still be destroyed.
  subroutine qdsim_csr_builder_finalize(builder, h, status)
    type(qdsim_csr_builder), intent(in) :: builder
    type(qdsim_csr), intent(out) :: h
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_csr_builder_finalize(builder%ptr, h%ptr), status)
  end subroutine qdsim_csr_builder_finalize

  !> Destroys a builder and the entries it holds.
  subroutine qdsim_csr_builder_destroy(builder, status)
    type(qdsim_csr_builder), intent(inout) :: builder
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_csr_builder_destroy(builder%ptr), status)
    builder%ptr = c_null_ptr
  end subroutine qdsim_csr_builder_destroy

  !> Shape, nnz, index width, scalar type and size of a CSR matrix.
  subroutine qdsim_csr_get_info(h, info, status)
    type(qdsim_csr), intent(in) :: h
    type(qdsim_csr_info), intent(out) :: info
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_csr_get_info(h%ptr, info), status)
  end subroutine qdsim_csr_get_info

  !> The addresses of the CSR arrays of `csr` (or, when absent, of the mapped CSR matrix `mapped`)
  !> and their lengths, once their index width and scalar type are checked against the caller's
  !> pointers (`bits`, `scalar`).
  function csr_raw(what, bits, scalar, rp, ci, v, rows, nnz, csr, mapped) result(st)
    character(len=*), intent(in) :: what
    integer(c_int32_t), intent(in) :: bits, scalar
    type(c_ptr), intent(out) :: rp, ci, v
    integer(c_int64_t), intent(out) :: rows, nnz
    type(qdsim_csr), intent(in), optional :: csr
    type(qdsim_mapped), intent(in), optional :: mapped
    integer(c_int32_t) :: st
    type(qdsim_csr_info) :: info
    type(qdsim_mapped_info) :: minfo
    integer(c_int32_t) :: actual_bits, actual_scalar
    rows = 0
    nnz = 0
    if (present(csr)) then
      st = c_qdsim_csr_get_info(csr%ptr, info)
      rows = int(info%rows, c_int64_t)
      nnz = int(info%nnz, c_int64_t)
      actual_bits = info%index_bits
      actual_scalar = info%scalar
    else
      st = c_qdsim_mapped_get_info(mapped%ptr, minfo)
      rows = int(minfo%rows, c_int64_t)
      nnz = int(minfo%nnz, c_int64_t)
      actual_bits = minfo%index_bits
      actual_scalar = minfo%scalar
      if (st == QDSIM_OK .and. minfo%layout /= QDSIM_MAPPED_CSR) st = refuse(what // ': the file holds a dense matrix')
    end if
    if (st == QDSIM_OK .and. actual_bits /= bits) st = refuse(what // ': the indices are ' // &
         itoa(int(actual_bits, c_int64_t)) // '-bit, the pointers are ' // itoa(int(bits, c_int64_t)) // '-bit')
    if (st == QDSIM_OK) st = check_scalar(what // ': values', actual_scalar, scalar)
    if (st /= QDSIM_OK) return
    if (present(csr)) then
      st = c_qdsim_csr_arrays(csr%ptr, rp, ci, v)
    else
      st = c_qdsim_mapped_csr_arrays(mapped%ptr, rp, ci, v)
    end if
  end function csr_raw

  !> Zero-copy views of the arrays of a CSR matrix with 32-bit indices and real values.
  subroutine csr_arrays_i4_r8(h, row_ptr, col_idx, values, status)
    type(qdsim_csr), intent(in) :: h
    integer(c_int32_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    real(c_double), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    call arrays_i4_r8('qdsim_csr_arrays', row_ptr, col_idx, values, status, csr=h)
  end subroutine csr_arrays_i4_r8

  !> Zero-copy views of the arrays of a mapped CSR matrix with 32-bit indices and real values.
  subroutine mapped_csr_arrays_i4_r8(h, row_ptr, col_idx, values, status)
    type(qdsim_mapped), intent(in) :: h
    integer(c_int32_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    real(c_double), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    call arrays_i4_r8('qdsim_mapped_csr_arrays', row_ptr, col_idx, values, status, mapped=h)
  end subroutine mapped_csr_arrays_i4_r8

  !> The views of qdsim_csr_arrays or qdsim_mapped_csr_arrays (32-bit indices and real values).
  subroutine arrays_i4_r8(what, row_ptr, col_idx, values, status, csr, mapped)
    character(len=*), intent(in) :: what
    integer(c_int32_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    real(c_double), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_csr), intent(in), optional :: csr
    type(qdsim_mapped), intent(in), optional :: mapped
    type(c_ptr) :: rp, ci, v
    integer(c_int64_t) :: rows, nnz
    integer(c_int32_t) :: st
    nullify(row_ptr, col_idx, values)
    st = csr_raw(what, 32, QDSIM_SCALAR_REAL, rp, ci, v, rows, nnz, csr, mapped)
    if (st == QDSIM_OK) then
      call c_f_pointer(rp, row_ptr, [rows + 1])
      call c_f_pointer(ci, col_idx, [nnz])
      call c_f_pointer(v, values, [nnz])
    end if
    call report(st, status)
  end subroutine arrays_i4_r8

  !> Zero-copy views of the arrays of a CSR matrix with 32-bit indices and complex values.
  subroutine csr_arrays_i4_c8(h, row_ptr, col_idx, values, status)
    type(qdsim_csr), intent(in) :: h
    integer(c_int32_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    complex(c_double_complex), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    call arrays_i4_c8('qdsim_csr_arrays', row_ptr, col_idx, values, status, csr=h)
  end subroutine csr_arrays_i4_c8

  !> Zero-copy views of the arrays of a mapped CSR matrix with 32-bit indices and complex values.
  subroutine mapped_csr_arrays_i4_c8(h, row_ptr, col_idx, values, status)
    type(qdsim_mapped), intent(in) :: h
    integer(c_int32_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    complex(c_double_complex), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    call arrays_i4_c8('qdsim_mapped_csr_arrays', row_ptr, col_idx, values, status, mapped=h)
  end subroutine mapped_csr_arrays_i4_c8

  !> The views of qdsim_csr_arrays or qdsim_mapped_csr_arrays (32-bit indices and complex values).
  subroutine arrays_i4_c8(what, row_ptr, col_idx, values, status, csr, mapped)
    character(len=*), intent(in) :: what
    integer(c_int32_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    complex(c_double_complex), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_csr), intent(in), optional :: csr
    type(qdsim_mapped), intent(in), optional :: mapped
    type(c_ptr) :: rp, ci, v
    integer(c_int64_t) :: rows, nnz
    integer(c_int32_t) :: st
    nullify(row_ptr, col_idx, values)
    st = csr_raw(what, 32, QDSIM_SCALAR_COMPLEX, rp, ci, v, rows, nnz, csr, mapped)
    if (st == QDSIM_OK) then
      call c_f_pointer(rp, row_ptr, [rows + 1])
      call c_f_pointer(ci, col_idx, [nnz])
      call c_f_pointer(v, values, [nnz])
    end if
    call report(st, status)
  end subroutine arrays_i4_c8

  !> Zero-copy views of the arrays of a CSR matrix with 64-bit indices and real values.
  subroutine csr_arrays_i8_r8(h, row_ptr, col_idx, values, status)
    type(qdsim_csr), intent(in) :: h
    integer(c_int64_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    real(c_double), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    call arrays_i8_r8('qdsim_csr_arrays', row_ptr, col_idx, values, status, csr=h)
  end subroutine csr_arrays_i8_r8

  !> Zero-copy views of the arrays of a mapped CSR matrix with 64-bit indices and real values.
  subroutine mapped_csr_arrays_i8_r8(h, row_ptr, col_idx, values, status)
    type(qdsim_mapped), intent(in) :: h
    integer(c_int64_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    real(c_double), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    call arrays_i8_r8('qdsim_mapped_csr_arrays', row_ptr, col_idx, values, status, mapped=h)
  end subroutine mapped_csr_arrays_i8_r8

  !> The views of qdsim_csr_arrays or qdsim_mapped_csr_arrays (64-bit indices and real values).
  subroutine arrays_i8_r8(what, row_ptr, col_idx, values, status, csr, mapped)
    character(len=*), intent(in) :: what
    integer(c_int64_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    real(c_double), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_csr), intent(in), optional :: csr
    type(qdsim_mapped), intent(in), optional :: mapped
    type(c_ptr) :: rp, ci, v
    integer(c_int64_t) :: rows, nnz
    integer(c_int32_t) :: st
    nullify(row_ptr, col_idx, values)
    st = csr_raw(what, 64, QDSIM_SCALAR_REAL, rp, ci, v, rows, nnz, csr, mapped)
    if (st == QDSIM_OK) then
      call c_f_pointer(rp, row_ptr, [rows + 1])
      call c_f_pointer(ci, col_idx, [nnz])
      call c_f_pointer(v, values, [nnz])
    end if
    call report(st, status)
  end subroutine arrays_i8_r8

  !> Zero-copy views of the arrays of a CSR matrix with 64-bit indices and complex values.
  subroutine csr_arrays_i8_c8(h, row_ptr, col_idx, values, status)
    type(qdsim_csr), intent(in) :: h
    integer(c_int64_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    complex(c_double_complex), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    call arrays_i8_c8('qdsim_csr_arrays', row_ptr, col_idx, values, status, csr=h)
  end subroutine csr_arrays_i8_c8

  !> Zero-copy views of the arrays of a mapped CSR matrix with 64-bit indices and complex values.
  subroutine mapped_csr_arrays_i8_c8(h, row_ptr, col_idx, values, status)
    type(qdsim_mapped), intent(in) :: h
    integer(c_int64_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    complex(c_double_complex), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    call arrays_i8_c8('qdsim_mapped_csr_arrays', row_ptr, col_idx, values, status, mapped=h)
  end subroutine mapped_csr_arrays_i8_c8

  !> The views of qdsim_csr_arrays or qdsim_mapped_csr_arrays (64-bit indices and complex values).
  subroutine arrays_i8_c8(what, row_ptr, col_idx, values, status, csr, mapped)
    character(len=*), intent(in) :: what
    integer(c_int64_t), pointer, intent(out) :: row_ptr(:), col_idx(:)
    complex(c_double_complex), pointer, intent(out) :: values(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_csr), intent(in), optional :: csr
    type(qdsim_mapped), intent(in), optional :: mapped
    type(c_ptr) :: rp, ci, v
    integer(c_int64_t) :: rows, nnz
    integer(c_int32_t) :: st
    nullify(row_ptr, col_idx, values)
    st = csr_raw(what, 64, QDSIM_SCALAR_COMPLEX, rp, ci, v, rows, nnz, csr, mapped)
    if (st == QDSIM_OK) then
      call c_f_pointer(rp, row_ptr, [rows + 1])
      call c_f_pointer(ci, col_idx, [nnz])
      call c_f_pointer(v, values, [nnz])
    end if
    call report(st, status)
  end subroutine arrays_i8_c8

  !> y = alpha A x + beta y (alpha 1, beta 0 by default) for a real matrix and real vectors.
  subroutine csr_spmv_r8(h, x, y, alpha, beta, status)
    type(qdsim_csr), intent(in) :: h
    real(c_double), intent(in) :: x(:)
    real(c_double), intent(inout) :: y(:)
    real(c_double), intent(in), optional :: alpha, beta
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_csr_info) :: info
    real(c_double) :: a, b
    integer(c_int32_t) :: st
    a = 1
    b = 0
    if (present(alpha)) a = alpha
    if (present(beta)) b = beta
    st = c_qdsim_csr_get_info(h%ptr, info)
    if (st == QDSIM_OK) st = check_size('qdsim_csr_spmv: x', int(size(x), c_int64_t), int(info%cols, c_int64_t))
    if (st == QDSIM_OK) st = check_size('qdsim_csr_spmv: y', int(size(y), c_int64_t), int(info%rows, c_int64_t))
    if (st == QDSIM_OK) st = c_qdsim_csr_spmv(h%ptr, a, x, b, y)
    call report(st, status)
  end subroutine csr_spmv_r8

  !> y = alpha A x + beta y with complex vectors, for a complex or a real matrix.
  subroutine csr_spmv_c8(h, x, y, alpha, beta, status)
    type(qdsim_csr), intent(in) :: h
    complex(c_double_complex), intent(in) :: x(:)
    complex(c_double_complex), intent(inout) :: y(:)
    complex(c_double_complex), intent(in), optional :: alpha, beta
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_csr_info) :: info
    complex(c_double_complex) :: a, b
    integer(c_int32_t) :: st
    a = 1
    b = 0
    if (present(alpha)) a = alpha
    if (present(beta)) b = beta
    st = c_qdsim_csr_get_info(h%ptr, info)
    if (st == QDSIM_OK) st = check_size('qdsim_csr_spmv: x', int(size(x), c_int64_t), int(info%cols, c_int64_t))
    if (st == QDSIM_OK) st = check_size('qdsim_csr_spmv: y', int(size(y), c_int64_t), int(info%rows, c_int64_t))
    if (st == QDSIM_OK) st = c_qdsim_csr_spmv_complex(h%ptr, a, x, b, y)
    call report(st, status)
  end subroutine csr_spmv_c8

  !> The lowest options%k eigenpairs of the Hermitian CSR matrix `h` (shift-invert when its factor
  !> fits the memory budget, else LOBPCG). QDSIM_ERR_NOT_CONVERGED still gives the partial result.
  subroutine qdsim_csr_solve_lowest(h, options, result, status)
    type(qdsim_csr), intent(in) :: h
    type(qdsim_eigen_options), intent(in) :: options
    type(qdsim_eigen_result), intent(out) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_csr_solve_lowest(h%ptr, options, result%ptr), status)
  end subroutine qdsim_csr_solve_lowest

  ! ---- matrix-free operators ---------------------------------------------------------------

  !> The Hamiltonian `desc` as a matrix-free operator (complex with a field or an absorber),
  !> its arrays tagged `tag`.*.
  subroutine qdsim_hamiltonian_operator(m, desc, op, tag, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_hamiltonian_desc), intent(in) :: desc
    type(qdsim_operator), intent(out) :: op
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    call report(c_qdsim_hamiltonian_operator(m%ptr, desc, QDSIM_SCALAR_AUTO, c_str_or_null(tag, ctag), op%ptr), &
         status)
  end subroutine qdsim_hamiltonian_operator

  !> Destroys an operator.
  subroutine qdsim_operator_destroy(op, status)
    type(qdsim_operator), intent(inout) :: op
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_operator_destroy(op%ptr), status)
    op%ptr = c_null_ptr
  end subroutine qdsim_operator_destroy

  !> Dimension, scalar type, Hermiticity and memory of an operator.
  subroutine qdsim_operator_get_info(op, info, status)
    type(qdsim_operator), intent(in) :: op
    type(qdsim_operator_info), intent(out) :: info
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_operator_get_info(op%ptr, info), status)
  end subroutine qdsim_operator_get_info

  !> y = alpha H x + beta y (alpha 1, beta 0 by default) for a real operator and real vectors.
  subroutine operator_apply_r8(op, x, y, alpha, beta, status)
    type(qdsim_operator), intent(in) :: op
    real(c_double), intent(in) :: x(:)
    real(c_double), intent(inout) :: y(:)
    real(c_double), intent(in), optional :: alpha, beta
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_operator_info) :: info
    real(c_double) :: a, b
    integer(c_int32_t) :: st
    a = 1
    b = 0
    if (present(alpha)) a = alpha
    if (present(beta)) b = beta
    st = c_qdsim_operator_get_info(op%ptr, info)
    if (st == QDSIM_OK) st = check_size('qdsim_operator_apply: x', int(size(x), c_int64_t), int(info%dim, c_int64_t))
    if (st == QDSIM_OK) st = check_size('qdsim_operator_apply: y', int(size(y), c_int64_t), int(info%dim, c_int64_t))
    if (st == QDSIM_OK) st = c_qdsim_operator_apply(op%ptr, a, x, b, y)
    call report(st, status)
  end subroutine operator_apply_r8

  !> y = alpha H x + beta y with complex vectors, for a real or a complex operator.
  subroutine operator_apply_c8(op, x, y, alpha, beta, status)
    type(qdsim_operator), intent(in) :: op
    complex(c_double_complex), intent(in) :: x(:)
    complex(c_double_complex), intent(inout) :: y(:)
    complex(c_double_complex), intent(in), optional :: alpha, beta
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_operator_info) :: info
    complex(c_double_complex) :: a, b
    integer(c_int32_t) :: st
    a = 1
    b = 0
    if (present(alpha)) a = alpha
    if (present(beta)) b = beta
    st = c_qdsim_operator_get_info(op%ptr, info)
    if (st == QDSIM_OK) st = check_size('qdsim_operator_apply: x', int(size(x), c_int64_t), int(info%dim, c_int64_t))
    if (st == QDSIM_OK) st = check_size('qdsim_operator_apply: y', int(size(y), c_int64_t), int(info%dim, c_int64_t))
    if (st == QDSIM_OK) st = c_qdsim_operator_apply_complex(op%ptr, a, x, b, y)
    call report(st, status)
  end subroutine operator_apply_c8

  !> The operator assembled as a CSR matrix (same entries), its arrays tagged `tag`.*.
  subroutine qdsim_operator_to_csr(op, h, tag, status)
    type(qdsim_operator), intent(in) :: op
    type(qdsim_csr), intent(out) :: h
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    call report(c_qdsim_operator_to_csr(op%ptr, c_str_or_null(tag, ctag), h%ptr), status)
  end subroutine qdsim_operator_to_csr

  ! ---- mapped matrices ---------------------------------------------------------------------

  !> A zero `rows` x `cols` dense matrix of `scalar` in the new file `path`, mapped writable; fill
  !> it (qdsim_mapped_data_mut, qdsim_mapped_write_columns), then qdsim_mapped_finalize.
  subroutine qdsim_mapped_create_dense(path, scalar, rows, cols, h, status)
    character(len=*), intent(in) :: path
    integer(c_int32_t), intent(in) :: scalar
    class(*), intent(in) :: rows, cols
    type(qdsim_mapped), intent(out) :: h
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    integer(c_int64_t) :: nr, nc
    integer(c_int32_t) :: st
    st = QDSIM_OK
    nr = int_arg(rows, 0_c_int64_t, 'qdsim_mapped_create_dense: rows', st)
    nc = int_arg(cols, 0_c_int64_t, 'qdsim_mapped_create_dense: cols', st)
    call to_c(path, cpath)
    if (st == QDSIM_OK) st = c_qdsim_mapped_create_dense(c_loc(cpath), scalar, int(nr, c_size_t), &
         int(nc, c_size_t), h%ptr)
    call report(st, status)
  end subroutine qdsim_mapped_create_dense

  !> What a mapped file holds (layout, scalar type, shape, state).
  subroutine qdsim_mapped_get_info(h, info, status)
    type(qdsim_mapped), intent(in) :: h
    type(qdsim_mapped_info), intent(out) :: info
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_mapped_get_info(h%ptr, info), status)
  end subroutine qdsim_mapped_get_info

  !> The address and leading dimension of the dense mapped matrix `h` (`writable`: for writing
  !> through it), after checking that it is dense with elements of type `scalar`.
  function mapped_raw(what, h, scalar, writable, data, ld, info) result(st)
    character(len=*), intent(in) :: what
    type(qdsim_mapped), intent(in) :: h
    integer(c_int32_t), intent(in) :: scalar
    logical, intent(in) :: writable
    type(c_ptr), intent(out) :: data
    integer(c_int64_t), intent(out) :: ld
    type(qdsim_mapped_info), intent(out) :: info
    integer(c_int32_t) :: st
    integer(c_size_t) :: cld
    data = c_null_ptr
    ld = 0
    cld = 0
    st = c_qdsim_mapped_get_info(h%ptr, info)
    if (st == QDSIM_OK .and. info%layout /= QDSIM_MAPPED_DENSE) st = refuse(what // ': the file holds a CSR matrix')
    if (st == QDSIM_OK) st = check_scalar(what, info%scalar, scalar)
    if (st /= QDSIM_OK) return
    if (writable) then
      st = c_qdsim_mapped_data_mut(h%ptr, data, cld)
    else
      st = c_qdsim_mapped_data(h%ptr, data, cld)
    end if
    ld = int(cld, c_int64_t)
  end function mapped_raw

  !> Zero-copy (rows, cols) view of a real dense mapped matrix; read-only (never write through
  !> it: a read-only mapping would fault). Valid until the handle is destroyed or grown.
  subroutine mapped_data_r8(h, a, status)
    type(qdsim_mapped), intent(in) :: h
    real(c_double), pointer, intent(out) :: a(:, :)
    integer(c_int32_t), intent(out), optional :: status
    call mapped_view_r8('qdsim_mapped_data', h, .false., a, status)
  end subroutine mapped_data_r8

  !> Zero-copy (rows, cols) view of a complex dense mapped matrix; read-only.
  subroutine mapped_data_c8(h, a, status)
    type(qdsim_mapped), intent(in) :: h
    complex(c_double_complex), pointer, intent(out) :: a(:, :)
    integer(c_int32_t), intent(out), optional :: status
    call mapped_view_c8('qdsim_mapped_data', h, .false., a, status)
  end subroutine mapped_data_c8

  !> Zero-copy (rows, cols) view of a real, writable dense mapped matrix, for writing; the file is
  !> unfinalized until the next qdsim_mapped_finalize.
  subroutine mapped_data_mut_r8(h, a, status)
    type(qdsim_mapped), intent(in) :: h
    real(c_double), pointer, intent(out) :: a(:, :)
    integer(c_int32_t), intent(out), optional :: status
    call mapped_view_r8('qdsim_mapped_data_mut', h, .true., a, status)
  end subroutine mapped_data_mut_r8

  !> Zero-copy (rows, cols) view of a complex, writable dense mapped matrix, for writing.
  subroutine mapped_data_mut_c8(h, a, status)
    type(qdsim_mapped), intent(in) :: h
    complex(c_double_complex), pointer, intent(out) :: a(:, :)
    integer(c_int32_t), intent(out), optional :: status
    call mapped_view_c8('qdsim_mapped_data_mut', h, .true., a, status)
  end subroutine mapped_data_mut_c8

  !> The real view of qdsim_mapped_data(_mut): a (ld, cols) block cut to its first rows.
  subroutine mapped_view_r8(what, h, writable, a, status)
    character(len=*), intent(in) :: what
    type(qdsim_mapped), intent(in) :: h
    logical, intent(in) :: writable
    real(c_double), pointer, intent(out) :: a(:, :)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_mapped_info) :: info
    type(c_ptr) :: data
    integer(c_int64_t) :: ld
    real(c_double), pointer :: block(:, :)
    integer(c_int32_t) :: st
    nullify(a)
    st = mapped_raw(what, h, QDSIM_SCALAR_REAL, writable, data, ld, info)
    if (st == QDSIM_OK) then
      call c_f_pointer(data, block, [ld, int(info%cols, c_int64_t)])
      a => block(1:info%rows, :)
    end if
    call report(st, status)
  end subroutine mapped_view_r8

  !> The complex view of qdsim_mapped_data(_mut).
  subroutine mapped_view_c8(what, h, writable, a, status)
    character(len=*), intent(in) :: what
    type(qdsim_mapped), intent(in) :: h
    logical, intent(in) :: writable
    complex(c_double_complex), pointer, intent(out) :: a(:, :)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_mapped_info) :: info
    type(c_ptr) :: data
    integer(c_int64_t) :: ld
    complex(c_double_complex), pointer :: block(:, :)
    integer(c_int32_t) :: st
    nullify(a)
    st = mapped_raw(what, h, QDSIM_SCALAR_COMPLEX, writable, data, ld, info)
    if (st == QDSIM_OK) then
      call c_f_pointer(data, block, [ld, int(info%cols, c_int64_t)])
      a => block(1:info%rows, :)
    end if
    call report(st, status)
  end subroutine mapped_view_c8

  !> Checks a column copy between a dense mapped matrix and an array of `ld` x `count` elements
  !> of `scalar` starting at column `first` (1-based); gives the 0-based first column.
  function columns_check(what, h, scalar, first, ld, count, first0) result(st)
    character(len=*), intent(in) :: what
    type(qdsim_mapped), intent(in) :: h
    integer(c_int32_t), intent(in) :: scalar
    class(*), intent(in) :: first
    integer(c_int64_t), intent(in) :: ld, count
    integer(c_int64_t), intent(out) :: first0
    integer(c_int32_t) :: st
    type(qdsim_mapped_info) :: info
    st = c_qdsim_mapped_get_info(h%ptr, info)
    first0 = int_arg(first, 1_c_int64_t, what // ': first', st) - 1
    if (st == QDSIM_OK) st = check_scalar(what, info%scalar, scalar)
    if (st == QDSIM_OK .and. ld < int(info%rows, c_int64_t) .and. count > 0) st = refuse(what // ': the array has ' // &
         itoa(ld) // ' rows, the matrix ' // itoa(int(info%rows, c_int64_t)))
  end function columns_check

  !> Copies columns first .. first + size(dst, 2) - 1 (1-based) of a real dense mapped matrix into
  !> `dst`, which has at least as many rows as the matrix.
  subroutine mapped_read_columns_r8(h, first, dst, status)
    type(qdsim_mapped), intent(in) :: h
    class(*), intent(in) :: first
    real(c_double), intent(inout), contiguous, target :: dst(:, :)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: first0
    integer(c_int32_t) :: st
    st = columns_check('qdsim_mapped_read_columns', h, QDSIM_SCALAR_REAL, first, int(size(dst, 1), c_int64_t), &
         int(size(dst, 2), c_int64_t), first0)
    if (st == QDSIM_OK) st = c_qdsim_mapped_read_columns(h%ptr, QDSIM_SCALAR_REAL, int(first0, c_size_t), &
         int(size(dst, 2), c_size_t), c_loc(dst), int(size(dst, 1), c_size_t))
    call report(st, status)
  end subroutine mapped_read_columns_r8

  !> Copies columns of a complex dense mapped matrix into `dst`.
  subroutine mapped_read_columns_c8(h, first, dst, status)
    type(qdsim_mapped), intent(in) :: h
    class(*), intent(in) :: first
    complex(c_double_complex), intent(inout), contiguous, target :: dst(:, :)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: first0
    integer(c_int32_t) :: st
    st = columns_check('qdsim_mapped_read_columns', h, QDSIM_SCALAR_COMPLEX, first, int(size(dst, 1), c_int64_t), &
         int(size(dst, 2), c_int64_t), first0)
    if (st == QDSIM_OK) st = c_qdsim_mapped_read_columns(h%ptr, QDSIM_SCALAR_COMPLEX, int(first0, c_size_t), &
         int(size(dst, 2), c_size_t), c_loc(dst), int(size(dst, 1), c_size_t))
    call report(st, status)
  end subroutine mapped_read_columns_c8

  !> Copies `src` into columns first .. first + size(src, 2) - 1 (1-based) of a writable real
  !> dense mapped matrix (the file is unfinalized until the next qdsim_mapped_finalize).
  subroutine mapped_write_columns_r8(h, first, src, status)
    type(qdsim_mapped), intent(in) :: h
    class(*), intent(in) :: first
    real(c_double), intent(in), contiguous, target :: src(:, :)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: first0
    integer(c_int32_t) :: st
    st = columns_check('qdsim_mapped_write_columns', h, QDSIM_SCALAR_REAL, first, int(size(src, 1), c_int64_t), &
         int(size(src, 2), c_int64_t), first0)
    if (st == QDSIM_OK) st = c_qdsim_mapped_write_columns(h%ptr, QDSIM_SCALAR_REAL, int(first0, c_size_t), &
         int(size(src, 2), c_size_t), c_loc(src), int(size(src, 1), c_size_t))
    call report(st, status)
  end subroutine mapped_write_columns_r8

  !> Copies `src` into columns of a writable complex dense mapped matrix.
  subroutine mapped_write_columns_c8(h, first, src, status)
    type(qdsim_mapped), intent(in) :: h
    class(*), intent(in) :: first
    complex(c_double_complex), intent(in), contiguous, target :: src(:, :)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: first0
    integer(c_int32_t) :: st
    st = columns_check('qdsim_mapped_write_columns', h, QDSIM_SCALAR_COMPLEX, first, int(size(src, 1), c_int64_t), &
         int(size(src, 2), c_int64_t), first0)
    if (st == QDSIM_OK) st = c_qdsim_mapped_write_columns(h%ptr, QDSIM_SCALAR_COMPLEX, int(first0, c_size_t), &
         int(size(src, 2), c_size_t), c_loc(src), int(size(src, 1), c_size_t))
    call report(st, status)
  end subroutine mapped_write_columns_c8

  !> Grows a writable dense mapped matrix to `cols` columns (new ones zero); earlier views from
  !> qdsim_mapped_data(_mut) are invalid afterwards.
  subroutine qdsim_mapped_grow(h, cols, status)
    type(qdsim_mapped), intent(in) :: h
    class(*), intent(in) :: cols
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: n
    integer(c_int32_t) :: st
    st = QDSIM_OK
    n = int_arg(cols, 0_c_int64_t, 'qdsim_mapped_grow: cols', st)
    if (st == QDSIM_OK) st = c_qdsim_mapped_grow(h%ptr, int(n, c_size_t))
    call report(st, status)
  end subroutine qdsim_mapped_grow

  !> Writes modified pages back to the file without finalizing it.
  subroutine qdsim_mapped_flush(h, status)
    type(qdsim_mapped), intent(in) :: h
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_mapped_flush(h%ptr), status)
  end subroutine qdsim_mapped_flush

  !> Makes the data durable and marks the file finalized (so that it can be opened again).
  subroutine qdsim_mapped_finalize(h, status)
    type(qdsim_mapped), intent(in) :: h
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_mapped_finalize(h%ptr), status)
  end subroutine qdsim_mapped_finalize

  !> Copies a mapped CSR matrix into a new CSR matrix of manager `m` (arrays tagged `tag`.*).
  subroutine qdsim_mapped_to_csr(h, m, csr, tag, status)
    type(qdsim_mapped), intent(in) :: h
    type(qdsim_manager), intent(in) :: m
    type(qdsim_csr), intent(out) :: csr
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    call report(c_qdsim_mapped_to_csr(h%ptr, m%ptr, c_str_or_null(tag, ctag), csr%ptr), status)
  end subroutine qdsim_mapped_to_csr

  !> Writes dense matrix `a` to a new file `path` (finalized) and opens it, writable, into `h`.
  subroutine qdsim_mapped_from_matrix(a, path, h, status)
    type(qdsim_matrix), intent(in) :: a
    character(len=*), intent(in) :: path
    type(qdsim_mapped), intent(out) :: h
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: cpath(:)
    call to_c(path, cpath)
    call report(c_qdsim_mapped_from_matrix(a%ptr, c_loc(cpath), h%ptr), status)
  end subroutine qdsim_mapped_from_matrix

  !> Copies a dense mapped matrix into a new dense matrix of manager `m`, tagged `tag`.
  subroutine qdsim_mapped_to_matrix(h, m, a, tag, status)
    type(qdsim_mapped), intent(in) :: h
    type(qdsim_manager), intent(in) :: m
    type(qdsim_matrix), intent(out) :: a
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    call report(c_qdsim_mapped_to_matrix(h%ptr, m%ptr, c_str_or_null(tag, ctag), a%ptr), status)
  end subroutine qdsim_mapped_to_matrix

  !> The lowest options%k eigenpairs of the Hermitian CSR matrix in mapped file `h`, read where
  !> it lies; the eigenvectors go to manager `m`'s pool (or options%vectors_file).
  subroutine qdsim_mapped_solve_lowest(m, h, options, result, status)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_mapped), intent(in) :: h
    type(qdsim_eigen_options), intent(in) :: options
    type(qdsim_eigen_result), intent(out) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_mapped_solve_lowest(m%ptr, h%ptr, options, result%ptr), status)
  end subroutine qdsim_mapped_solve_lowest

  ! ---- dense matrices ----------------------------------------------------------------------

  !> A zero `rows` x `cols` matrix of `scalar` (QDSIM_SCALAR_REAL or _COMPLEX) in `m`'s pool.
  subroutine qdsim_matrix_create(m, scalar, rows, cols, a, tag, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), intent(in) :: scalar
    class(*), intent(in) :: rows, cols
    type(qdsim_matrix), intent(out) :: a
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    integer(c_int64_t) :: nr, nc
    integer(c_int32_t) :: st
    st = QDSIM_OK
    nr = int_arg(rows, 0_c_int64_t, 'qdsim_matrix_create: rows', st)
    nc = int_arg(cols, 0_c_int64_t, 'qdsim_matrix_create: cols', st)
    if (st == QDSIM_OK) st = c_qdsim_matrix_create(m%ptr, scalar, int(nr, c_size_t), int(nc, c_size_t), &
         c_str_or_null(tag, ctag), a%ptr)
    call report(st, status)
  end subroutine qdsim_matrix_create

  !> Destroys a dense matrix (its data views become invalid).
  subroutine qdsim_matrix_destroy(a, status)
    type(qdsim_matrix), intent(inout) :: a
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_matrix_destroy(a%ptr), status)
    a%ptr = c_null_ptr
  end subroutine qdsim_matrix_destroy

  !> Shape, leading dimension, scalar type and size of a dense matrix.
  subroutine qdsim_matrix_get_info(a, info, status)
    type(qdsim_matrix), intent(in) :: a
    type(qdsim_matrix_info), intent(out) :: info
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_matrix_get_info(a%ptr, info), status)
  end subroutine qdsim_matrix_get_info

  !> The address of a dense matrix checked to hold elements of type `scalar`, with its info.
  function matrix_raw(a, scalar, data, info) result(st)
    type(qdsim_matrix), intent(in) :: a
    integer(c_int32_t), intent(in) :: scalar
    type(c_ptr), intent(out) :: data
    type(qdsim_matrix_info), intent(out) :: info
    integer(c_int32_t) :: st
    data = c_null_ptr
    st = c_qdsim_matrix_get_info(a%ptr, info)
    if (st == QDSIM_OK) st = check_scalar('qdsim_matrix_data', info%scalar, scalar)
    if (st == QDSIM_OK) st = c_qdsim_matrix_data(a%ptr, data)
  end function matrix_raw

  !> Zero-copy (rows, cols) view of a real dense matrix, for reading and writing; valid until the
  !> matrix or its manager is destroyed.
  subroutine matrix_data_r8(a, data, status)
    type(qdsim_matrix), intent(in) :: a
    real(c_double), pointer, intent(out) :: data(:, :)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_matrix_info) :: info
    type(c_ptr) :: p
    real(c_double), pointer :: block(:, :)
    integer(c_int32_t) :: st
    nullify(data)
    st = matrix_raw(a, QDSIM_SCALAR_REAL, p, info)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, block, [int(info%ld, c_int64_t), int(info%cols, c_int64_t)])
      data => block(1:info%rows, :)
    end if
    call report(st, status)
  end subroutine matrix_data_r8

  !> Zero-copy (rows, cols) view of a complex dense matrix.
  subroutine matrix_data_c8(a, data, status)
    type(qdsim_matrix), intent(in) :: a
    complex(c_double_complex), pointer, intent(out) :: data(:, :)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_matrix_info) :: info
    type(c_ptr) :: p
    complex(c_double_complex), pointer :: block(:, :)
    integer(c_int32_t) :: st
    nullify(data)
    st = matrix_raw(a, QDSIM_SCALAR_COMPLEX, p, info)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, block, [int(info%ld, c_int64_t), int(info%cols, c_int64_t)])
      data => block(1:info%rows, :)
    end if
    call report(st, status)
  end subroutine matrix_data_c8

  !> dst = src (same shape and scalar type).
  subroutine qdsim_matrix_copy(src, dst, status)
    type(qdsim_matrix), intent(in) :: src, dst
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_matrix_copy(src%ptr, dst%ptr), status)
  end subroutine qdsim_matrix_copy

  !> dst = transpose(src) (dst is cols x rows of src).
  subroutine qdsim_matrix_transpose(src, dst, status)
    type(qdsim_matrix), intent(in) :: src, dst
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_matrix_transpose(src%ptr, dst%ptr), status)
  end subroutine qdsim_matrix_transpose

  !> dst = conjg(transpose(src)).
  subroutine qdsim_matrix_adjoint(src, dst, status)
    type(qdsim_matrix), intent(in) :: src, dst
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_matrix_adjoint(src%ptr, dst%ptr), status)
  end subroutine qdsim_matrix_adjoint

  !> All eigenpairs (or, with `k`, the lowest k) of the Hermitian dense matrix `a` (its lower
  !> triangle is read); k is an integer of kind c_int32_t or c_int64_t.
  subroutine qdsim_matrix_eigen_hermitian(a, result, k, status)
    type(qdsim_matrix), intent(in) :: a
    type(qdsim_eigen_result), intent(out) :: result
    class(*), intent(in), optional :: k
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: n
    integer(c_int32_t) :: st
    st = QDSIM_OK
    n = 0
    if (present(k)) n = int_arg(k, 1_c_int64_t, 'qdsim_matrix_eigen_hermitian: k', st)
    if (st == QDSIM_OK) st = c_qdsim_matrix_eigen_hermitian(a%ptr, int(n, c_size_t), result%ptr)
    call report(st, status)
  end subroutine qdsim_matrix_eigen_hermitian

  !> All eigenpairs of the general dense matrix `a`: complex eigenvalues sorted by real part
  !> (qdsim_result_complex_values), unit-norm complex eigenvectors.
  subroutine qdsim_matrix_eigen_general(a, result, status)
    type(qdsim_matrix), intent(in) :: a
    type(qdsim_eigen_result), intent(out) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_matrix_eigen_general(a%ptr, result%ptr), status)
  end subroutine qdsim_matrix_eigen_general

  ! ---- eigenvectors: zero-copy views -------------------------------------------------------

  !> The eigenvector block of `result` checked to hold elements of type `scalar`, with its info.
  function vectors_raw(what, result, scalar, data, ld, info) result(st)
    character(len=*), intent(in) :: what
    type(qdsim_eigen_result), intent(in) :: result
    integer(c_int32_t), intent(in) :: scalar
    type(c_ptr), intent(out) :: data
    integer(c_int64_t), intent(out) :: ld
    type(qdsim_eigen_info), intent(out) :: info
    integer(c_int32_t) :: st
    integer(c_size_t) :: cld
    data = c_null_ptr
    cld = 0
    st = c_qdsim_eigen_result_info(result%ptr, info)
    if (st == QDSIM_OK) st = check_scalar(what // ': eigenvectors', info%vector_scalar, scalar)
    if (st == QDSIM_OK) st = c_qdsim_eigen_result_vectors(result%ptr, data, cld)
    ld = int(cld, c_int64_t)
  end function vectors_raw

  !> Real eigenvector `j` (1-based; kind c_int32_t or c_int64_t) as a zero-copy pointer into the
  !> result (read-only; valid until the result is destroyed).
  subroutine result_vector_r8(result, j, vector, status)
    type(qdsim_eigen_result), intent(in) :: result
    class(*), intent(in) :: j
    real(c_double), pointer, intent(out) :: vector(:)
    integer(c_int32_t), intent(out), optional :: status
    real(c_double), pointer :: block(:, :)
    call result_vectors_r8(result, block, status)
    nullify(vector)
    if (associated(block)) call pick_column_r8(block, j, vector, status)
  end subroutine result_vector_r8

  !> Complex eigenvector `j` (1-based) as a zero-copy pointer into the result (a magnetic field
  !> or an absorber makes them complex); read-only, valid until the result is destroyed.
  subroutine result_vector_c8(result, j, vector, status)
    type(qdsim_eigen_result), intent(in) :: result
    class(*), intent(in) :: j
    complex(c_double_complex), pointer, intent(out) :: vector(:)
    integer(c_int32_t), intent(out), optional :: status
    complex(c_double_complex), pointer :: block(:, :)
    call result_vectors_c8(result, block, status)
    nullify(vector)
    if (associated(block)) call pick_column_c8(block, j, vector, status)
  end subroutine result_vector_c8

  !> vector => block(:, j), or a refusal when j is out of range.
  subroutine pick_column_r8(block, j, vector, status)
    real(c_double), pointer, intent(in) :: block(:, :)
    class(*), intent(in) :: j
    real(c_double), pointer, intent(out) :: vector(:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: col
    integer(c_int32_t) :: st
    st = QDSIM_OK
    nullify(vector)
    col = int_arg(j, 1_c_int64_t, 'qdsim_result_vector: j', st)
    if (st == QDSIM_OK .and. col > size(block, 2, c_int64_t)) st = refuse('qdsim_result_vector: j is ' // &
         itoa(col) // ', the result has ' // itoa(size(block, 2, c_int64_t)) // ' eigenvectors')
    if (st == QDSIM_OK) vector => block(:, col)
    call report(st, status)
  end subroutine pick_column_r8

  !> vector => block(:, j), or a refusal when j is out of range.
  subroutine pick_column_c8(block, j, vector, status)
    complex(c_double_complex), pointer, intent(in) :: block(:, :)
    class(*), intent(in) :: j
    complex(c_double_complex), pointer, intent(out) :: vector(:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: col
    integer(c_int32_t) :: st
    st = QDSIM_OK
    nullify(vector)
    col = int_arg(j, 1_c_int64_t, 'qdsim_result_vector: j', st)
    if (st == QDSIM_OK .and. col > size(block, 2, c_int64_t)) st = refuse('qdsim_result_vector: j is ' // &
         itoa(col) // ', the result has ' // itoa(size(block, 2, c_int64_t)) // ' eigenvectors')
    if (st == QDSIM_OK) vector => block(:, col)
    call report(st, status)
  end subroutine pick_column_c8

  !> All real eigenvectors as a zero-copy (dim, count) pointer, column j eigenvector j
  !> (read-only; valid until the result is destroyed).
  subroutine result_vectors_r8(result, vectors, status)
    type(qdsim_eigen_result), intent(in) :: result
    real(c_double), pointer, intent(out) :: vectors(:, :)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_eigen_info) :: info
    type(c_ptr) :: data
    integer(c_int64_t) :: ld
    real(c_double), pointer :: block(:, :)
    integer(c_int32_t) :: st
    nullify(vectors)
    st = vectors_raw('qdsim_result_vectors', result, QDSIM_SCALAR_REAL, data, ld, info)
    if (st == QDSIM_OK) then
      call c_f_pointer(data, block, [ld, int(info%count, c_int64_t)])
      vectors => block(1:info%dim, :)
    end if
    call report(st, status)
  end subroutine result_vectors_r8

  !> All complex eigenvectors as a zero-copy (dim, count) pointer (read-only; valid until the
  !> result is destroyed).
  subroutine result_vectors_c8(result, vectors, status)
    type(qdsim_eigen_result), intent(in) :: result
    complex(c_double_complex), pointer, intent(out) :: vectors(:, :)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_eigen_info) :: info
    type(c_ptr) :: data
    integer(c_int64_t) :: ld
    complex(c_double_complex), pointer :: block(:, :)
    integer(c_int32_t) :: st
    nullify(vectors)
    st = vectors_raw('qdsim_result_vectors', result, QDSIM_SCALAR_COMPLEX, data, ld, info)
    if (st == QDSIM_OK) then
      call c_f_pointer(data, block, [ld, int(info%count, c_int64_t)])
      vectors => block(1:info%dim, :)
    end if
    call report(st, status)
  end subroutine result_vectors_c8

  ! ---- GPU pools (QDSIM_ERR_NO_DEVICE without a usable GPU) ---------------------------------

  !> The number of CUDA devices.
  subroutine qdsim_gpu_device_count(count, status)
    integer(c_int32_t), intent(out) :: count
    integer(c_int32_t), intent(out), optional :: status
    count = 0
    call report(c_qdsim_gpu_device_count(count), status)
  end subroutine qdsim_gpu_device_count

  !> Allocates `bytes` of device memory tagged `tag`; `device_ptr` gets its device address
  !> (a C uint64_t, held in an integer(c_int64_t) of the same bits).
  subroutine qdsim_gpu_alloc(pool, bytes, device_ptr, tag, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    class(*), intent(in) :: bytes
    integer(c_int64_t), intent(out) :: device_ptr
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    integer(c_int64_t) :: n
    integer(c_int32_t) :: st
    st = QDSIM_OK
    device_ptr = 0
    n = int_arg(bytes, 0_c_int64_t, 'qdsim_gpu_alloc: bytes', st)
    if (st == QDSIM_OK) st = c_qdsim_gpu_alloc(pool%ptr, int(n, c_size_t), c_str_or_null(tag, ctag), device_ptr)
    call report(st, status)
  end subroutine qdsim_gpu_alloc

  !> Frees the device allocation at `device_ptr` (0 is a no-op).
  subroutine qdsim_gpu_free(pool, device_ptr, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    integer(c_int64_t), intent(in) :: device_ptr
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_gpu_free(pool%ptr, device_ptr), status)
  end subroutine qdsim_gpu_free

  !> Copies `bytes` from device address `src` to host memory `dst` (c_loc(array)).
  subroutine qdsim_gpu_copy_to_host(pool, dst, src, bytes, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    type(c_ptr), intent(in) :: dst
    integer(c_int64_t), intent(in) :: src
    class(*), intent(in) :: bytes
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: n
    integer(c_int32_t) :: st
    st = QDSIM_OK
    n = int_arg(bytes, 0_c_int64_t, 'qdsim_gpu_copy_to_host: bytes', st)
    if (st == QDSIM_OK) st = c_qdsim_gpu_copy_to_host(pool%ptr, dst, src, int(n, c_size_t))
    call report(st, status)
  end subroutine qdsim_gpu_copy_to_host

  !> Copies `bytes` from host memory `src` (c_loc(array)) to device address `dst`.
  subroutine qdsim_gpu_copy_to_device(pool, dst, src, bytes, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    integer(c_int64_t), intent(in) :: dst
    type(c_ptr), intent(in) :: src
    class(*), intent(in) :: bytes
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int64_t) :: n
    integer(c_int32_t) :: st
    st = QDSIM_OK
    n = int_arg(bytes, 0_c_int64_t, 'qdsim_gpu_copy_to_device: bytes', st)
    if (st == QDSIM_OK) st = c_qdsim_gpu_copy_to_device(pool%ptr, dst, src, int(n, c_size_t))
    call report(st, status)
  end subroutine qdsim_gpu_copy_to_device

  !> The pool's device memory statistics.
  subroutine qdsim_gpu_pool_stats(pool, stats, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    type(qdsim_stats), intent(out) :: stats
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_gpu_pool_stats(pool%ptr, stats), status)
  end subroutine qdsim_gpu_pool_stats

  !> The statistics of the pool's pinned host buffers.
  subroutine qdsim_gpu_pool_pinned_stats(pool, stats, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    type(qdsim_stats), intent(out) :: stats
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_gpu_pool_pinned_stats(pool%ptr, stats), status)
  end subroutine qdsim_gpu_pool_pinned_stats

  !> The statistics of tag `tag` in the pool (device and pinned memory together).
  subroutine qdsim_gpu_pool_tag_stats(pool, tag, stats, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    character(len=*), intent(in) :: tag
    type(qdsim_tag_stats), intent(out) :: stats
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    call to_c(tag, ctag)
    call report(c_qdsim_gpu_pool_tag_stats(pool%ptr, c_loc(ctag), stats), status)
  end subroutine qdsim_gpu_pool_tag_stats

  !> The pool's leak report (live device and pinned allocations) as text.
  function qdsim_gpu_pool_leak_report(pool, status) result(text)
    type(qdsim_gpu_pool), intent(in) :: pool
    integer(c_int32_t), intent(out), optional :: status
    character(len=:), allocatable :: text
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = c_qdsim_gpu_pool_leak_report(pool%ptr, p)
    text = take_string(st, p)
    call report(st, status)
  end function qdsim_gpu_pool_leak_report

  !> `bytes` of page-locked host memory for fast copies (view it with c_f_pointer).
  subroutine qdsim_gpu_pinned_alloc(pool, bytes, ptr, tag, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    class(*), intent(in) :: bytes
    type(c_ptr), intent(out) :: ptr
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    character(kind=c_char), allocatable, target :: ctag(:)
    integer(c_int64_t) :: n
    integer(c_int32_t) :: st
    st = QDSIM_OK
    ptr = c_null_ptr
    n = int_arg(bytes, 0_c_int64_t, 'qdsim_gpu_pinned_alloc: bytes', st)
    if (st == QDSIM_OK) st = c_qdsim_gpu_pinned_alloc(pool%ptr, int(n, c_size_t), c_str_or_null(tag, ctag), ptr)
    call report(st, status)
  end subroutine qdsim_gpu_pinned_alloc

  !> Frees pinned host memory from qdsim_gpu_pinned_alloc and nullifies `ptr`.
  subroutine qdsim_gpu_pinned_free(pool, ptr, status)
    type(qdsim_gpu_pool), intent(in) :: pool
    type(c_ptr), intent(inout) :: ptr
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = c_qdsim_gpu_pinned_free(pool%ptr, ptr)
    if (st == QDSIM_OK) ptr = c_null_ptr
    call report(st, status)
  end subroutine qdsim_gpu_pinned_free

  ! ---- typed allocation -------------------------------------------------------------------

  !> Allocates `a` with shape `shape` (1 extent) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_r8_1(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(out) :: a(:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(1)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_F64, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_r8_1

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_r8_1(m, a, status)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(inout) :: a(:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_r8_1

  !> Allocates `a` with shape `shape` (2 extents) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_r8_2(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(out) :: a(:,:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(2)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_F64, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_r8_2

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_r8_2(m, a, status)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(inout) :: a(:,:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_r8_2

  !> Allocates `a` with shape `shape` (3 extents) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_r8_3(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(out) :: a(:,:,:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(3)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_F64, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_r8_3

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_r8_3(m, a, status)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(inout) :: a(:,:,:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_r8_3

  !> Allocates `a` with shape `shape` (1 extent) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_c8_1(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(out) :: a(:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(1)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_COMPLEX, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_c8_1

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_c8_1(m, a, status)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(inout) :: a(:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_c8_1

  !> Allocates `a` with shape `shape` (2 extents) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_c8_2(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(out) :: a(:,:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(2)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_COMPLEX, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_c8_2

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_c8_2(m, a, status)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(inout) :: a(:,:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_c8_2

  !> Allocates `a` with shape `shape` (3 extents) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_c8_3(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(out) :: a(:,:,:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(3)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_COMPLEX, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_c8_3

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_c8_3(m, a, status)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(inout) :: a(:,:,:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_c8_3

  !> Allocates `a` with shape `shape` (1 extent) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_i4_1(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(out) :: a(:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(1)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I32, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_i4_1

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_i4_1(m, a, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(inout) :: a(:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_i4_1

  !> Allocates `a` with shape `shape` (2 extents) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_i4_2(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(out) :: a(:,:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(2)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I32, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_i4_2

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_i4_2(m, a, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(inout) :: a(:,:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_i4_2

  !> Allocates `a` with shape `shape` (3 extents) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_i4_3(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(out) :: a(:,:,:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(3)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I32, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_i4_3

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_i4_3(m, a, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(inout) :: a(:,:,:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_i4_3

  !> Allocates `a` with shape `shape` (1 extent) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_i8_1(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(out) :: a(:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(1)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I64, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_i8_1

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_i8_1(m, a, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(inout) :: a(:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_i8_1

  !> Allocates `a` with shape `shape` (2 extents) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_i8_2(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(out) :: a(:,:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(2)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I64, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_i8_2

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_i8_2(m, a, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(inout) :: a(:,:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_i8_2

  !> Allocates `a` with shape `shape` (3 extents) from the manager's pool, tagged `tag`
  !> (zero-filled when `zeroed`).
  subroutine alloc_i8_3(m, a, shape, tag, status, zeroed)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(out) :: a(:,:,:)
    class(*), intent(in) :: shape(:)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    logical, intent(in), optional :: zeroed
    type(c_ptr) :: p
    integer(c_int64_t) :: extents(3)
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I64, shape, tag, zeroed, p, extents)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, extents)
    else
      nullify(a)
    end if
    call report(st, status)
  end subroutine alloc_i8_3

  !> Gives `a` back to the manager (it must have come from qdsim_allocate) and nullifies it.
  subroutine free_i8_3(m, a, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(inout) :: a(:,:,:)
    integer(c_int32_t), intent(out), optional :: status
    integer(c_int32_t) :: st
    st = QDSIM_OK
    if (associated(a)) then
      st = c_qdsim_manager_free(m%ptr, c_loc(a))
      if (st == QDSIM_OK) nullify(a)
    end if
    call report(st, status)
  end subroutine free_i8_3

end module qdsim_mem
