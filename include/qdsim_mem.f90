!> qdsim_mem: the Fortran 2008 interface to libqdsim_mem, through iso_c_binding.
!>
!> - Handles (qdsim_manager, qdsim_csr, qdsim_eigen_result, qdsim_gpu_pool) are opaque derived
!>   types.
!> - Every procedure takes an optional `status` argument (a QDSIM_* code). Without it, a failure
!>   prints the library's message and stops the program; with it, the caller decides, and
!>   qdsim_last_error() returns the message.
!> - qdsim_allocate gives Fortran array pointers of rank 1 to 3 (real(c_double),
!>   complex(c_double_complex), integer(c_int32_t), integer(c_int64_t)) with 64-bit extents,
!>   from the manager's typed pools; qdsim_deallocate gives them back.
!> - The C structs (qdsim_stats, qdsim_hamiltonian_desc, qdsim_eigen_options, …) are bind(C)
!>   types with the same fields as in qdsim_mem.h; unsigned C fields are signed Fortran integers
!>   of the same width.
!>
!> Compile this file with your program (or link libqdsim_mem_fortran from the install) and link
!> libqdsim_mem; see the README.
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

  public :: qdsim_abi_version, qdsim_last_error, qdsim_status_name
  public :: qdsim_manager_config_default, qdsim_create, qdsim_destroy
  public :: qdsim_allocate, qdsim_deallocate
  public :: qdsim_get_stats, qdsim_get_leak_summary, qdsim_allocation_report, qdsim_leak_report
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
    integer :: i
    allocate(buffer(len_trim(text) + 1))
    do i = 1, len_trim(text)
      buffer(i) = text(i:i)
    end do
    buffer(len_trim(text) + 1) = c_null_char
  end subroutine to_c

  !> An optional logical as a C int flag: 1 when present and true, else 0.
  pure function c_flag(flag) result(value)
    logical, intent(in), optional :: flag
    integer(c_int32_t) :: value
    value = 0
    if (present(flag)) then
      if (flag) value = 1
    end if
  end function c_flag

  !> Hands `st` to the caller's `status`, or stops with the message when there is none.
  subroutine report(st, status)
    integer(c_int32_t), intent(in) :: st
    integer(c_int32_t), intent(out), optional :: status
    if (present(status)) then
      status = st
    else if (st /= QDSIM_OK) then
      write (*, '(a)') 'qdsim_mem: ' // qdsim_status_name(st) // ': ' // qdsim_last_error()
      error stop 1
    end if
  end subroutine report

  !> Calls qdsim_manager_alloc for `count` elements of `pool`, tagged `tag` (if present).
  function raw_alloc(m, pool, count, tag, p) result(st)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), intent(in) :: pool
    integer(c_int64_t), intent(in) :: count
    character(len=*), intent(in), optional :: tag
    type(c_ptr), intent(out) :: p
    integer(c_int32_t) :: st
    character(kind=c_char), allocatable, target :: ctag(:)
    if (count < 0) then
      st = QDSIM_ERR_INVALID_ARGUMENT
      p = c_null_ptr
      return
    end if
    if (present(tag)) then
      call to_c(tag, ctag)
      st = c_qdsim_manager_alloc(m%ptr, pool, int(count, c_size_t), 0_c_size_t, c_loc(ctag), p)
    else
      st = c_qdsim_manager_alloc(m%ptr, pool, int(count, c_size_t), 0_c_size_t, c_null_ptr, p)
    end if
  end function raw_alloc

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

  !> A hard-wall box: lengths(a) nm with points(a) interior points per axis.
  subroutine qdsim_grid_box(lengths, points, grid, status)
    real(c_double), intent(in) :: lengths(:)
    integer(c_int64_t), intent(in) :: points(:)
    type(qdsim_grid), intent(out) :: grid
    integer(c_int32_t), intent(out), optional :: status
    integer(c_size_t) :: p(size(points))
    p = int(points, c_size_t)
    call report(c_qdsim_grid_box(int(size(lengths), c_int32_t), lengths, p, grid), status)
  end subroutine qdsim_grid_box

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
    integer(c_int64_t), intent(in) :: k
    real(c_double), intent(in) :: tolerance
    type(qdsim_eigen_result), intent(out) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_csr_solve_resonances(h%ptr, target, int(k, c_size_t), tolerance, 1_c_int64_t, &
         result%ptr), status)
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

  !> Real eigenvector `j` (1-based) as a pointer into the manager's pool (read-only; valid until
  !> the result is destroyed).
  subroutine qdsim_result_vector(result, j, vector, status)
    type(qdsim_eigen_result), intent(in) :: result
    integer(c_int64_t), intent(in) :: j
    real(c_double), pointer, intent(out) :: vector(:)
    integer(c_int32_t), intent(out), optional :: status
    type(qdsim_eigen_info) :: info
    type(c_ptr) :: data
    integer(c_size_t) :: ld
    real(c_double), pointer :: block(:, :)
    integer(c_int32_t) :: st
    nullify(vector)
    st = c_qdsim_eigen_result_info(result%ptr, info)
    if (st == QDSIM_OK .and. (j < 1 .or. j > int(info%count, c_int64_t) .or. info%vector_scalar /= QDSIM_SCALAR_REAL)) &
         st = QDSIM_ERR_INVALID_ARGUMENT
    if (st == QDSIM_OK) st = c_qdsim_eigen_result_vectors(result%ptr, data, ld)
    if (st == QDSIM_OK) then
      call c_f_pointer(data, block, [int(ld, c_int64_t), int(info%count, c_int64_t)])
      vector => block(1:info%dim, j)
    end if
    call report(st, status)
  end subroutine qdsim_result_vector

  !> Destroys a result.
  subroutine qdsim_result_destroy(result, status)
    type(qdsim_eigen_result), intent(inout) :: result
    integer(c_int32_t), intent(out), optional :: status
    call report(c_qdsim_eigen_result_destroy(result%ptr), status)
    result%ptr = c_null_ptr
  end subroutine qdsim_result_destroy

  ! ---- typed allocation -------------------------------------------------------------------

  !> Allocates `a` with shape `shape` (1 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_r8_1(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(out) :: a(:)
    integer(c_int64_t), intent(in) :: shape(1)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_F64, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (2 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_r8_2(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(out) :: a(:,:)
    integer(c_int64_t), intent(in) :: shape(2)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_F64, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (3 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_r8_3(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer, intent(out) :: a(:,:,:)
    integer(c_int64_t), intent(in) :: shape(3)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_F64, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (1 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_c8_1(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(out) :: a(:)
    integer(c_int64_t), intent(in) :: shape(1)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_COMPLEX, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (2 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_c8_2(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(out) :: a(:,:)
    integer(c_int64_t), intent(in) :: shape(2)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_COMPLEX, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (3 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_c8_3(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    complex(c_double_complex), pointer, intent(out) :: a(:,:,:)
    integer(c_int64_t), intent(in) :: shape(3)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_COMPLEX, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (1 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_i4_1(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(out) :: a(:)
    integer(c_int64_t), intent(in) :: shape(1)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I32, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (2 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_i4_2(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(out) :: a(:,:)
    integer(c_int64_t), intent(in) :: shape(2)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I32, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (3 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_i4_3(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int32_t), pointer, intent(out) :: a(:,:,:)
    integer(c_int64_t), intent(in) :: shape(3)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I32, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (1 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_i8_1(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(out) :: a(:)
    integer(c_int64_t), intent(in) :: shape(1)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I64, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (2 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_i8_2(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(out) :: a(:,:)
    integer(c_int64_t), intent(in) :: shape(2)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I64, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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

  !> Allocates `a` with shape `shape` (3 extents) from the manager's pool, tagged `tag`.
  subroutine alloc_i8_3(m, a, shape, tag, status)
    type(qdsim_manager), intent(in) :: m
    integer(c_int64_t), pointer, intent(out) :: a(:,:,:)
    integer(c_int64_t), intent(in) :: shape(3)
    character(len=*), intent(in), optional :: tag
    integer(c_int32_t), intent(out), optional :: status
    type(c_ptr) :: p
    integer(c_int32_t) :: st
    st = raw_alloc(m, QDSIM_POOL_I64, product(shape), tag, p)
    if (st == QDSIM_OK) then
      call c_f_pointer(p, a, shape)
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
