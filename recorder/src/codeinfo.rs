//! What the recorder knows about one code object: whether it is traced, its
//! decoded instruction table, interned names, and whether it is one of the
//! standard-library functions whose calls are synchronization operations.
//! Stored in the code object's extra slot (see `cpython`), built once per
//! code object per recording.

use std::collections::HashMap;

use racetrace_formats::StrId;

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
use std::sync::Arc;

/// What the recorder does when the interpreter is about to run an
/// instruction. `Invisible` instructions return at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
#[allow(dead_code)] // the slice actions are decoded by the 3.12+ backends only
pub enum Action {
    #[default]
    Invisible = 0,
    LoadAttr,
    StoreAttr,
    DeleteAttr,
    BinarySubscr,
    StoreSubscr,
    DeleteSubscr,
    Contains,
    LoadGlobal,
    StoreGlobal,
    DeleteGlobal,
    LoadName,
    StoreName,
    DeleteName,
    LoadDeref,
    StoreDeref,
    /// PRECALL: the callable and its arguments are on the stack.
    Call,
    /// CALL_FUNCTION_EX: the callable, an argument tuple, maybe kwargs.
    CallEx,
    BeforeWith,
    /// The `__exit__` call of a `with` block left by an exception.
    WithExceptStart,
    GetIter,
    /// BINARY_OP with an in-place operator (`+=`, `|=`, ...): mutates a
    /// mutable container in place (the left operand, one below TOS) and
    /// reads the right one (TOS).
    InplaceOp,
    /// An instruction that runs a container protocol in C on operands
    /// already on the value stack: each operand selected by the mask in
    /// `Instr::arg` (bit `n`: the value `n` places below TOS) is read as a
    /// whole when it is a container (or a dict view: its dict). Truth
    /// tests (`if q:`, `not q`, `a and b`: `__bool__`/`__len__`),
    /// comparisons (`==`, `<`: `__eq__`/`__lt__`), non-in-place binary
    /// operators (`a + b`, `a | b`), unpacking (`x, y = q`), the
    /// `[*a]`/`{**d}`/`{*s}` displays, f-string formatting (`__format__`,
    /// `__repr__`) and the length and keys checks of `match`.
    ReadOperands,
    /// One step of the iterator at TOS (FOR_ITER): `__next__` of a
    /// container's iterator reads the container (an insert between two
    /// steps is what makes "changed size during iteration" reachable), and
    /// so does a step of a C iterator wrapping one (`enumerate`, `zip`,
    /// `map`, `itertools`, ...).
    IterStep,
    /// BINARY_SLICE (3.12+; variants not every backend decodes are
    /// allowed to be unused): `container[start:stop]` reads the whole
    /// container; the stack is container, start, stop.
    SliceRead,
    /// STORE_SLICE (3.12+): `container[start:stop] = v` writes it.
    SliceWrite,
}

/// `Instr::arg` bit of [`Action::ReadOperands`]: the selected operands are
/// read even when they are instances (MATCH_CLASS reads the subject's
/// attributes in C).
pub const READ_INSTANCES: u32 = 1 << 7;

/// One code unit of the table. Only the first unit of an instruction (its
/// first EXTENDED_ARG prefix, if any: that is where 3.11 reports the opcode
/// event) carries an action; cache entries stay invisible.
#[derive(Debug, Default)]
pub struct Instr {
    pub action: Action,
    /// The instruction right after a call or `with` entry: where a pending
    /// lock acquire learns whether it succeeded.
    pub post_call: bool,
    /// The decoded argument: name index for names (already shifted for
    /// LOAD_GLOBAL), fast-local index for cells, argument count for calls.
    pub arg: u32,
    /// Location id + 1 in the current trace, 0 until first needed.
    ///
    /// The cells below are only touched with the GIL held; they are atomics
    /// (relaxed: plain loads and stores) so that tables can be shared by
    /// the threads that run the code.
    pub loc: AtomicU32,
    /// Inline cache of attribute and cell accesses: the object seen last
    /// time and the key id it gave. Valid while no recorded object has died
    /// since (`cached_epoch`), so the address still names the same object.
    pub cached_obj: AtomicUsize,
    pub cached_key: AtomicU32,
    /// `session::epoch()` when the cache was filled; a later object death
    /// makes it stale.
    pub cached_epoch: AtomicU64,
    /// For subscripts: the key object of the cached access.
    pub cached_item: AtomicUsize,
    /// For calls: where the keyword names are, as the interpreter backend
    /// decoded them (3.11, 3.12: index + 1 in `co_consts` of the tuple a
    /// KW_NAMES before the call gave; 3.13: 1 when they are on the stack);
    /// 0: no keywords.
    pub kw: u32,
    /// Depth of the value stack before this instruction, for backends whose
    /// interpreter does not store its stack pointer before an instruction
    /// event (3.12+); [`UNKNOWN_DEPTH`] when unreachable or not computed.
    #[allow(dead_code)] // read by the 3.12+ backends only
    pub depth: u16,
    /// The first instruction of a line marked `# racetrace: NAME` (a
    /// controlled run with markers): the marker's id + 1; 0 elsewhere.
    /// Reaching it is a scheduling point (`strategy::markers`).
    pub marker: u32,
}

/// [`Instr::depth`] of an instruction whose operands cannot be located.
#[allow(dead_code)] // used by the 3.12+ backends only
pub const UNKNOWN_DEPTH: u16 = u16::MAX;

impl Instr {
    /// The same decoded instruction for another session: its caches empty
    /// and no marker (those belong to the session that filled them).
    pub fn fresh(&self) -> Instr {
        Instr {
            action: self.action,
            post_call: self.post_call,
            arg: self.arg,
            kw: self.kw,
            depth: self.depth,
            ..Instr::default()
        }
    }

    /// True when the trace function has nothing to do here.
    #[inline(always)]
    pub fn is_quiet(&self) -> bool {
        self.action == Action::Invisible && !self.post_call && self.marker == 0
    }
}

/// The recognized functions of one session: by code object, and by where
/// the code was defined (file, qualified name, first line) for copies of
/// a module loaded afresh (`importlib.reload`, CPython's own tests load
/// `queue` twice with `import_fresh_module`), whose code objects differ.
#[derive(Default)]
pub struct CodeRoles {
    by_code: HashMap<usize, Role>,
    by_def: HashMap<(String, String, u32), Role>,
}

impl CodeRoles {
    pub fn insert(&mut self, code: usize, file: String, qualname: String, line: u32, role: Role) {
        self.by_code.insert(code, role);
        self.by_def.insert((file, qualname, line), role);
    }

    /// The role of exactly this code object, if it has one.
    pub fn of_code(&self, code: usize) -> Option<Role> {
        self.by_code.get(&code).copied()
    }

    /// The role of a code object (decided once per code object).
    pub fn get(&self, code: usize, file: &str, qualname: &str, line: u32) -> Role {
        if let Some(&r) = self.by_code.get(&code) {
            return r;
        }
        self.by_def
            .get(&(file.to_owned(), qualname.to_owned(), line))
            .copied()
            .unwrap_or(Role::None)
    }
}

/// Standard-library functions recognized by their code; their call/return
/// events are recorded as synchronization operations.
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
    /// `Queue.task_done`.
    QueueTaskDone,
    /// `Queue.join` returned.
    QueueJoin,
    /// `Event.is_set`, `Future.done`: reads the flag (the future's state)
    /// and changes nothing.
    EventCheck,
    /// `Queue.qsize`, `empty`, `full`: reads the queue's length.
    QueueCheck,
    /// `Timer.run`: the timer's wait for its delay (a timed `Event.wait`,
    /// which may time out whenever it waits) and its check of
    /// `cancel` are the timer actor's own operations, at this frame.
    TimerRun,
    /// `Timer.cancel`: sets the timer's event, as the user's operation.
    TimerCancel,
    /// `concurrent.futures`: a work item is created for a future (in the
    /// submitting thread, before the item is queued).
    FutureSubmit,
    /// A worker starts running a work item.
    FutureRun,
    /// `Future.set_result`/`set_exception`.
    FutureSet,
    /// `Future.result`/`exception` returned.
    FutureResult,
    /// `concurrent.futures.wait` returned: its `done` futures are finished.
    FuturesWait,
    /// `concurrent.futures.as_completed` yielded a finished future.
    FuturesAsCompleted,
    /// Library code that hands work to threads through a C queue (a
    /// thread pool's `submit`, `shutdown` and workers): its queue puts and
    /// gets are events, in recordings and controlled runs alike, so that
    /// which worker takes which item is part of the schedule. Its other
    /// synchronization stays an implementation detail.
    QueueUser,
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
            "queue_task_done" => Role::QueueTaskDone,
            "queue_join" => Role::QueueJoin,
            "event_check" => Role::EventCheck,
            "queue_check" => Role::QueueCheck,
            "timer_run" => Role::TimerRun,
            "timer_cancel" => Role::TimerCancel,
            "future_submit" => Role::FutureSubmit,
            "future_run" => Role::FutureRun,
            "future_set" => Role::FutureSet,
            "future_result" => Role::FutureResult,
            "futures_wait" => Role::FuturesWait,
            "futures_as_completed" => Role::FuturesAsCompleted,
            "queue_user" => Role::QueueUser,
            _ => Role::None,
        }
    }

    /// Wrappers whose nested recognized calls are still recorded (they are
    /// the user's entry point into the primitive).
    pub fn passes_through(self) -> bool {
        matches!(
            self,
            Role::CondWaitFor | Role::SemExit | Role::QueueNowait | Role::TimerCancel
        )
    }
}

pub struct CodeInfo {
    /// The recording this table belongs to (ids below are that trace's).
    pub generation: u64,
    /// The configuration it was built under (`session::config`): a later
    /// session with the same one takes everything but ids and caches.
    pub config: u64,
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
    pub file_name: Arc<str>,
    /// Qualified name, used to label closure cells.
    pub qualname: Arc<str>,
    /// Decoded instructions; empty when not traced.
    pub instrs: Box<[Instr]>,
    /// `co_names` interned in this table's session, id + 1 (traced code
    /// only; 0: not yet). A name is interned the first time an access uses
    /// it (`hook::tables::name_id`): a table is made again for every run
    /// of an exploration, and most of a code object's names are never the
    /// attribute or global of a recorded access.
    pub names: Box<[AtomicU32]>,
    /// The same names as text, to intern them in a later session.
    pub name_texts: Arc<[String]>,
}
