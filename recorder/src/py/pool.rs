//! The hand-off of the OS threads kept between controlled runs
//! (`racetrace.pool._Worker`): a [`Parker`] per pooled thread, and the driver's
//! wait until the run's threads have parked again.
//!
//! A Python lock would do the hand-off, but each wake-up through it is a
//! futex wake that a virtual machine with an idle vCPU makes slow (20–50
//! µs, a tenth of a small execution), and the woken thread then waits for
//! the GIL, which the waker still holds: a second wake. Here a parked
//! thread spins for a while first (the next run usually starts within a
//! few hundred µs: see `control::wake`), the driver hands the first actor
//! its job only once it has let the GIL go (`control_wait`), and the
//! driver takes the GIL back only once the finished actors' threads have
//! let it go (parked), so neither waits on the GIL.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use pyo3::prelude::*;

use crate::control::wake;

/// Pooled threads handed a job and not parked again since.
static BUSY: AtomicUsize = AtomicUsize::new(0);
/// How long a parked thread spins before it sleeps: the driver's work
/// between two runs of a small program (finishing one, the DPOR step,
/// setting up the next) fits in it.
const PARK_SPIN: Duration = Duration::from_micros(500);
/// How long the driver waits, after a run ended, for its threads to park.
const SETTLE_SPIN: Duration = Duration::from_micros(300);

/// One pooled thread's wake-up: `park` waits (the GIL released) until
/// `unpark`; an `unpark` before the `park` is not lost.
#[pyclass(frozen, module = "racetrace._native")]
pub struct Parker {
    ready: AtomicBool,
    busy: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

#[pymethods]
impl Parker {
    #[new]
    fn new() -> Self {
        Parker {
            ready: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    /// Waits until `unpark` (spinning first, then sleeping).
    fn park(&self, py: Python<'_>) {
        py.detach(|| {
            if self.busy.swap(false, Ordering::AcqRel) {
                BUSY.fetch_sub(1, Ordering::AcqRel);
            }
            if !wake::spin_idle_until(PARK_SPIN, || self.ready.load(Ordering::Acquire)) {
                let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                while !self.ready.load(Ordering::Acquire) {
                    g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
                }
            }
            self.ready.store(false, Ordering::Release);
        })
    }

    /// Wakes the parked thread (or the next `park` returns at once).
    fn unpark(&self) {
        self.give();
    }
}

impl Parker {
    fn give(&self) {
        if !self.busy.swap(true, Ordering::AcqRel) {
            BUSY.fetch_add(1, Ordering::AcqRel);
        }
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.ready.store(true, Ordering::Release);
        self.cv.notify_one();
    }
}

/// Hands `first` its job; called by the driver with the GIL released.
pub(super) fn start(first: &Parker) {
    first.give();
}

/// After a run ended (the GIL released): waits a little for the threads
/// of its actors to park, so that the driver finds the GIL free. Nothing
/// depends on it: a thread still busy (stuck where the model cannot see)
/// only makes the driver wait for the GIL as it would anyway, and, since
/// such a thread never parks, every later run's end spins the whole
/// budget.
pub(super) fn settle() {
    wake::spin_until(SETTLE_SPIN, || BUSY.load(Ordering::Acquire) == 0);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Parker>()?;
    Ok(())
}
