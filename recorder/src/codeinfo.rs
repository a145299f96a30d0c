//! What the recorder knows about one code object: whether it is traced, its
//! decoded instruction table, interned names, and whether it is one of the
//! standard-library functions whose calls are synchronization operations.
//! Stored in the code object's extra slot (see `cpython`), built once per
//! code object per recording.

use racetrace_formats::StrId;

use crate::decode::Instr;

/// Standard-library functions recognized by code-object identity; their
/// call/return events are recorded as synchronization operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    None,
    ThreadStart,
    ThreadJoin,
    ThreadBootstrapInner,
    EventSet,
    EventClear,
    EventWait,
    CondEnter,
    CondExit,
    CondWait,
    CondWaitFor,
    CondNotify,
    CondNotifyAll,
    SemAcquire,
    SemRelease,
    /// `Semaphore.__exit__`: only passes the call on to `release`.
    SemExit,
    BarrierWait,
    QueuePut,
    QueueGet,
    /// `put_nowait`/`get_nowait`: pass the call on to `put`/`get`.
    QueueNowait,
    /// `concurrent.futures`: a work item is created for a future (in the
    /// submitting thread, before the item is queued).
    FutureSubmit,
    /// A worker starts running a work item.
    FutureRun,
    /// `Future.set_result`/`set_exception`.
    FutureSet,
    /// `Future.result`/`exception` returned.
    FutureResult,
}

impl Role {
    pub fn from_name(name: &str) -> Role {
        match name {
            "thread_start" => Role::ThreadStart,
            "thread_join" => Role::ThreadJoin,
            "thread_bootstrap_inner" => Role::ThreadBootstrapInner,
            "event_set" => Role::EventSet,
            "event_clear" => Role::EventClear,
            "event_wait" => Role::EventWait,
            "cond_enter" => Role::CondEnter,
            "cond_exit" => Role::CondExit,
            "cond_wait" => Role::CondWait,
            "cond_wait_for" => Role::CondWaitFor,
            "cond_notify" => Role::CondNotify,
            "cond_notify_all" => Role::CondNotifyAll,
            "sem_acquire" => Role::SemAcquire,
            "sem_release" => Role::SemRelease,
            "sem_exit" => Role::SemExit,
            "barrier_wait" => Role::BarrierWait,
            "queue_put" => Role::QueuePut,
            "queue_get" => Role::QueueGet,
            "queue_nowait" => Role::QueueNowait,
            "future_submit" => Role::FutureSubmit,
            "future_run" => Role::FutureRun,
            "future_set" => Role::FutureSet,
            "future_result" => Role::FutureResult,
            _ => Role::None,
        }
    }

    /// Wrappers whose nested recognized calls are still recorded (they are
    /// the user's entry point into the primitive).
    pub fn passes_through(self) -> bool {
        matches!(self, Role::CondWaitFor | Role::SemExit | Role::QueueNowait)
    }
}

pub struct CodeInfo {
    /// The recording this table belongs to (ids below are that trace's).
    pub generation: u64,
    pub traced: bool,
    /// Not traced, but a controlled run intercepts its lock operations.
    pub intercept: bool,
    pub role: Role,
    /// Code of the `threading`/`queue` modules: recognized calls made from
    /// inside them are implementation details, not user operations.
    pub sync_lib: bool,
    pub file: StrId,
    pub function: StrId,
    /// Index of `__dict__` in `co_names`, if present (`obj.__dict__` maps
    /// the dict to its owner).
    pub dict_name: Option<u32>,
    /// File name as the code object has it.
    pub file_name: String,
    /// Qualified name, used to label closure cells.
    pub qualname: String,
    /// Decoded instructions; empty when not traced.
    pub instrs: Box<[Instr]>,
    /// `co_names` interned (traced code only).
    pub names: Box<[StrId]>,
}
