! The Fortran module over the whole C API, each result checked against an independent reference:
! library queries and solver threads; default-integer shapes and the module's own refusals (their
! message in qdsim_last_error()); the CSR builder and qdsim_csr_solve_lowest against the exact
! eigenvalues of the discrete Laplacian and the grid solve; complex eigenvectors of a magnetic-field
! run (normalised, orthogonal, residual through the complex SpMV); mapped matrices written, read
! and solved; dense eigensolvers against known eigenvalues; the matrix-free operator against the
! CSR product; statistics, tags and the event log. The grid is 20 x 20 to keep valgrind fast.
module fortran_api_checks
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
  use qdsim_mem
  implicit none
  integer, parameter :: n = 20
  real(c_double), parameter :: pi = 3.14159265358979323846_c_double
contains
  subroutine check(ok, what)
    logical, intent(in) :: ok
    character(len=*), intent(in) :: what
    if (.not. ok) then
      write (error_unit, '(a)') 'test_fortran_api: FAILED: ' // what
      error stop 1
    end if
  end subroutine check

  !> `st` is the module's or library's QDSIM_ERR_INVALID_ARGUMENT with exactly `message`.
  subroutine check_refused(st, message)
    integer(c_int32_t), intent(in) :: st
    character(len=*), intent(in) :: message
    call check(st == QDSIM_ERR_INVALID_ARGUMENT, 'refusal status for: ' // message)
    call check(qdsim_last_error() == message, 'refusal message: ' // qdsim_last_error() // ' /= ' // message)
  end subroutine check_refused

  !> A progress callback (bind(C), as options%progress needs): counts its calls in `user`.
  function count_calls(user, progress) bind(C) result(stop_solve)
    type(c_ptr), value :: user
    type(qdsim_progress), intent(in) :: progress
    integer(c_int32_t) :: stop_solve
    integer(c_int32_t), pointer :: calls
    call c_f_pointer(user, calls)
    if (progress%wanted > 0) calls = calls + 1
    stop_solve = 0
  end function count_calls

  !> The k lowest eigenvalues of the n x n Dirichlet finite-difference Laplacian with hopping t
  !> (diagonal 4t): 2t(2 - cos(p pi/(n+1)) - cos(q pi/(n+1))), ascending.
  function laplacian_levels(t, k) result(e)
    real(c_double), intent(in) :: t
    integer, intent(in) :: k
    real(c_double) :: e(k), all(n * n), low
    integer :: p, q, i
    do q = 1, n
      do p = 1, n
        all(p + n * (q - 1)) = 2 * t * (2 - cos(p * pi / (n + 1)) - cos(q * pi / (n + 1)))
      end do
    end do
    do i = 1, k
      low = minval(all)
      e(i) = low
      all(minloc(all, 1)) = huge(low)
    end do
  end function laplacian_levels
end module fortran_api_checks

program test_fortran_api
  use fortran_api_checks
  implicit none
  type(qdsim_manager) :: m
  type(qdsim_hamiltonian_desc) :: d
  real(c_double), allocatable, target :: pot(:)
  integer(c_int64_t) :: threads
  integer :: nx, ny
  character(len=:), allocatable :: text

  ! Impure functions are called once each, outside .and./.or. (which may skip them).
  text = qdsim_version()
  call check(index(text, '3.') == 1, 'version ' // text)
  text = qdsim_pool_name(QDSIM_POOL_F64)
  call check(text == 'f64', 'pool name f64')
  text = qdsim_pool_name(99_c_int32_t)
  call check(text == 'unknown', 'pool name of an unknown pool')
  deallocate(text)   ! main-program variables are never freed at the end (memcheck: lost)
  call qdsim_set_solver_threads(2)                      ! a default integer
  call qdsim_solver_threads(threads)
  call check(threads == 2, 'solver threads')
  call qdsim_set_solver_threads(1_c_int64_t)            ! and a 64-bit one
  call qdsim_solver_threads(threads)
  call check(threads == 1, 'one solver thread')
  ! Back to the default (one per core): a pool of 1 runs solves inside a scoped thread, whose
  ! handle for this thread std keeps until exit (valgrind: "possibly lost"); the C tests do the same.
  call qdsim_set_solver_threads(0)
  call qdsim_solver_threads(threads)
  call check(threads >= 1, 'default solver threads')

  call qdsim_create(m)
  call check_shapes_and_refusals(m)
  nx = n
  ny = n
  allocate(pot(nx * ny), source=0.0_c_double)
  call qdsim_hamiltonian_desc_default(d)
  call qdsim_grid_box([20.0_c_double, 20.0_c_double], [nx, ny], d%grid)   ! default-integer points
  d%potential = c_loc(pot)
  call check_csr_and_operator(m, d)
  call check_magnetic_field(m, d)
  call check_mapped(m, d)
  call check_dense(m)
  call check_gpu()
  call check_physics_and_debug(d)
  call qdsim_check(m)
  call qdsim_destroy(m)
  deallocate(pot)
  print '(a)', 'test_fortran_api: all checks passed'

contains

  subroutine check_shapes_and_refusals(m)
    type(qdsim_manager), intent(in) :: m
    real(c_double), pointer :: b(:, :), a(:)
    real(c_double), allocatable, target :: foreign(:)
    complex(c_double_complex), pointer :: z(:)
    integer :: rows, cols
    integer(c_int32_t) :: st
    type(qdsim_allocation_info) :: found
    type(qdsim_tag_stats) :: ts
    type(qdsim_tag_stats), allocatable :: tags(:)
    type(qdsim_stats) :: ps
    type(qdsim_replay_summary) :: replay
    type(qdsim_profiler) :: prof
    character(len=:), allocatable :: text
    integer(c_int64_t) :: count, released

    rows = 3
    cols = 4
    call qdsim_set_event_log(m, .true.)
    call qdsim_allocate(m, b, [rows, cols], 'b.default')        ! default-integer shape
    call check(all(shape(b) == [3, 4]), 'default-integer shape')
    call qdsim_allocate(m, z, [5], 'z.zeroed', zeroed=.true.)
    call check(all(abs(z) <= 0), 'zeroed allocation')
    call qdsim_find(m, c_loc(b), found)
    call check(found%size == 96 .and. found%pool == QDSIM_POOL_F64, 'find')
    call qdsim_get_tag_stats(m, 'b.default', ts)
    call check(ts%live_allocations == 1 .and. ts%bytes_in_use == 96, 'tag stats')
    call qdsim_tag_count(m, count)
    call qdsim_tag_list(m, tags)
    call check(count == 2 .and. size(tags) == 2, 'tag count and list')
    call check(any([(tags(rows)%bytes_in_use == 96, rows = 1, size(tags))]), 'tag list holds b.default')
    call qdsim_get_pool_stats(m, QDSIM_POOL_COMPLEX, ps)
    call check(ps%bytes_in_use == 80, 'complex pool stats')
    call qdsim_deallocate(m, z)
    call qdsim_deallocate(m, b)
    call qdsim_trim(m, released)
    call check(released >= 0, 'trim')
    call qdsim_write_event_log(m, 'test_fortran_api_events.csv')
    call qdsim_replay_event_log('test_fortran_api_events.csv', replay, text)
    call check(replay%allocations == 2 .and. replay%frees == 2 .and. replay%live_at_end == 0, 'replay')
    call check(len(text) > 0, 'replay report')
    call qdsim_set_event_log(m, .false.)

    call qdsim_profiler_create(m, prof)
    call qdsim_profiler_sample(prof)
    text = qdsim_profiler_export(prof, QDSIM_FORMAT_JSON)
    call check(index(text, '{') == 1, 'profiler JSON export')
    call qdsim_profiler_destroy(prof)

    ! A library failure first, so that a refusal that set no message would show this one.
    allocate(foreign(4))
    a => foreign
    call qdsim_deallocate(m, a, st)
    call check(st == QDSIM_ERR_NOT_OWNED, 'foreign pointer')
    ! Module-side refusals: wrong number of extents, a shape that is not an integer.
    call qdsim_allocate(m, b, [3], 'rank', st)
    call check_refused(st, 'qdsim_allocate: shape has 1 extents for an array of rank 2')
    call check(.not. associated(b), 'nothing allocated')
    call qdsim_allocate(m, a, [2.5_c_double], 'kind', st)
    call check(st == QDSIM_ERR_INVALID_ARGUMENT, 'kind refusal status')
    call check(index(qdsim_last_error(), 'qdsim_allocate: extent 1 must be an integer of kind') == 1, &
         'kind refusal message: ' // qdsim_last_error())
    call qdsim_set_solver_threads(-1, st)
    call check_refused(st, 'qdsim_set_solver_threads: threads is -1, below 0')
    ! Tags: the longest the library takes (63 bytes, passed from the module's stack buffer;
    ! trailing blanks are not part of a Fortran tag) and one byte more (refused by the library,
    ! nothing allocated).
    call qdsim_allocate(m, a, [4], repeat('t', 63) // '   ', st)
    call check(st == QDSIM_OK .and. associated(a), '63-byte tag')
    call qdsim_get_tag_stats(m, repeat('t', 63), ts)
    call check(ts%live_allocations == 1 .and. ts%bytes_in_use == 32, '63-byte tag stats')
    call qdsim_deallocate(m, a)
    call qdsim_allocate(m, a, [4], repeat('u', 64), st)
    call check(st == QDSIM_ERR_INVALID_ARGUMENT .and. .not. associated(a), '64-byte tag refused')
    call check(index(qdsim_last_error(), 'tag') > 0, '64-byte tag message: ' // qdsim_last_error())
  end subroutine check_shapes_and_refusals

  !> The CSR builder copies the grid Hamiltonian; the builder's matrix, the grid and the
  !> matrix-free operator must agree with the exact levels of the discrete Laplacian.
  subroutine check_csr_and_operator(m, d)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_hamiltonian_desc), intent(in) :: d
    type(qdsim_csr) :: h, hb, ho
    type(qdsim_csr_builder) :: builder
    type(qdsim_csr_info) :: info, infob
    type(qdsim_operator) :: op
    type(qdsim_operator_info) :: opinfo
    integer(c_int32_t), pointer :: rp(:), ci(:), rpb(:), cib(:)
    real(c_double), pointer :: val(:), valb(:), x(:)
    real(c_double), allocatable :: e_csr(:), e_grid(:), e_ref(:), y(:), y_op(:)
    type(qdsim_eigen_options) :: opts
    type(qdsim_eigen_result) :: r_csr, r_grid
    real(c_double) :: t
    integer :: i, k

    call qdsim_hamiltonian_csr(m, d, h)
    call qdsim_csr_get_info(h, info)
    call check(info%rows == n * n .and. info%index_bits == 32 .and. info%scalar == QDSIM_SCALAR_REAL, 'csr info')
    call qdsim_csr_arrays(h, rp, ci, val)
    call qdsim_csr_builder_create(m, QDSIM_SCALAR_REAL, n * n, n * n, builder, 'built')
    do i = 1, n * n
      do k = rp(i) + 1, rp(i + 1)                       ! row_ptr and col_idx are 0-based (C)
        call qdsim_csr_builder_add(builder, i, ci(k) + 1, val(k))
      end do
    end do
    call qdsim_csr_builder_finalize(builder, hb)
    call qdsim_csr_builder_destroy(builder)
    call qdsim_csr_get_info(hb, infob)
    call qdsim_csr_arrays(hb, rpb, cib, valb)
    call check(infob%nnz == info%nnz .and. all(rpb == rp) .and. all(cib == ci), 'builder structure')
    call check(maxval(abs(valb - val)) <= 0, 'builder values')
    ! Zero potential: the diagonal is 4t and the neighbours -t (row 1: columns 1, 2, n+1).
    t = -valb(2)
    call check(cib(2) == 1 .and. abs(valb(1) - 4 * t) <= 1e-14_c_double * t, 'Laplacian stencil')

    ! Tolerance: for a Hermitian matrix |theta - lambda| <= ||r|| <= tol * |lambda| with a unit
    ! vector, so 1e-10 bounds the relative error by 1e-10; 1e-8 leaves room for rounding.
    call qdsim_eigen_options_default(opts)
    opts%k = 4
    opts%tolerance = 1e-10_c_double
    call qdsim_csr_solve_lowest(hb, opts, r_csr)
    call qdsim_solve_lowest(m, d, opts, r_grid)
    call qdsim_result_values(r_csr, e_csr)
    call qdsim_result_values(r_grid, e_grid)
    e_ref = laplacian_levels(t, 4)
    call check(all(abs(e_csr - e_ref) <= 1e-8_c_double * e_ref), 'csr_solve_lowest against the exact levels')
    call check(all(abs(e_grid - e_ref) <= 1e-8_c_double * e_ref), 'grid solve against the exact levels')

    ! H x by the CSR product and by the operator, for the ground state x: both are E x.
    call qdsim_result_vector(r_csr, 1, x)                ! a default-integer index
    allocate(y(n * n), y_op(n * n))
    call qdsim_csr_spmv(h, x, y)
    call check(norm2(y - e_csr(1) * x) <= 1e-8_c_double * e_csr(1), 'csr_spmv residual')
    call qdsim_hamiltonian_operator(m, d, op, 'op')
    call qdsim_operator_get_info(op, opinfo)
    call check(opinfo%dim == n * n .and. opinfo%hermitian == 1, 'operator info')
    y_op = 1
    call qdsim_operator_apply(op, x, y_op, alpha=2.0_c_double, beta=-1.0_c_double)
    call check(maxval(abs(y_op - (2 * y - 1))) <= 1e-12_c_double * maxval(abs(y)), 'operator against spmv')
    call qdsim_operator_to_csr(op, ho)
    call qdsim_csr_get_info(ho, infob)
    call check(infob%nnz == info%nnz, 'operator_to_csr')
    call qdsim_csr_spmv(h, x(1:n), y, status=k)
    call check_refused(k, 'qdsim_csr_spmv: x has 20 elements, 400 expected')

    call qdsim_operator_destroy(op)
    call qdsim_result_destroy(r_csr)
    call qdsim_result_destroy(r_grid)
    call qdsim_csr_destroy(ho)
    call qdsim_csr_destroy(hb)
    call qdsim_csr_destroy(h)
  end subroutine check_csr_and_operator

  !> A 5 T field: complex eigenvectors, read in place, normalised, orthogonal, with residuals
  !> through the complex CSR product; the diamagnetic shift raises the ground state.
  subroutine check_magnetic_field(m, d0)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_hamiltonian_desc), intent(in) :: d0
    type(qdsim_hamiltonian_desc) :: d
    type(qdsim_eigen_options) :: opts
    type(qdsim_eigen_result) :: r, r0, r_csr
    type(qdsim_eigen_info) :: info
    type(qdsim_csr) :: h
    complex(c_double_complex), pointer :: zv(:, :), z1(:)
    real(c_double), pointer :: xr(:)
    real(c_double), allocatable :: e(:), e0(:), e_csr(:)
    complex(c_double_complex), allocatable :: y(:)
    ! volatile: the library writes it through opts%progress_user, behind the compiler's back.
    integer(c_int32_t), target, volatile :: calls
    integer(c_int32_t) :: st
    integer :: j

    d = d0
    d%magnetic_field = 5.0_c_double
    call qdsim_eigen_options_default(opts)
    opts%k = 3
    opts%tolerance = 1e-10_c_double
    calls = 0
    opts%progress = c_funloc(count_calls)
    opts%progress_user = c_loc(calls)
    call qdsim_solve_lowest(m, d, opts, r)
    call check(calls > 0, 'progress callback')
    opts%progress = c_null_funptr
    call qdsim_result_info(r, info)
    call check(info%vector_scalar == QDSIM_SCALAR_COMPLEX .and. info%count == 3, 'complex result')
    call qdsim_result_vectors(r, zv)
    call check(all(shape(zv) == [n * n, 3]), 'complex vectors shape')
    call qdsim_result_vector(r, 2_c_int64_t, z1)
    call check(associated(z1, zv(:, 2)), 'vector j is column j of the block')
    call qdsim_result_values(r, e)
    call qdsim_hamiltonian_csr(m, d, h)                  ! complex: the field
    allocate(y(n * n))
    do j = 1, 3
      ! Normalisation: the solver returns unit vectors; 1e-12 is rounding over 400 terms.
      call check(abs(sum(abs(zv(:, j))**2) - 1) <= 1e-12_c_double, 'complex eigenvector norm')
      call qdsim_csr_spmv(h, zv(:, j), y)
      call check(sqrt(sum(abs(y - e(j) * zv(:, j))**2)) <= 1e-8_c_double * e(j), 'complex residual')
    end do
    call check(abs(dot_product(zv(:, 1), zv(:, 2))) <= 1e-8_c_double, 'complex eigenvectors orthogonal')
    ! The field makes the vectors genuinely complex: no global phase makes the ground state real.
    call check(maxval(abs(aimag(zv(:, 1) * conjg(zv(1, 1)) / abs(zv(1, 1))))) > 1e-6_c_double, 'complex phase')
    call qdsim_eigen_options_default(opts)
    opts%k = 3
    opts%tolerance = 1e-10_c_double
    call qdsim_csr_solve_lowest(h, opts, r_csr)
    call qdsim_result_values(r_csr, e_csr)
    call check(all(abs(e_csr - e) <= 1e-8_c_double * e), 'complex csr_solve_lowest against the grid solve')
    call qdsim_solve_lowest(m, d0, opts, r0)
    call qdsim_result_values(r0, e0)
    call check(e(1) > e0(1), 'diamagnetic shift')
    ! A real pointer to complex eigenvectors is refused by the module, with its reason.
    call qdsim_result_vector(r, 1, xr, st)
    call check_refused(st, 'qdsim_result_vectors: eigenvectors: the elements are ' // &
         'complex(c_double_complex), the array is real(c_double)')
    call check(.not. associated(xr), 'no view of the wrong kind')
    call qdsim_result_vector(r, 4, z1, st)
    call check_refused(st, 'qdsim_result_vector: j is 4, the result has 3 eigenvectors')
    call qdsim_result_destroy(r0)
    call qdsim_result_destroy(r_csr)
    call qdsim_result_destroy(r)
    call qdsim_csr_destroy(h)
  end subroutine check_magnetic_field

  !> Dense mapped files written through a view and by columns, read back; a mapped CSR matrix
  !> solved where it lies.
  subroutine check_mapped(m, d)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_hamiltonian_desc), intent(in) :: d
    type(qdsim_mapped) :: mp, mc
    type(qdsim_mapped_info) :: info
    type(qdsim_matrix) :: a, back
    type(qdsim_csr) :: h, hc
    type(qdsim_csr_info) :: cinfo
    real(c_double), pointer :: w(:, :), rview(:, :), val(:), mval(:)
    complex(c_double_complex), pointer :: za(:, :), zview(:, :)
    integer(c_int32_t), pointer :: rp(:), ci(:), mrp(:), mci(:)
    real(c_double) :: cols(4, 2), expect(4, 3)
    type(qdsim_eigen_options) :: opts
    type(qdsim_eigen_result) :: r
    real(c_double), allocatable :: e(:)
    integer(c_int32_t) :: st
    integer :: i, j, unit

    do j = 1, 3
      do i = 1, 4
        expect(i, j) = 10 * i + j
      end do
    end do
    call qdsim_mapped_create_dense('test_fortran_api_dense.qdm', QDSIM_SCALAR_REAL, 4, 2, mp)
    call qdsim_mapped_data_mut(mp, w)
    w = expect(:, 1:2)
    call qdsim_mapped_grow(mp, 3)                         ! earlier views are invalid now
    call qdsim_mapped_write_columns(mp, 3, expect(:, 3:3))
    call qdsim_mapped_flush(mp)
    call qdsim_mapped_finalize(mp)
    call qdsim_mapped_destroy(mp)
    call qdsim_mapped_open('test_fortran_api_dense.qdm', mp)
    call qdsim_mapped_get_info(mp, info)
    call check(info%rows == 4 .and. info%cols == 3 .and. info%layout == QDSIM_MAPPED_DENSE .and. &
         info%writable == 0 .and. info%finalized == 1, 'mapped info')
    call qdsim_mapped_data(mp, rview)
    call check(all(shape(rview) == [4, 3]) .and. maxval(abs(rview - expect)) <= 0, 'mapped data read back')
    call qdsim_mapped_read_columns(mp, 2, cols)
    call check(maxval(abs(cols - expect(:, 2:3))) <= 0, 'mapped read_columns')
    call qdsim_mapped_write_columns(mp, 1, cols, st)
    call check(st == QDSIM_ERR_INVALID_ARGUMENT, 'read-only mapping refuses writes')
    call qdsim_mapped_data(mp, zview, st)
    call check_refused(st, 'qdsim_mapped_data: the elements are real(c_double), the array is complex(c_double_complex)')
    call qdsim_mapped_destroy(mp)

    ! Complex: a dense matrix to a file and back.
    call qdsim_matrix_create(m, QDSIM_SCALAR_COMPLEX, 2, 3, a, 'za')
    call qdsim_matrix_data(a, za)
    za = reshape([(cmplx(i, -i, c_double_complex), i = 1, 6)], [2, 3])
    call qdsim_mapped_from_matrix(a, 'test_fortran_api_complex.qdm', mc)
    call qdsim_mapped_data(mc, zview)
    call check(maxval(abs(zview - za)) <= 0, 'complex mapped view')
    call qdsim_mapped_verify(mc)
    call qdsim_mapped_to_matrix(mc, m, back, 'back')
    call qdsim_matrix_data(back, zview)
    call check(maxval(abs(zview - za)) <= 0, 'mapped_to_matrix')
    call qdsim_matrix_destroy(back)
    call qdsim_matrix_destroy(a)
    call qdsim_mapped_destroy(mc)

    ! CSR: the Hamiltonian in a file, its arrays in place, solved from the file.
    call qdsim_hamiltonian_csr(m, d, h)
    call qdsim_csr_arrays(h, rp, ci, val)
    call qdsim_mapped_from_csr(h, 'test_fortran_api_csr.qdm', mc)
    call qdsim_mapped_csr_arrays(mc, mrp, mci, mval)
    call check(all(mrp == rp) .and. all(mci == ci) .and. maxval(abs(mval - val)) <= 0, 'mapped CSR arrays')
    call qdsim_mapped_to_csr(mc, m, hc)
    call qdsim_csr_get_info(hc, cinfo)
    call check(cinfo%nnz == size(val), 'mapped_to_csr')
    call qdsim_eigen_options_default(opts)
    opts%k = 2
    opts%tolerance = 1e-10_c_double
    call qdsim_mapped_solve_lowest(m, mc, opts, r)
    call qdsim_result_values(r, e)
    ! Same tolerance argument as for csr_solve_lowest.
    call check(all(abs(e - laplacian_levels(-val(2), 2)) <= 1e-8_c_double * e), 'mapped_solve_lowest')
    call qdsim_result_destroy(r)
    call qdsim_csr_destroy(hc)
    call qdsim_csr_destroy(h)
    call qdsim_mapped_destroy(mc)

    open (newunit=unit, file='test_fortran_api_dense.qdm')
    close (unit, status='delete')
    open (newunit=unit, file='test_fortran_api_complex.qdm')
    close (unit, status='delete')
    open (newunit=unit, file='test_fortran_api_csr.qdm')
    close (unit, status='delete')
    open (newunit=unit, file='test_fortran_api_events.csv')
    close (unit, status='delete')
  end subroutine check_mapped

  !> Dense eigensolvers on matrices with known eigenvalues; copy, transpose and adjoint.
  subroutine check_dense(m)
    type(qdsim_manager), intent(in) :: m
    type(qdsim_matrix) :: a, b, g, gt, c
    type(qdsim_matrix_info) :: info
    real(c_double), pointer :: av(:, :), bv(:, :), vec(:, :)
    complex(c_double_complex), pointer :: gv(:, :), gtv(:, :), zvec(:, :)
    type(qdsim_eigen_result) :: r, rg
    real(c_double), allocatable :: e(:)
    complex(c_double_complex), allocatable :: ez(:)
    real(c_double), parameter :: s2 = sqrt(2.0_c_double)
    integer :: j

    ! The 3 x 3 second-difference matrix: eigenvalues 2 - sqrt(2), 2, 2 + sqrt(2). The dense
    ! solver is backward stable (error about n eps ||A|| = 3e-15); 1e-12 is a safe bound.
    call qdsim_matrix_create(m, QDSIM_SCALAR_REAL, 3, 3, a, 'a')
    call qdsim_matrix_data(a, av)
    av = reshape([2, -1, 0, -1, 2, -1, 0, -1, 2], [3, 3])
    call qdsim_matrix_eigen_hermitian(a, r)
    call qdsim_result_values(r, e)
    call check(all(abs(e - [2 - s2, 2.0_c_double, 2 + s2]) <= 1e-12_c_double), 'dense Hermitian eigenvalues')
    call qdsim_result_vectors(r, vec)
    do j = 1, 3
      call check(norm2(matmul(av, vec(:, j)) - e(j) * vec(:, j)) <= 1e-12_c_double, 'dense eigenvector')
    end do
    call qdsim_result_destroy(r)
    call qdsim_matrix_eigen_hermitian(a, r, k=1_c_int64_t)
    call qdsim_result_values(r, e)
    call check(size(e) == 1 .and. abs(e(1) - (2 - s2)) <= 1e-12_c_double, 'dense lowest k')
    call qdsim_result_destroy(r)
    call qdsim_matrix_create(m, QDSIM_SCALAR_REAL, 3, 3, b)
    call qdsim_matrix_copy(a, b)
    call qdsim_matrix_data(b, bv)
    call check(maxval(abs(bv - av)) <= 0, 'matrix copy')

    ! [[1, -2], [2, 1]]: eigenvalues 1 +- 2i.
    call qdsim_matrix_create(m, QDSIM_SCALAR_COMPLEX, 2, 2, g)
    call qdsim_matrix_data(g, gv)
    gv = reshape([(1, 0), (2, 0), (-2, 0), (1, 0)], [2, 2])
    call qdsim_matrix_eigen_general(g, rg)
    call qdsim_result_complex_values(rg, ez)
    call check(all(abs(real(ez) - 1) <= 1e-12_c_double) .and. abs(abs(aimag(ez(1))) - 2) <= 1e-12_c_double &
         .and. abs(aimag(ez(1)) + aimag(ez(2))) <= 1e-12_c_double, 'general eigenvalues')
    call qdsim_result_vectors(rg, zvec)
    do j = 1, 2
      call check(sqrt(sum(abs(matmul(gv, zvec(:, j)) - ez(j) * zvec(:, j))**2)) <= 1e-12_c_double, &
           'general eigenvector')
    end do
    call qdsim_matrix_create(m, QDSIM_SCALAR_COMPLEX, 3, 2, c)
    call qdsim_matrix_create(m, QDSIM_SCALAR_COMPLEX, 2, 3, gt)
    call qdsim_matrix_data(gt, gtv)
    gtv = reshape([((0, 1), j = 1, 6)], [2, 3]) * reshape([(real(j, c_double), j = 1, 6)], [2, 3])
    call qdsim_matrix_adjoint(gt, c)
    call qdsim_matrix_data(c, gv)
    call check(maxval(abs(gv - conjg(transpose(gtv)))) <= 0, 'adjoint')
    call qdsim_matrix_transpose(gt, c)
    call check(maxval(abs(gv - transpose(gtv))) <= 0, 'transpose')
    call qdsim_matrix_get_info(c, info)
    call check(info%rows == 3 .and. info%cols == 2 .and. info%scalar == QDSIM_SCALAR_COMPLEX, 'matrix info')
    call qdsim_result_destroy(rg)
    call qdsim_matrix_destroy(c)
    call qdsim_matrix_destroy(gt)
    call qdsim_matrix_destroy(g)
    call qdsim_matrix_destroy(b)
    call qdsim_matrix_destroy(a)
  end subroutine check_dense

  !> The potential helpers against their formulas, and a manager in the debug mode (red zones).
  subroutine check_physics_and_debug(d)
    type(qdsim_hamiltonian_desc), intent(in) :: d
    type(qdsim_manager) :: dbg
    type(qdsim_manager_config) :: config
    real(c_double), allocatable :: v(:), shell(:)
    real(c_double), pointer :: a(:)
    real(c_double) :: h, x, y, expected
    integer(c_int32_t) :: st
    integer :: i, j, n2
    n2 = int(d%grid%axes(1)%points)
    allocate(v(n2 * n2), shell(n2 * n2))
    call qdsim_parabolic_potential(d%grid, QDSIM_MASS_GAAS, 0.01_c_double, v)
    h = d%grid%axes(1)%spacing
    do j = 1, n2, 7
      do i = 1, n2, 5
        x = i * h - (n2 + 1) * h / 2
        y = j * h - (n2 + 1) * h / 2
        expected = 0.01_c_double**2 * (x * x + y * y) / (4 * QDSIM_HBAR2_OVER_2M0 / QDSIM_MASS_GAAS)
        ! Same formula, same centre: only the evaluation order differs (a few ulps).
        call check(abs(v(i + (j - 1) * n2) - expected) <= 1e-13_c_double * max(expected, 1e-3_c_double), &
             'parabolic potential')
      end do
    end do
    call qdsim_open_dot_potential(d%grid, 4.0_c_double, 1.0_c_double, 0.2_c_double, shell)
    call check(abs(minval(shell)) <= 0 .and. abs(maxval(shell) - 0.2_c_double) <= 0, 'open dot potential')
    call qdsim_parabolic_potential(d%grid, -1.0_c_double, 0.01_c_double, v, st)
    call check(st == QDSIM_ERR_INVALID_ARGUMENT, 'bad mass refused')
    call check(len(qdsim_last_error()) > 0, 'bad mass message')

    call qdsim_manager_config_default(config)
    config%red_zones = 1
    call qdsim_create(dbg, config)
    call qdsim_get_config(dbg, config)
    call check(config%red_zones == 1 .and. config%thread_cache == 0, 'debug config')
    ! Blocks used within their bounds pass the red-zone check (the overrun itself is tested from
    ! C, test_debug.c: this program also runs under memcheck, which would flag the write).
    call qdsim_allocate(dbg, a, [10], 'fortran.psi')
    a = 1
    call qdsim_check(dbg)
    call qdsim_deallocate(dbg, a)
    call qdsim_destroy(dbg)
  end subroutine check_physics_and_debug

  !> Without a GPU the device functions say so (QDSIM_ERR_NO_DEVICE and a reason).
  subroutine check_gpu()
    type(qdsim_gpu_pool) :: pool
    type(qdsim_stats) :: s
    integer(c_int64_t) :: dptr
    integer(c_int32_t) :: count, st
    real(c_double), target :: host(8), back(8)
    call qdsim_gpu_device_count(count, st)
    if (st == QDSIM_ERR_NO_DEVICE) then
      call check(len(qdsim_last_error()) > 0, 'no-device message')
      return
    end if
    call check(st == QDSIM_OK .and. count >= 1, 'device count')
    call qdsim_gpu_pool_create(0, 0_c_int64_t, pool)
    host = [(real(count, c_double), count = 1, 8)]
    call qdsim_gpu_alloc(pool, 64, dptr, 'fortran')
    call qdsim_gpu_copy_to_device(pool, dptr, c_loc(host), 64)
    call qdsim_gpu_copy_to_host(pool, c_loc(back), dptr, 64)
    call check(maxval(abs(back - host)) <= 0, 'device round trip')
    call qdsim_gpu_pool_stats(pool, s)
    call check(s%bytes_in_use == 64, 'device stats')
    call qdsim_gpu_free(pool, dptr)
    call qdsim_gpu_pool_destroy(pool)
  end subroutine check_gpu
end program test_fortran_api
