! A Fortran program that takes its arrays from a qdsim memory manager: typed pools, ranks 1 to 3,
! tags; frees most of them, then prints the statistics and the leak report of what is left, and
! destroys the manager (which frees and reports the rest).
program arrays
  use, intrinsic :: iso_c_binding
  use qdsim_mem
  implicit none
  type(qdsim_manager) :: m
  type(qdsim_stats) :: s
  type(qdsim_leak_summary) :: leaks
  real(c_double), pointer :: psi_density(:, :, :)
  complex(c_double_complex), pointer :: psi(:)
  integer(c_int32_t), pointer :: columns(:, :)
  integer(c_int64_t), pointer :: row_ptr(:)
  integer(c_int64_t) :: i

  call qdsim_create(m)
  call qdsim_allocate(m, psi_density, [64_c_int64_t, 64_c_int64_t, 32_c_int64_t], 'density')
  call qdsim_allocate(m, psi, [100000_c_int64_t], 'wavefunction')
  call qdsim_allocate(m, columns, [5_c_int64_t, 1000_c_int64_t], 'hamiltonian.columns')
  call qdsim_allocate(m, row_ptr, [1001_c_int64_t], 'hamiltonian.row_ptr')
  psi_density = 1.0_c_double
  do i = 1, size(psi, kind=c_int64_t)
    psi(i) = cmplx(real(i, c_double), -real(i, c_double), c_double_complex)
  end do
  columns = 7
  row_ptr = [(5 * i, i = 0, 1000)]
  if (abs(sum(psi_density) - 64.0_c_double * 64 * 32) > 0.5_c_double) error stop 'density'
  if (row_ptr(1001) /= 5000) error stop 'row_ptr'

  call qdsim_get_stats(m, s)
  write (*, '(a, i0, a, i0, a)') 'in use: ', s%bytes_in_use, ' bytes in ', s%live_allocations, ' arrays'

  call qdsim_deallocate(m, psi_density)
  call qdsim_deallocate(m, psi)
  if (associated(psi) .or. associated(psi_density)) error stop 'deallocate must nullify'

  ! The Hamiltonian arrays are "forgotten": the leak report names them.
  call qdsim_get_leak_summary(m, leaks)
  write (*, '(a)') qdsim_leak_report(m)
  if (leaks%count /= 2 .or. leaks%bytes /= 5 * 1000 * 4 + 1001 * 8) error stop 'leak summary'
  call qdsim_destroy(m)
end program arrays
