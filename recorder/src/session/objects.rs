//! Object identity for the session: registering objects on first sight,
//! and forgetting them when they die, without keeping them alive (weak
//! references where the type allows, the backend's deallocation watch for
//! the builtin containers; see `crate::identity`), so that a new object at
//! a dead one's address gets a new id. Deaths are reported from places
//! that may run while the session is held (a weakref callback, a
//! deallocator), so they only touch the lists here; the session looks at
//! them before its next use.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;
use racetrace_formats::{ActorId, ObjId, ObjKind, ObjectDesc};

use super::Session;
use crate::cpython;

/// Weak references (by address) whose object died since the session last
/// looked. Filled by the weakref callback, which may run anywhere (even while
/// this thread holds the session), so it only touches this list.
static DEAD: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static DEAD_PENDING: AtomicBool = AtomicBool::new(false);
/// Bumped whenever a watched object dies: inline caches filled earlier may
/// name an address that a new object now has.
static EPOCH: AtomicU64 = AtomicU64::new(1);

#[inline]
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Acquire)
}

/// Containers (by address) that were freed since the session last looked,
/// reported by the interpreter backend's deallocation watch
/// (`cpython::watch_death`). The same rules as `DEAD`.
static FREED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Called when a watched container is being freed (from its deallocator:
/// no Python code may run here, and the session may be held).
fn object_freed(addr: usize) {
    FREED.lock().unwrap_or_else(|e| e.into_inner()).push(addr);
    DEAD_PENDING.store(true, Ordering::Release);
    EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// Called when a watched object dies (from its weakref callback).
pub fn object_died(weakref: usize) {
    DEAD.lock().unwrap_or_else(|e| e.into_inner()).push(weakref);
    DEAD_PENDING.store(true, Ordering::Release);
    // Now, not when the session next looks: a cache hit does not look.
    EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// Empties the death lists and watches container deaths for a new session.
pub(super) fn start_watching() {
    DEAD.lock().unwrap_or_else(|e| e.into_inner()).clear();
    FREED.lock().unwrap_or_else(|e| e.into_inner()).clear();
    DEAD_PENDING.store(false, Ordering::Release);
    cpython::start_watching_deaths(cpython::gil_held(), object_freed);
}

impl Session {
    /// Forgets the objects that died since the last look, before their
    /// address can be seen again.
    pub(super) fn forget_the_dead(&mut self) {
        if !DEAD_PENDING.swap(false, Ordering::AcqRel) {
            return;
        }
        let dead = std::mem::take(&mut *DEAD.lock().unwrap_or_else(|e| e.into_inner()));
        for weakref in dead {
            self.forget(weakref);
        }
        let freed = std::mem::take(&mut *FREED.lock().unwrap_or_else(|e| e.into_inner()));
        for addr in freed {
            self.objects.remove(&addr);
            self.dict_owner.remove(&addr);
        }
    }

    /// `Some(Some(id))` for a registered object, `Some(None)` for an object
    /// known to be ignored, `None` for one not seen yet.
    #[inline]
    pub fn lookup(&self, addr: usize) -> Option<Option<ObjId>> {
        self.objects.get(&addr).copied()
    }

    pub fn kind_of(&self, id: ObjId) -> ObjKind {
        self.obj_kinds
            .get(id.index())
            .copied()
            .unwrap_or(ObjKind::Other)
    }

    /// Registers `obj`: watched through `weakref` when given, else through
    /// its deallocator when the backend can (the builtin containers), else
    /// kept alive until the recording ends.
    pub fn register(
        &mut self,
        obj: &Bound<'_, PyAny>,
        kind: ObjKind,
        type_name: &str,
        label: &str,
        weakref: Option<Bound<'_, PyAny>>,
    ) -> ObjId {
        let addr = obj.as_ptr() as usize;
        if let Some(Some(id)) = self.objects.get(&addr) {
            return *id;
        }
        let type_name = self.string(type_name);
        let label = self.string(label);
        let desc = ObjectDesc {
            kind,
            type_name,
            label,
        };
        let id = match self.writer.as_mut() {
            Some(w) => w.add_object(desc),
            None => ObjId(self.obj_kinds.len() as u32),
        };
        self.obj_kinds.push(kind);
        self.obj_labels.push(label);
        self.obj_addrs.push(addr);
        self.objects.insert(addr, Some(id));
        match weakref {
            Some(w) => {
                self.watched.insert(w.as_ptr() as usize, (addr, w.unbind()));
            }
            None => {
                if !cpython::watch_death(obj) {
                    self.alive.push(obj.clone().unbind());
                }
            }
        }
        id
    }

    /// A watched object died: its address may now be another object's.
    fn forget(&mut self, weakref: usize) {
        if let Some((addr, _weakref)) = self.watched.remove(&weakref) {
            self.objects.remove(&addr);
            self.threads.remove(&addr);
        }
    }

    /// Remembers that `obj` is never recorded (kept alive for the same
    /// reason as registered objects).
    pub fn ignore(&mut self, obj: &Bound<'_, PyAny>) {
        let addr = obj.as_ptr() as usize;
        if self.objects.insert(addr, None).is_none() {
            self.alive.push(obj.clone().unbind());
        }
    }

    /// Keeps `obj` alive until the recording ends (once per object).
    pub fn keep_alive(&mut self, obj: &Bound<'_, PyAny>) {
        if self.kept.insert(obj.as_ptr() as usize, ()).is_none() {
            self.alive.push(obj.clone().unbind());
        }
    }

    pub fn set_dict_owner(&mut self, dict: &Bound<'_, PyAny>, owner: ObjId) {
        let addr = dict.as_ptr() as usize;
        if self.dict_owner.insert(addr, owner).is_none() && !cpython::watch_death(dict) {
            self.alive.push(dict.clone().unbind());
        }
    }

    #[inline]
    pub fn dict_owner(&self, addr: usize) -> Option<ObjId> {
        self.dict_owner.get(&addr).copied()
    }

    /// Binds a `threading.Thread` to its actor, watched through `weakref`
    /// (made by the caller outside the session: see `crate::identity`) so
    /// that a later thread object at the same address is not taken for it;
    /// kept alive only when it cannot be weakly referenced.
    pub fn bind_thread(
        &mut self,
        thread: &Bound<'_, PyAny>,
        actor: ActorId,
        weakref: Option<Bound<'_, PyAny>>,
    ) {
        let addr = thread.as_ptr() as usize;
        self.threads.insert(addr, actor);
        match weakref {
            Some(w) => {
                self.watched.insert(w.as_ptr() as usize, (addr, w.unbind()));
            }
            None => self.alive.push(thread.clone().unbind()),
        }
    }

    pub fn thread_actor(&self, thread: &Bound<'_, PyAny>) -> Option<ActorId> {
        self.threads.get(&(thread.as_ptr() as usize)).copied()
    }
}
