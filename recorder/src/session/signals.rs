//! Fatal signals while recording: what is buffered reaches the file, the
//! trace says how the run ended, and then the signal does what it would
//! have done without racetrace (the same exit status, core dump or handler).
//!
//! A signal handler may run while the interrupted thread holds the session
//! mutex or is inside `malloc`, so the handler itself does nothing but
//! async-signal-safe calls: it writes the signal number into a pipe that the
//! flusher thread (`super::spawn_flusher`) polls, waits a bounded time on a
//! second pipe for the flusher to say the trace is closed, puts the previous
//! disposition back and raises the signal again. The flusher, an ordinary
//! thread, takes the mutex, writes the last chunk and the footer (outcome
//! "aborted: ... signal ..."), and answers. If it cannot (the crashing
//! thread held the mutex, or the heap is broken), the wait times out and the
//! signal goes on: the trace then ends at the flusher's last periodic flush,
//! which the reader reports as truncated.
//!
//! Which signals:
//! - crashes (`SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`, `SIGABRT`): always
//!   caught, then handed to whatever handled them before (Python's
//!   `faulthandler`, pytest's, or the default action);
//! - terminations (`SIGTERM`, `SIGHUP`, `SIGQUIT`): caught only while their
//!   disposition is the default one. A program that installed a handler
//!   (`signal.signal(SIGTERM, ...)`) handles them itself and its recording
//!   ends as the program decides; one that ignores them keeps ignoring them.
//!
//! A stack overflow in C cannot run a handler without an alternate signal
//! stack; the trace then ends at the last periodic flush.

use std::cell::UnsafeCell;
use std::ffi::c_int;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::OnceLock;

/// How long the handler waits for the flusher to close the trace.
const CLOSE_WAIT_MS: c_int = 2000;

const CRASHES: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];
const TERMINATIONS: [c_int; 3] = [libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
const SLOTS: usize = 65;

/// The disposition a signal had before ours, read by the handler.
struct Saved {
    installed: AtomicBool,
    old: UnsafeCell<MaybeUninit<libc::sigaction>>,
}

// SAFETY: `old` is written only by `install` while `installed` is false
// (no handler of ours can run for that signal then), and read by the
// handler and `uninstall` only after `installed` was set with Release.
unsafe impl Sync for Saved {}

static SAVED: [Saved; SLOTS] = [const {
    Saved {
        installed: AtomicBool::new(false),
        old: UnsafeCell::new(MaybeUninit::uninit()),
    }
}; SLOTS];

/// The two pipes between the handler and the flusher.
pub(super) struct Pipes {
    /// The flusher polls this end; the handler writes a signal number.
    pub wake_read: c_int,
    wake_write: c_int,
    /// The handler polls this end; the flusher writes one byte per request.
    ack_read: c_int,
    ack_write: c_int,
}

static PIPES: OnceLock<Option<Pipes>> = OnceLock::new();

/// The flusher thread's kernel id: a signal raised in it cannot wait for it.
static FLUSHER_TID: AtomicI64 = AtomicI64::new(0);

/// The pipes, made once per process; `None` if the system refused (then
/// fatal signals are left alone and only periodic flushes protect the trace).
pub(super) fn pipes() -> Option<&'static Pipes> {
    PIPES
        .get_or_init(|| {
            let wake = make_pipe()?;
            let ack = make_pipe()?;
            Some(Pipes {
                wake_read: wake.0,
                wake_write: wake.1,
                ack_read: ack.0,
                ack_write: ack.1,
            })
        })
        .as_ref()
}

fn make_pipe() -> Option<(c_int, c_int)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    (rc == 0).then_some((fds[0], fds[1]))
}

/// Installs the handlers (at the start of a recording into a file).
pub(super) fn install() {
    if pipes().is_none() {
        return;
    }
    for sig in CRASHES {
        install_one(sig, false);
    }
    for sig in TERMINATIONS {
        install_one(sig, true);
    }
}

fn install_one(sig: c_int, only_if_default: bool) {
    let slot = &SAVED[sig as usize];
    if slot.installed.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: plain sigaction calls on valid structures; `old` is ours to
    // write while `installed` is false (see `Saved`).
    unsafe {
        let mut current = MaybeUninit::<libc::sigaction>::zeroed();
        if libc::sigaction(sig, std::ptr::null(), current.as_mut_ptr()) != 0 {
            return;
        }
        let current = current.assume_init();
        if only_if_default && current.sa_sigaction != libc::SIG_DFL {
            return;
        }
        (*slot.old.get()).write(current);
        let mut ours = MaybeUninit::<libc::sigaction>::zeroed().assume_init();
        ours.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        // SA_ONSTACK: use an alternate stack where one exists (faulthandler
        // sets one up), so a handler can run after some stack overflows.
        ours.sa_flags = libc::SA_ONSTACK;
        libc::sigemptyset(&mut ours.sa_mask);
        slot.installed.store(true, Ordering::Release);
        if libc::sigaction(sig, &ours, std::ptr::null_mut()) != 0 {
            slot.installed.store(false, Ordering::Release);
        }
    }
}

/// Puts back what the program had (when the recording ends), unless the
/// program replaced our handler meanwhile.
pub(super) fn uninstall() {
    for sig in CRASHES.into_iter().chain(TERMINATIONS) {
        let slot = &SAVED[sig as usize];
        if !slot.installed.load(Ordering::Acquire) {
            continue;
        }
        // SAFETY: `old` was written before `installed` was set.
        unsafe {
            let mut current = MaybeUninit::<libc::sigaction>::zeroed();
            if libc::sigaction(sig, std::ptr::null(), current.as_mut_ptr()) == 0
                && current.assume_init().sa_sigaction == on_signal as *const () as usize
            {
                libc::sigaction(sig, (*slot.old.get()).as_ptr(), std::ptr::null_mut());
            }
        }
        slot.installed.store(false, Ordering::Release);
    }
}

/// In a forked child (async-signal-safe): the pipes lead to the parent's
/// flusher, which must never close the parent's trace for the child.
pub(super) fn forget_in_child() {
    uninstall();
}

/// Called by each flusher thread when it starts.
pub(super) fn flusher_started() {
    // SAFETY: gettid has no preconditions.
    FLUSHER_TID.store(unsafe { libc::gettid() } as i64, Ordering::Release);
}

/// The flusher's wait: up to `timeout_ms` for a signal number from the
/// handler. Returns the signal, if one came.
pub(super) fn wait_for_signal(p: &Pipes, timeout_ms: c_int) -> Option<c_int> {
    let mut fd = libc::pollfd {
        fd: p.wake_read,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut fd, 1, timeout_ms) };
    if ready <= 0 {
        return None;
    }
    let mut byte = 0u8;
    // SAFETY: reads at most one byte into `byte`.
    let n = unsafe { libc::read(p.wake_read, (&mut byte as *mut u8).cast(), 1) };
    (n == 1).then_some(c_int::from(byte))
}

/// The flusher has closed the trace (or found nothing to close).
pub(super) fn acknowledge(p: &Pipes) {
    let byte = 1u8;
    // SAFETY: writes one byte from a valid buffer to a non-blocking pipe.
    unsafe { libc::write(p.ack_write, (&byte as *const u8).cast(), 1) };
}

/// Words for an outcome: "the program was terminated by signal SIGTERM".
pub(super) fn describe(sig: c_int) -> String {
    let (name, what) = match sig {
        libc::SIGSEGV => ("SIGSEGV", "crashed (segmentation fault)"),
        libc::SIGBUS => ("SIGBUS", "crashed (bus error)"),
        libc::SIGFPE => ("SIGFPE", "crashed (arithmetic error)"),
        libc::SIGILL => ("SIGILL", "crashed (illegal instruction)"),
        libc::SIGABRT => ("SIGABRT", "aborted"),
        libc::SIGTERM => ("SIGTERM", "was terminated"),
        libc::SIGHUP => ("SIGHUP", "was hung up"),
        libc::SIGQUIT => ("SIGQUIT", "quit"),
        _ => ("a signal", "was stopped"),
    };
    format!("the program {what}: signal {name}")
}

extern "C" fn on_signal(sig: c_int) {
    // Only async-signal-safe calls below (write, poll, read, sigaction,
    // raise, gettid) and atomics.
    // SAFETY: errno is thread-local; restored before returning.
    let saved_errno = unsafe { *libc::__errno_location() };
    if super::generation() != 0 {
        if let Some(Some(p)) = PIPES.get() {
            // SAFETY: gettid has no preconditions.
            let me = unsafe { libc::gettid() } as i64;
            if me != FLUSHER_TID.load(Ordering::Acquire) {
                let byte = sig as u8;
                // SAFETY: one byte from a valid buffer to a non-blocking pipe.
                if unsafe { libc::write(p.wake_write, (&byte as *const u8).cast(), 1) } == 1 {
                    wait_for_ack(p);
                }
            }
        }
    }
    let slot = &SAVED[sig as usize];
    if slot.installed.load(Ordering::Acquire) {
        // SAFETY: `old` was written before `installed` was set. The signal
        // is blocked while this handler runs, so `raise` delivers it to the
        // previous disposition once the handler returns.
        unsafe {
            libc::sigaction(sig, (*slot.old.get()).as_ptr(), std::ptr::null_mut());
        }
        slot.installed.store(false, Ordering::Release);
    }
    // SAFETY: raise and errno have no preconditions.
    unsafe {
        libc::raise(sig);
        *libc::__errno_location() = saved_errno;
    }
}

fn wait_for_ack(p: &Pipes) {
    let mut fd = libc::pollfd {
        fd: p.ack_read,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; reads at most one byte into `byte`.
    unsafe {
        if libc::poll(&mut fd, 1, CLOSE_WAIT_MS) == 1 {
            let mut byte = 0u8;
            libc::read(p.ack_read, (&mut byte as *mut u8).cast(), 1);
        }
    }
}
