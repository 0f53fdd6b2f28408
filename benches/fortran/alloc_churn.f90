! Small-array churn through the Fortran module, against the compiler's allocate/deallocate in
! the same run (benches/c/alloc_churn.c is the C twin, with threads and mimalloc).
!
! 10 000 live real(c_double) arrays of 1 - 512 elements (8 B - 4 KiB, log-uniform), then
! `steps` (default 2 million) steps of free-a-random-one + allocate-a-new-one (the first element
! of each new array is written). One thread. The random sequence (Park-Miller) is drawn before
! the clock starts and is the same for both. Prints ns per allocate + free pair, the median of 5
! interleaved runs.
!
! Build and run (not a test: timings are noisy on shared machines):
!   cmake --build build --target bench_alloc_churn_fortran && build/bench_alloc_churn_fortran [steps]
program alloc_churn
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: int64, real64
  use qdsim_mem
  implicit none
  integer, parameter :: live_count = 10000, runs = 5
  type :: qdsim_slot
    real(c_double), pointer :: a(:) => null()
  end type qdsim_slot
  type :: native_slot
    real(c_double), allocatable :: a(:)
  end type native_slot
  type(qdsim_manager) :: m
  integer(int64) :: steps, i
  integer, allocatable :: slot(:)
  integer(c_int64_t), allocatable :: length(:)
  real(real64) :: native_ns(runs), qdsim_ns(runs)
  integer :: r
  character(len=32) :: arg

  steps = 2000000_int64
  if (command_argument_count() > 0) then
    call get_command_argument(1, arg)
    read (arg, *) steps
  end if
  if (steps <= 0) error stop 'usage: bench_alloc_churn_fortran [steps > 0]'
  call draw_sequence()
  call qdsim_create(m)
  do r = 1, runs
    native_ns(r) = run_native()
    qdsim_ns(r) = run_qdsim()
  end do
  call qdsim_destroy(m)
  write (*, '(a, i0, a, i0, a, i0)') 'small-array churn through the Fortran module: ', live_count, &
    ' live real(c_double) arrays of 8 B - 4 KiB (log-uniform), steps: ', steps, ', median of ', runs
  write (*, '(a32, a14, a10)') 'allocator', 'ns per pair', 'vs native'
  write (*, '(a32, f14.1, f9.2, a)') 'allocate/deallocate (gfortran)', median(native_ns), 1.0, 'x'
  write (*, '(a32, f14.1, f9.2, a)') 'qdsim_allocate/qdsim_deallocate', median(qdsim_ns), &
    median(native_ns) / median(qdsim_ns), 'x'
  write (*, '(a)') 'vs native: its time divided by the allocator''s (> 1: faster)'

contains

  subroutine draw_sequence()
    integer(int64) :: state, k
    real(real64) :: u
    allocate (slot(steps), length(steps + live_count))
    state = 24301_int64
    do k = 1, steps
      slot(k) = int(mod(next(state), int(live_count, int64))) + 1
    end do
    do k = 1, steps + live_count
      u = real(next(state), real64) / 2147483647.0_real64
      length(k) = max(1_c_int64_t, int(2.0_real64 ** (9.0_real64 * u), c_int64_t))
    end do
  end subroutine draw_sequence

  !> Park-Miller minimal standard generator (products stay below 2**47).
  function next(state) result(v)
    integer(int64), intent(inout) :: state
    integer(int64) :: v
    state = mod(48271_int64 * state, 2147483647_int64)
    v = state
  end function next

  function now() result(t)
    real(real64) :: t
    integer(int64) :: count, rate
    call system_clock(count, rate)
    t = real(count, real64) / real(rate, real64)
  end function now

  function run_native() result(ns)
    real(real64) :: ns, t0
    type(native_slot), allocatable :: live(:)
    integer :: k
    allocate (live(live_count))
    do k = 1, live_count
      allocate (live(k)%a(length(steps + k)))
      live(k)%a(1) = 1.0_c_double
    end do
    t0 = now()
    do i = 1, steps
      deallocate (live(slot(i))%a)
      allocate (live(slot(i))%a(length(i)))
      live(slot(i))%a(1) = 1.0_c_double
    end do
    ns = 1.0e9_real64 * (now() - t0) / real(steps, real64)
    deallocate (live)
  end function run_native

  function run_qdsim() result(ns)
    real(real64) :: ns, t0
    type(qdsim_slot), allocatable :: live(:)
    integer :: k
    allocate (live(live_count))
    do k = 1, live_count
      call qdsim_allocate(m, live(k)%a, [length(steps + k)], 'bench.churn')
      live(k)%a(1) = 1.0_c_double
    end do
    t0 = now()
    do i = 1, steps
      call qdsim_deallocate(m, live(slot(i))%a)
      call qdsim_allocate(m, live(slot(i))%a, [length(i)], 'bench.churn')
      live(slot(i))%a(1) = 1.0_c_double
    end do
    ns = 1.0e9_real64 * (now() - t0) / real(steps, real64)
    do k = 1, live_count
      call qdsim_deallocate(m, live(k)%a)
    end do
    deallocate (live)
  end function run_qdsim

  function median(x) result(v)
    real(real64), intent(in) :: x(:)
    real(real64) :: v, s(size(x)), t
    integer :: a, b
    s = x
    do a = 2, size(s)
      t = s(a)
      b = a - 1
      do while (b >= 1)
        if (s(b) <= t) exit
        s(b + 1) = s(b)
        b = b - 1
      end do
      s(b + 1) = t
    end do
    v = s((size(s) + 1) / 2)
  end function median
end program alloc_churn
