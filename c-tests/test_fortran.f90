! The Fortran module: ABI constant against the library, shapes and alignment of qdsim_allocate,
! statuses and messages for bad input (returned through `status`, not stopping the program),
! the profiler, scoped statistics and leak checks, a Hamiltonian written to PETSc and
! MatrixMarket files and read back, and its lowest states on the GPU where there is one.
program test_fortran
  use, intrinsic :: iso_c_binding
  use qdsim_mem
  implicit none
  type(qdsim_manager) :: m
  type(qdsim_manager_config) :: config
  type(qdsim_stats) :: s
  real(c_double), pointer :: a(:), b(:, :), big(:)
  complex(c_double_complex), pointer :: z(:, :, :)
  integer(c_int32_t) :: st
  type(qdsim_profiler) :: prof
  type(qdsim_profile_summary) :: ps
  type(qdsim_scope_stats) :: scope
  type(qdsim_leak_check) :: leaks
  integer(c_int64_t) :: checkpoint
  type(qdsim_manager) :: m2
  type(qdsim_hamiltonian_desc) :: d
  type(qdsim_csr) :: h, h_petsc, h_mm, h_missing
  type(qdsim_mapped) :: mp
  type(qdsim_stats) :: s0, s1, s2
  integer :: unit
  real(c_double), allocatable, target :: pot(:)
  type(qdsim_gpu_pool) :: gpu
  type(qdsim_eigen_options) :: opts
  type(qdsim_eigen_result) :: r_cpu, r_gpu, r_grid, r_csr
  type(qdsim_hamiltonian_desc) :: d_open
  type(qdsim_csr) :: h_open
  complex(c_double_complex), allocatable :: z_grid(:), z_csr(:)
  real(c_double), allocatable :: e_cpu(:), e_gpu(:)

  if (qdsim_abi_version() /= QDSIM_MEM_ABI_VERSION) error stop 'ABI version of module and library differ'

  call qdsim_manager_config_default(config)
  config%memory_limit = 1000000_c_int64_t
  call qdsim_create(m, config)

  call qdsim_allocate(m, b, [3_c_int64_t, 4_c_int64_t], 'b')
  if (any(shape(b) /= [3, 4])) error stop 'shape'
  if (mod(transfer(c_loc(b), 0_c_intptr_t), 64_c_intptr_t) /= 0) error stop 'alignment'
  b = 2.5_c_double
  call qdsim_allocate(m, z, [2_c_int64_t, 3_c_int64_t, 4_c_int64_t], 'z')
  if (size(z) /= 24) error stop 'size'
  z = (1.0_c_double, -1.0_c_double)

  ! Over the limit: status, message, nothing allocated.
  call qdsim_allocate(m, big, [200000_c_int64_t], 'too.big', st)
  if (st /= QDSIM_ERR_LIMIT_EXCEEDED) error stop 'limit status'
  if (index(qdsim_last_error(), 'would exceed the memory limit') == 0) error stop 'limit message'
  if (associated(big)) error stop 'failed allocation must be unassociated'
  if (qdsim_status_name(st) /= 'QDSIM_ERR_LIMIT_EXCEEDED') error stop 'status name'

  ! Negative extents are refused.
  call qdsim_allocate(m, a, [-5_c_int64_t], 'neg', st)
  if (st /= QDSIM_ERR_INVALID_ARGUMENT) error stop 'negative extent'

  ! qdsim_deallocate nullifies the pointer; deallocating a null pointer is a no-op.
  call qdsim_allocate(m, a, [10_c_int64_t], 'a')
  call qdsim_deallocate(m, a)
  if (associated(a)) error stop 'deallocate must nullify'
  call qdsim_deallocate(m, a, st)
  if (st /= QDSIM_OK) error stop 'deallocating a null pointer'

  ! A pointer that does not come from the manager is refused, with the reason.
  allocate(a(16))
  call qdsim_deallocate(m, a, st)
  if (st /= QDSIM_ERR_NOT_OWNED) error stop 'foreign pointer status'
  if (index(qdsim_last_error(), 'not allocated by any qdsim') == 0) error stop 'foreign pointer message'
  deallocate(a)

  call qdsim_get_stats(m, s)
  if (s%live_allocations /= 2 .or. s%bytes_in_use /= 12 * 8 + 24 * 16) error stop 'stats'
  call qdsim_deallocate(m, b)
  call qdsim_deallocate(m, z)
  call qdsim_get_stats(m, s)
  if (s%live_allocations /= 0 .or. s%bytes_in_use /= 0) error stop 'stats after free'

  ! Profiler, scopes, leak checks.
  call qdsim_profiler_create(m, prof, 0.005_c_double)
  call qdsim_profiler_start(prof)
  call qdsim_checkpoint(m, checkpoint)
  call qdsim_push_scope(m, 'phase')
  call qdsim_allocate(m, a, [100_c_int64_t], 'kept')
  call qdsim_allocate(m, b, [2_c_int64_t, 5_c_int64_t], 'freed')
  call qdsim_deallocate(m, b)
  call qdsim_profiler_mark(prof, 'allocated')
  call qdsim_pop_scope(m, scope)
  if (scope%allocations /= 2 .or. scope%frees /= 1 .or. scope%net_bytes /= 800) error stop 'scope'
  if (scope%name(1) /= 'p' .or. scope%name(6) /= c_null_char) error stop 'scope name'
  call qdsim_leaks_since(m, checkpoint, 1_c_int64_t, leaks)
  if (leaks%count /= 1 .or. leaks%bytes /= 800 .or. leaks%is_leak /= 1) error stop 'leaks_since'
  call qdsim_pop_scope(m, scope, st)
  if (st /= QDSIM_ERR_INVALID_ARGUMENT) error stop 'pop without push'
  call qdsim_profiler_stop(prof)
  call qdsim_profiler_summary(prof, ps)
  if (ps%marks /= 1 .or. ps%running /= 0) error stop 'profiler summary'
  call qdsim_profiler_write(prof, 7_c_int32_t, 'x.csv', st)
  if (st /= QDSIM_ERR_INVALID_ARGUMENT) error stop 'bad format'
  call qdsim_profiler_mark(prof, '', st)
  if (st /= QDSIM_ERR_INVALID_ARGUMENT) error stop 'empty mark'
  call qdsim_profiler_destroy(prof)
  call qdsim_deallocate(m, a)
  call qdsim_destroy(m)

  ! A 1D Hamiltonian to PETSc and MatrixMarket files and back: the copies hold as many bytes.
  call qdsim_create(m2)
  call qdsim_hamiltonian_desc_default(d)
  call qdsim_grid_box([40.0_c_double], [50_c_int64_t], d%grid)
  allocate(pot(50))
  pot = 0.0_c_double
  d%potential = c_loc(pot)
  call qdsim_hamiltonian_csr(m2, d, h)
  call qdsim_get_stats(m2, s0)
  call qdsim_csr_write_petsc(h, 'test_fortran_h.petsc')
  call qdsim_csr_write_matrix_market(h, 'test_fortran_h.mtx')
  call qdsim_csr_read_petsc(m2, 'test_fortran_h.petsc', h_petsc)
  call qdsim_get_stats(m2, s1)
  call qdsim_csr_read_matrix_market(m2, 'test_fortran_h.mtx', h_mm)
  call qdsim_get_stats(m2, s2)
  if (s1%bytes_in_use /= 2 * s0%bytes_in_use .or. s2%bytes_in_use /= 3 * s0%bytes_in_use) &
       error stop 'PETSc / MatrixMarket round trip sizes'
  call qdsim_csr_read_petsc(m2, 'no_such_file.petsc', h_missing, st)
  if (st /= QDSIM_ERR_IO) error stop 'missing file status'
  ! The Hamiltonian in a mapped file: verified when written and when opened again.
  call qdsim_mapped_from_csr(h, 'test_fortran_h.qdm', mp)
  call qdsim_mapped_verify(mp)
  call qdsim_mapped_destroy(mp)
  call qdsim_mapped_open_verified('test_fortran_h.qdm', mp)
  call qdsim_mapped_verify(mp)
  call qdsim_mapped_destroy(mp)
  call qdsim_mapped_verify(mp, st)
  if (st /= QDSIM_ERR_NULL_ARGUMENT) error stop 'verify of a destroyed mapped handle'
  call qdsim_mapped_open('test_fortran_h.qdm', mp, writable=.true.)
  call qdsim_mapped_destroy(mp)
  call qdsim_mapped_open_verified('no_such_file.qdm', mp, status=st)
  if (st /= QDSIM_ERR_IO) error stop 'missing mapped file status'
  open(newunit=unit, file='test_fortran_h.qdm', status='old')
  close(unit, status='delete')
  open(newunit=unit, file='test_fortran_h.petsc', status='old')
  close(unit, status='delete')
  open(newunit=unit, file='test_fortran_h.mtx', status='old')
  close(unit, status='delete')
  call qdsim_csr_destroy(h_petsc)
  call qdsim_csr_destroy(h_mm)
  call qdsim_csr_destroy(h)

  ! The box made open (an absorber on both faces): the resonances from the grid description and
  ! from the assembled matrix agree (both to residual 1e-9 |E| on levels 10 meV apart: ~1e-9
  ! relative, checked at 1e-7).
  d_open = d
  d_open%absorber = qdsim_absorber(ior(QDSIM_FACE_X_MIN, QDSIM_FACE_X_MAX), 2_c_int32_t, &
       5.0_c_double, 0.05_c_double)
  call qdsim_eigen_options_default(opts)
  opts%k = 2
  opts%tolerance = 1e-9_c_double
  call qdsim_solve_resonances(m2, d_open, (0.01_c_double, 0.0_c_double), opts, r_grid)
  call qdsim_hamiltonian_csr(m2, d_open, h_open)
  call qdsim_solve_resonances(h_open, (0.01_c_double, 0.0_c_double), 2_c_int64_t, 1e-9_c_double, r_csr)
  call qdsim_result_complex_values(r_grid, z_grid)
  call qdsim_result_complex_values(r_csr, z_csr)
  if (size(z_grid) /= 2 .or. size(z_csr) /= 2) error stop 'resonance counts'
  if (maxval(abs(z_grid - z_csr) / abs(z_csr)) > 1e-7_c_double) error stop 'grid vs CSR resonances'
  if (aimag(z_grid(1)) >= 0.0_c_double) error stop 'a resonance decays: Im E < 0'
  deallocate(z_grid, z_csr)
  call qdsim_result_destroy(r_csr)
  call qdsim_result_destroy(r_grid)
  call qdsim_csr_destroy(h_open)

  ! The same 1D box on the GPU where there is one (against the CPU), NO_DEVICE elsewhere.
  call qdsim_gpu_pool_create(0_c_int32_t, 0_c_int64_t, gpu, st)
  if (st == QDSIM_ERR_NO_DEVICE) then
    write (*, '(a)') 'skipped: GPU solve: ' // qdsim_last_error()
  else
    if (st /= QDSIM_OK) error stop 'gpu pool'
    call qdsim_eigen_options_default(opts)
    opts%k = 3
    call qdsim_solve_lowest(m2, d, opts, r_cpu)
    call qdsim_gpu_solve_lowest(gpu, m2, d, opts, r_gpu)
    call qdsim_result_values(r_cpu, e_cpu)
    call qdsim_result_values(r_gpu, e_gpu)
    ! Both certified ||r|| <= 1e-6 max(|E|, s): eigenvalue errors ~||r||^2/gap << 1e-9 eV.
    if (maxval(abs(e_gpu(1:3) - e_cpu(1:3))) > 1e-9_c_double) error stop 'GPU vs CPU eigenvalues'
    deallocate(e_cpu, e_gpu)
    call qdsim_result_destroy(r_gpu)
    call qdsim_result_destroy(r_cpu)
    call qdsim_gpu_pool_destroy(gpu)
  end if
  call qdsim_destroy(m2)
  deallocate(pot)
  write (*, '(a)') 'test_fortran: ok'
end program test_fortran
