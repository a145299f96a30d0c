//! Learning when an object dies without keeping it alive, for the builtin
//! containers that cannot be weakly referenced (`dict`, `list`, `set`,
//! `bytearray`, closure cells).
//!
//! The recorder names objects by address, so it must know when an address
//! is freed and may become another object's. Objects that support weak
//! references are watched through one (`crate::identity`). For these types
//! the only signal is their deallocator, so while a recording runs each
//! type's `tp_dealloc` is replaced by a wrapper that tells the sink about
//! a watched address and then calls the original. Keeping the objects
//! alive instead would change what the program sees: `__del__` and
//! weakref callbacks of what they hold would not run, and `gc` would find
//! other objects (CPython's own `test_threading_local` checks exactly this).
//!
//! Shared by the 3.11 and the 3.12+ backends.
//!
//! # Facts relied on (CPython 3.11 to 3.13, Objects/dictobject.c, listobject.c,
//! setobject.c, bytearrayobject.c, cellobject.c, typeobject.c, object.c)
//!
//! * Deallocation always runs with the GIL held, and `Py_TYPE(op)->tp_dealloc`
//!   is read at each deallocation (nothing caches it). Static builtin types
//!   are writable globals.
//! * A heap subclass's `tp_dealloc` is `subtype_dealloc`, which calls the
//!   nearest base's `tp_dealloc` read at call time: instances of subclasses
//!   reach the wrapper through it. A static (C) subtype readied while the
//!   wrapper is installed may inherit the wrapper itself; it stays valid
//!   after recording (the original is kept, the extension is never
//!   unloaded).
//! * `dict_dealloc`, `list_dealloc` and `set_dealloc` first untrack the
//!   object from the collector, then use the trashcan (`Py_TRASHCAN_BEGIN`)
//!   only when `Py_TYPE(op)->tp_dealloc` is the function itself. With the
//!   wrapper installed that test fails, so the wrapper does the same in
//!   their place (`PyObject_GC_UnTrack`, `_PyTrash_begin`/`_PyTrash_end`,
//!   exported by 3.11): without it, freeing a deeply nested list would
//!   recurse without bound. A deferred object is later freed through its
//!   type's `tp_dealloc`, so through the wrapper again.
//! * The wrapper runs no Python code and takes only the watch-set lock,
//!   which is never held while Python code or a deallocation can run.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use pyo3::ffi::{self, PyObject, PyTypeObject};
use pyo3::prelude::*;

use crate::fasthash::IntHasher;

use super::{trash_begin, trash_end};

type Dealloc = unsafe extern "C" fn(*mut PyObject);

/// Where a watched address that is being freed is reported.
pub type DeathSink = fn(usize);

static ACTIVE: AtomicBool = AtomicBool::new(false);
static SINK: AtomicUsize = AtomicUsize::new(0);
static WATCHED: Mutex<HashSet<usize, BuildHasherDefault<IntHasher>>> =
    Mutex::new(HashSet::with_hasher(BuildHasherDefault::new()));

/// A one-sided filter in front of the watch set: most freed containers were
/// never watched, and a clear bit answers that with one load.
const FILTER_WORDS: usize = 1024;
static FILTER: [AtomicU64; FILTER_WORDS] = [const { AtomicU64::new(0) }; FILTER_WORDS];

#[inline]
fn filter_bit(addr: usize) -> (usize, u64) {
    let h = ((addr >> 4) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48;
    ((h as usize >> 6) % FILTER_WORDS, 1u64 << (h & 63))
}

/// One patched type: its original deallocator, and whether that original
/// uses the trashcan (which the wrapper must then do in its place).
struct Slot {
    orig: AtomicUsize,
    trashcan: bool,
}

macro_rules! slots {
    ($($name:ident: $ty:ident, $trash:expr;)*) => {
        $(
            static $name: Slot = Slot { orig: AtomicUsize::new(0), trashcan: $trash };
        )*

        /// The types whose deaths are reported, their slot and wrapper.
        fn table() -> [(*mut PyTypeObject, &'static Slot, Dealloc); [$($trash),*].len()] {
            [$((
                &raw mut ffi::$ty,
                &$name,
                {
                    unsafe extern "C" fn wrapper(op: *mut PyObject) {
                        // SAFETY: called by the interpreter as `tp_dealloc`.
                        unsafe { dealloc_through(&$name, wrapper, op) }
                    }
                    wrapper
                },
            )),*]
        }
    };
}

slots! {
    DICT: PyDict_Type, true;
    LIST: PyList_Type, true;
    SET: PySet_Type, true;
    BYTEARRAY: PyByteArray_Type, false;
    CELL: PyCell_Type, false;
}

/// # Safety
/// Called as `tp_dealloc` of a patched type (or a subtype), GIL held.
unsafe fn dealloc_through(slot: &Slot, me: Dealloc, op: *mut PyObject) {
    // SAFETY: `orig` was stored before the wrapper was installed.
    let orig: Dealloc = unsafe { std::mem::transmute(slot.orig.load(Ordering::Acquire)) };
    // SAFETY: GIL held, `op` is being deallocated (see the module facts).
    unsafe {
        let own = addr((*ffi::Py_TYPE(op)).tp_dealloc) == me as usize;
        if slot.trashcan && own {
            ffi::PyObject_GC_UnTrack(op as *mut _);
            let ts = ffi::PyThreadState_Get();
            if trash_begin(ts, op) {
                return; // deferred: freed later through `tp_dealloc`
            }
            died(op as usize);
            orig(op);
            trash_end(ts);
        } else {
            died(op as usize);
            orig(op);
        }
    }
}

/// A deallocator as an address. The wrappers are compared by address on
/// purpose: each is one non-generic function, installed from this module.
#[inline]
fn addr(d: Option<Dealloc>) -> usize {
    d.map_or(0, |f| f as usize)
}

#[inline]
fn died(addr: usize) {
    if !ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    let (w, bit) = filter_bit(addr);
    if FILTER[w].load(Ordering::Relaxed) & bit == 0 {
        return;
    }
    let removed = WATCHED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&addr);
    if removed {
        let sink = SINK.load(Ordering::Acquire);
        if sink != 0 {
            // SAFETY: stored from a `DeathSink` by `start_watching_deaths`.
            let sink: DeathSink = unsafe { std::mem::transmute(sink) };
            sink(addr);
        }
    }
}

/// Installs the wrappers (once per type) and starts reporting deaths of
/// watched addresses to `sink`. The watch set starts empty.
pub fn start_watching_deaths(_py: Python<'_>, sink: DeathSink) {
    clear_watched();
    SINK.store(sink as usize, Ordering::Release);
    for (ty, slot, wrapper) in table() {
        // SAFETY: GIL held (a Python token proves it); static type objects.
        unsafe {
            let current = (*ty).tp_dealloc;
            if addr(current) != wrapper as usize {
                if let Some(orig) = current {
                    slot.orig.store(orig as usize, Ordering::Release);
                    (*ty).tp_dealloc = Some(wrapper);
                }
            }
        }
    }
    ACTIVE.store(true, Ordering::Release);
}

/// Stops reporting and puts the original deallocators back (unless another
/// tool replaced ours since, in which case ours stays and merely forwards).
pub fn stop_watching_deaths(_py: Python<'_>) {
    ACTIVE.store(false, Ordering::Release);
    for (ty, slot, wrapper) in table() {
        // SAFETY: GIL held; static type objects.
        unsafe {
            if addr((*ty).tp_dealloc) == wrapper as usize {
                let orig: Dealloc = std::mem::transmute(slot.orig.load(Ordering::Acquire));
                (*ty).tp_dealloc = Some(orig);
            }
        }
    }
    clear_watched();
}

fn clear_watched() {
    WATCHED.lock().unwrap_or_else(|e| e.into_inner()).clear();
    for w in &FILTER {
        w.store(0, Ordering::Relaxed);
    }
}

/// Asks to be told when `obj` dies; false if its type's deallocator is not
/// wrapped (the caller must then keep it alive or watch it otherwise).
/// Runs no Python code, so it may be called with the session held.
pub fn watch_death(obj: &Bound<'_, PyAny>) -> bool {
    if !ACTIVE.load(Ordering::Relaxed) {
        return false;
    }
    let op = obj.as_ptr();
    // SAFETY: reading the type of a live object and static type objects.
    let wrapped = unsafe {
        let ty = ffi::Py_TYPE(op);
        let heap = (*ty).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE != 0;
        table().iter().any(|&(base, _, wrapper)| {
            // Its own deallocator is the wrapper (a patched type, or a C
            // subtype that inherited it), or it is a Python subclass, whose
            // `subtype_dealloc` ends in the base's deallocator.
            addr((*ty).tp_dealloc) == wrapper as usize
                || (heap && ffi::PyType_IsSubtype(ty, base) != 0)
        })
    };
    if !wrapped {
        return false;
    }
    let addr = op as usize;
    WATCHED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(addr);
    let (w, bit) = filter_bit(addr);
    FILTER[w].fetch_or(bit, Ordering::Relaxed);
    true
}
