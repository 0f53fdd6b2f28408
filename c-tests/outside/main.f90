! Outside-project check (Fortran): the installed qdsim_mem module and library.
program outside
  use, intrinsic :: iso_c_binding
  use qdsim_mem
  implicit none
  type(qdsim_manager) :: m
  real(c_double), pointer :: a(:, :)
  if (qdsim_abi_version() /= QDSIM_MEM_ABI_VERSION) error stop 'ABI mismatch'
  call qdsim_create(m)
  call qdsim_allocate(m, a, [10_c_int64_t, 10_c_int64_t], 'outside')
  a = 1.0_c_double
  call qdsim_deallocate(m, a)
  call qdsim_destroy(m)
  write (*, '(a)') 'outside Fortran: ok'
end program outside
