! The quantum-dot example in Fortran (twin of examples/c/quantum_dot.c): a 2D GaAs parabolic dot,
! hw = 10 meV, 120 nm box; the potential lives in an array allocated from the manager; the lowest
! states come from qdsim_solve_lowest with a progress callback.
!
!   ./quantum_dot_f90 [points-per-axis (1000)] [states (10)] [--bits]
! With --bits every energy is also printed as its IEEE-754 bit pattern (the CTest compares the C,
! C++ and Fortran twins bit for bit).
module dot_progress
  use, intrinsic :: iso_c_binding
  use qdsim_mem, only: qdsim_progress
  implicit none
contains
  !> Called after every solver iteration; returning non-zero would cancel the solve.
  function show_progress(user, p) result(cancel) bind(C)
    type(c_ptr), value :: user
    type(qdsim_progress), intent(in) :: p
    integer(c_int32_t) :: cancel
    write (0, '(a, i0, a, i0, a, i3, a, i2, a, i0, a, es8.1, a)', advance='no') achar(13) // '  level ', &
         p%levels - p%level, '/', p%levels, '  iteration ', p%iteration, '  ', p%converged, '/', p%wanted, &
         ' converged  residual ', p%max_residual, '   '
    cancel = 0
    if (c_associated(user)) cancel = 0
  end function show_progress
end module dot_progress

program quantum_dot
  use, intrinsic :: iso_c_binding
  use qdsim_mem
  use dot_progress
  implicit none
  real(c_double), parameter :: hw = 0.010_c_double, length = 120.0_c_double, mass = QDSIM_MASS_GAAS
  type(qdsim_manager) :: m
  type(qdsim_hamiltonian_desc) :: d
  type(qdsim_eigen_options) :: options
  type(qdsim_eigen_result) :: r
  type(qdsim_eigen_info) :: info
  real(c_double), pointer :: v(:)
  real(c_double), allocatable :: e(:), res(:)
  real(c_double) :: exact
  integer(c_int64_t) :: n, k, i, shell, in_shell
  integer(c_int32_t) :: st
  logical :: bits
  character(len=32) :: arg

  n = 1000
  k = 10
  bits = .false.
  if (command_argument_count() >= 1) then
    call get_command_argument(1, arg)
    read (arg, *) n
  end if
  if (command_argument_count() >= 2) then
    call get_command_argument(2, arg)
    read (arg, *) k
  end if
  if (command_argument_count() >= 3) then
    call get_command_argument(3, arg)
    bits = trim(arg) == '--bits'
  end if
  if (qdsim_abi_version() /= QDSIM_MEM_ABI_VERSION) error stop 'libqdsim_mem ABI mismatch'

  call qdsim_create(m)
  call qdsim_hamiltonian_desc_default(d)
  call qdsim_grid_box([length, length], [n, n], d%grid)
  d%mass = mass
  ! V = (hw)^2 r^2 / (4 hbar^2/2m*), r from the box's centre, x fastest (as the C and C++ twins).
  call qdsim_allocate(m, v, [n * n], 'potential')
  call qdsim_parabolic_potential(d%grid, mass, hw, v)
  d%potential = c_loc(v)

  call qdsim_eigen_options_default(options)
  options%k = int(k, c_size_t)
  options%progress = c_funloc(show_progress)
  write (*, '(a, i0, a, i0, a, i0, a)') '2D GaAs parabolic dot: hw = 10 meV, 120 nm box, ', n, ' x ', n, &
       ' grid, lowest ', k, ' states'
  call qdsim_solve_lowest(m, d, options, r, st)
  write (0, '(a)') ''
  if (st /= QDSIM_OK .and. st /= QDSIM_ERR_NOT_CONVERGED) then
    write (*, '(a)') 'solve failed: ' // qdsim_status_name(st) // ': ' // qdsim_last_error()
    error stop 1
  end if
  call qdsim_result_info(r, info)
  call qdsim_result_values(r, e)
  call qdsim_result_residuals(r, res)
  write (*, '(a4, a15, a13, a13, a13)') 'n', 'E (meV)', 'exact (meV)', 'error (meV)', 'residual'
  shell = 0
  in_shell = 0
  do i = 1, size(e)
    exact = hw * real(shell + 1, c_double)
    write (*, '(i4, f15.6, f13.3, es13.2, es13.2)') i - 1, e(i) * 1e3_c_double, exact * 1e3_c_double, &
         (e(i) - exact) * 1e3_c_double, res(i)
    in_shell = in_shell + 1
    if (in_shell == shell + 1) then
      shell = shell + 1
      in_shell = 0
    end if
  end do
  if (bits) then
    do i = 1, size(e)
      write (*, '(a, z16.16)') 'bits ', transfer(e(i), 0_c_int64_t)
    end do
  end if
  write (*, '(a, f0.2, a, i0, a, i0, a, i0, a)') 'multigrid LOBPCG in ', info%seconds, ' s: ', info%iterations, &
       ' iterations, ', info%converged, '/', info%count, ' converged'
  write (*, '(a)') qdsim_allocation_report(m)

  call qdsim_result_destroy(r)
  call qdsim_deallocate(m, v)
  deallocate(e, res)
  call qdsim_destroy(m)
  if (info%converged /= info%count) error stop 1
end program quantum_dot
