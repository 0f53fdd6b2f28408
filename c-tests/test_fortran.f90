! The Fortran module: ABI constant against the library, shapes and alignment of qdsim_allocate,
! statuses and messages for bad input (returned through `status`, not stopping the program).
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
  call qdsim_destroy(m)
  write (*, '(a)') 'test_fortran: ok'
end program test_fortran
