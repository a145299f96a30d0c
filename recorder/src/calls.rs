//! Builtin callables whose calls are shared-state accesses or lock
//! operations: container methods (`list.append` writes the list,
//! `dict.get` reads one item), `len`/`sorted`/... (read a whole container),
//! `getattr`/`setattr`/`object.__setattr__` (an attribute), and the C lock
//! methods. The Python side lists them by name at start; here they are keyed
//! by identity: the `PyMethodDef` of a builtin method (shared by the unbound
//! descriptor and every bound method made from it) or the callable's address.

use std::collections::HashMap;

/// What a recognized call does. "self" is the bound object or, for an
/// unbound descriptor or slot wrapper, the first argument. Besides what
/// the role says of self, the containers among the other arguments are
/// read (`a.extend(b)` reads `b`), except for `Pure` callables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallRole {
    /// Reads self as a whole (`list.count`, `dict.items`, `len(x)` via `ArgRead`).
    Read,
    /// Writes self as a whole (`list.append`, `dict.update`, `set.add`).
    Write,
    /// Reads the item named by the first argument (`dict.get(k)`).
    ItemRead,
    /// Writes the item named by the first argument (`dict.pop(k)`, `dict.setdefault(k)`).
    ItemWrite,
    /// Reads the containers among its arguments as a whole (`len`,
    /// `sorted`, `sum`, `str.join`, `list(x)`), and drains the iterators
    /// among them (reading what they iterate).
    ArgRead,
    /// Touches no shared state of its own or of its arguments
    /// (`isinstance`, `id`, `type`, `iter`, `enumerate`: a later step of
    /// the iterator reads the container).
    Pure,
    /// `next(it)`: one step of the iterator (as FOR_ITER).
    IterNext,
    /// `getattr(o, name)`, `hasattr(o, name)`, `object.__getattribute__(o, name)`.
    GetAttr,
    /// `setattr(o, name, v)`, `object.__setattr__(o, name, v)`.
    SetAttr,
    /// `delattr(o, name)`, `object.__delattr__(o, name)`.
    DelAttr,
    /// `_thread.lock`/`RLock` `acquire` and `__enter__`.
    LockAcquire,
    /// `release` and `__exit__`.
    LockRelease,
    /// `SimpleQueue.put(item)` (C).
    QueuePut,
    /// `SimpleQueue.get()` (C): recorded once it returned the item.
    QueueGet,
    /// `RLock._release_save()`: releases every level (inside `Condition.wait`).
    LockReleaseSave,
    /// `RLock._acquire_restore(state)`: re-takes the saved levels.
    LockAcquireRestore,
    /// `time.sleep(secs)`: a `Yield` (a scheduling point; no real wait
    /// under control).
    Sleep,
    /// `_thread._ThreadHandle.join(timeout)` (3.13's `Thread.join` waits
    /// there, in C): under control, a wait for the thread's exit.
    HandleJoin,
}

impl CallRole {
    pub fn from_name(name: &str) -> Option<CallRole> {
        Some(match name {
            "read" => CallRole::Read,
            "write" => CallRole::Write,
            "item_read" => CallRole::ItemRead,
            "item_write" => CallRole::ItemWrite,
            "arg_read" => CallRole::ArgRead,
            "pure" => CallRole::Pure,
            "iter_next" => CallRole::IterNext,
            "getattr" => CallRole::GetAttr,
            "setattr" => CallRole::SetAttr,
            "delattr" => CallRole::DelAttr,
            "lock_acquire" => CallRole::LockAcquire,
            "lock_release" => CallRole::LockRelease,
            "queue_put" => CallRole::QueuePut,
            "queue_get" => CallRole::QueueGet,
            "lock_release_save" => CallRole::LockReleaseSave,
            "lock_acquire_restore" => CallRole::LockAcquireRestore,
            "sleep" => CallRole::Sleep,
            "handle_join" => CallRole::HandleJoin,
            _ => return None,
        })
    }
}

#[derive(Default)]
pub struct CallTable {
    /// `PyMethodDef` address → role.
    pub by_method_def: HashMap<usize, CallRole>,
    /// Callable address (slot wrappers such as `object.__setattr__`, and
    /// container types called as copying constructors) → role.
    pub by_identity: HashMap<usize, CallRole>,
}

impl CallTable {
    #[inline]
    pub fn method(&self, def: usize) -> Option<CallRole> {
        self.by_method_def.get(&def).copied()
    }

    #[inline]
    pub fn identity(&self, addr: usize) -> Option<CallRole> {
        self.by_identity.get(&addr).copied()
    }
}
