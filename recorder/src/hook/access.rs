//! Shared-state accesses: which object an operand is (registered on first
//! sight), which key an access touches, and the inline caches that make a
//! repeated access one lookup.

use std::sync::atomic::Ordering::Relaxed;

use super::*;

/// The trace id and kind of `obj`, registering it on first sight; `None`
/// for objects that are never recorded.
pub(super) fn object(
    py: Python<'_>,
    f: Option<&dyn Scope>,
    obj: &Bound<'_, PyAny>,
) -> Option<(ObjId, ObjKind)> {
    if naming::is_immutable(py, obj) {
        return None;
    }
    let addr = obj.as_ptr() as usize;
    let seen = session::with(|s| s.lookup(addr).map(|o| o.map(|id| (id, s.kind_of(id)))))?;
    if let Some(known) = seen {
        return known;
    }
    let class = naming::classify(py, obj);
    match class {
        Class::Skip => return None,
        Class::Module => {
            let file: Option<String> = obj.getattr("__file__").ok().and_then(|f| f.extract().ok());
            let traced = match file {
                Some(file) => session::with(|s| s.filter.traces(&file)).unwrap_or(false),
                None => false,
            };
            if !traced {
                session::with(|s| s.ignore(obj));
                return None;
            }
        }
        _ => {}
    }
    let label = naming::label(py, f, obj, class);
    let tn = naming::type_name(obj);
    let kind = class.obj_kind();
    let weakref = crate::identity::watch(obj);
    session::with(|s| (s.register(obj, kind, &tn, &label, weakref), kind))
}

/// The id of a module namespace (a globals dict).
pub(super) fn globals_object(obj: &Bound<'_, PyAny>) -> Option<ObjId> {
    let addr = obj.as_ptr() as usize;
    if let Some(Some(id)) = session::with(|s| s.lookup(addr))? {
        return Some(id);
    }
    let label = naming::globals_label(obj);
    session::with(|s| s.register(obj, ObjKind::Module, "module", &label, None))
}

pub(super) fn intern_name(name: &Bound<'_, PyAny>) -> Option<StrId> {
    let s = name.cast::<PyString>().ok()?.to_str().ok()?.to_owned();
    session::with(|sess| sess.string(&s))
}

/// The key of `obj.<name>`, registering the object on first sight. An
/// attribute of a module is a global of that module.
pub(super) fn attr_key(
    py: Python<'_>,
    f: Frame<'_>,
    obj: &Bound<'_, PyAny>,
    name: StrId,
) -> Option<KeyId> {
    let (id, k) = object(py, Some(&f), obj)?;
    if k == ObjKind::Module {
        let d = obj.getattr("__dict__").ok()?;
        let gid = globals_object(&d)?;
        return session::with(|s| s.key(gid, MemberKind::Global, name));
    }
    session::with(|s| s.key(id, MemberKind::Attr, name))
}

pub(super) fn attr_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    kind: EventKind,
    obj: &Bound<'_, PyAny>,
    name: StrId,
) {
    if let Some(key) = attr_key(py, f, obj, name) {
        emit(ctx, kind, loc, key.0, 0);
    }
}

/// An attribute or cell access through the instruction's inline cache.
pub(super) fn cached_access(
    ctx: &ThreadCtx,
    ins: &Instr,
    loc: LocId,
    kind: EventKind,
    obj: &Bound<'_, PyAny>,
    slow: impl FnOnce() -> Option<KeyId>,
) {
    let addr = obj.as_ptr() as usize;
    let epoch = session::epoch();
    let key = if ins.cached_obj.load(Relaxed) == addr && ins.cached_epoch.load(Relaxed) == epoch {
        KeyId(ins.cached_key.load(Relaxed))
    } else {
        let Some(key) = slow() else { return };
        // Only registered objects yield a key: kept alive, or watched (their
        // death bumps the epoch and so empties this cache).
        ins.cached_obj.store(addr, Relaxed);
        ins.cached_key.store(key.0, Relaxed);
        ins.cached_epoch.store(epoch, Relaxed);
        key
    };
    emit(ctx, kind, loc, key.0, 0);
}

pub(super) fn is_container(k: ObjKind) -> bool {
    matches!(
        k,
        ObjKind::List
            | ObjKind::Dict
            | ObjKind::Set
            | ObjKind::Deque
            | ObjKind::ByteArray
            | ObjKind::Container
    )
}

/// The key of `container[key]`: an item of a dict or sequence, the whole
/// sequence for a slice, an attribute for an instance's `__dict__`, a global
/// for a module namespace.
pub(super) fn item_key(
    py: Python<'_>,
    f: Frame<'_>,
    container: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
) -> Option<KeyId> {
    if naming::is_immutable(py, container) {
        return None;
    }
    let addr = container.as_ptr() as usize;
    if let Some(Some(owner)) = session::with(|s| s.dict_owner(addr)) {
        // `obj.__dict__['a']` is `obj.a`.
        let name = intern_name(key)?;
        return session::with(|s| s.key(owner, MemberKind::Attr, name));
    }
    let (id, k) = object(py, Some(&f), container)?;
    let member = match k {
        ObjKind::Module => {
            let name = intern_name(key)?;
            return session::with(|s| s.key(id, MemberKind::Global, name));
        }
        ObjKind::List | ObjKind::Deque | ObjKind::ByteArray => match key.extract::<i64>() {
            Ok(mut i) => {
                if i < 0 {
                    i += container.len().map(|n| n as i64).unwrap_or(0);
                }
                Some(i.to_string())
            }
            Err(_) => None, // a slice: the whole sequence
        },
        _ => Some(naming::key_text(py, key)),
    };
    session::with(|s| {
        let (mk, m) = match &member {
            Some(m) => (MemberKind::Item, s.string(m)),
            None => (MemberKind::Whole, s.string("")),
        };
        s.key(id, mk, m)
    })
}

pub(super) fn item_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    kind: EventKind,
    container: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
) {
    let from_end = key.extract::<i64>().is_ok_and(|i| i < 0);
    if from_end && ctx.in_control() && !sequence_turn(py, ctx, f, loc, kind, container) {
        return;
    }
    if let Some(k) = item_key(py, f, container, key) {
        emit(ctx, kind, loc, k.0, 0);
    }
}

/// Where an opcode event happens: the thread, the frame and the location.
#[derive(Clone, Copy)]
pub(super) struct At<'a, 'f, 'py> {
    pub(super) py: Python<'py>,
    pub(super) ctx: &'a ThreadCtx,
    pub(super) f: Frame<'f>,
    pub(super) loc: LocId,
}

/// A subscript through the instruction's inline cache: hit when both the
/// container and the key object are the ones seen last time. Only keys that
/// cannot be freed while recording are cached: small non-negative ints
/// (interpreter singletons) and strings, which are then kept alive.
pub(super) fn cached_item_access(
    at: At<'_, '_, '_>,
    ins: &Instr,
    kind: EventKind,
    container: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
) {
    let At { py, ctx, f, loc } = at;
    let caddr = container.as_ptr() as usize;
    let kaddr = key.as_ptr() as usize;
    let epoch = session::epoch();
    if ins.cached_obj.load(Relaxed) == caddr
        && ins.cached_item.load(Relaxed) == kaddr
        && ins.cached_epoch.load(Relaxed) == epoch
    {
        emit(ctx, kind, loc, ins.cached_key.load(Relaxed), 0);
        return;
    }
    // A negative index names the item by the sequence's length when the
    // access runs: not cached, and in a controlled run resolved once the
    // actor has its turn (before it, another actor may pop or insert).
    let from_end = key.extract::<i64>().is_ok_and(|i| i < 0);
    if from_end && ctx.in_control() && !sequence_turn(py, ctx, f, loc, kind, container) {
        return;
    }
    let Some(k) = item_key(py, f, container, key) else {
        return;
    };
    emit(ctx, kind, loc, k.0, 0);
    let registered = session::with(|s| {
        matches!(s.lookup(caddr), Some(Some(_))) || s.dict_owner(caddr).is_some()
    })
    .unwrap_or(false);
    if registered && !from_end && naming::is_stable_key(py, key) {
        session::with(|s| s.keep_alive(key));
        ins.cached_obj.store(caddr, Relaxed);
        ins.cached_item.store(kaddr, Relaxed);
        ins.cached_key.store(k.0, Relaxed);
        ins.cached_epoch.store(epoch, Relaxed);
    }
}

/// Takes the turn of an item access of a sequence whose key is known only
/// once the actor runs (a negative index): the step is offered as an
/// access of the whole sequence, and its event names the item. False when
/// the run was stopped.
fn sequence_turn(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    kind: EventKind,
    container: &Bound<'_, PyAny>,
) -> bool {
    let Some((id, ObjKind::List | ObjKind::Deque | ObjKind::ByteArray)) =
        object(py, Some(&f), container)
    else {
        return true;
    };
    let Some(whole) = session::with(|s| {
        let empty = s.string("");
        s.key(id, MemberKind::Whole, empty)
    }) else {
        return true;
    };
    let op = racetrace_formats::Event {
        actor: ctx.actor(),
        kind,
        loc,
        target: whole.0,
        aux: 0,
    };
    let what = "its turn to index a sequence from its end".to_string();
    if crate::control::take_turn(py, ctx.actor(), op, what, false, None).is_err() {
        set_abort();
        return false;
    }
    true
}

pub(super) fn whole_key(ctx: &ThreadCtx, kind: EventKind, loc: LocId, id: ObjId) {
    let Some(key) = session::with(|s| {
        let empty = s.string("");
        s.key(id, MemberKind::Whole, empty)
    }) else {
        return;
    };
    emit(ctx, kind, loc, key.0, 0);
}

pub(super) fn whole_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    kind: EventKind,
    container: &Bound<'_, PyAny>,
) {
    let Some((id, k)) = object(py, Some(&f), container) else {
        return;
    };
    if is_container(k) {
        whole_key(ctx, kind, loc, id);
    }
}

/// Iterating reads the whole container; a dict view reads its dict.
pub(super) fn iter_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    obj: &Bound<'_, PyAny>,
) {
    if naming::is_immutable(py, obj) {
        return;
    }
    let tn = naming::type_name(obj);
    if matches!(tn.as_str(), "dict_keys" | "dict_values" | "dict_items") {
        if let Ok(m) = obj.getattr("mapping") {
            whole_access(py, ctx, f, loc, EventKind::Read, &m);
        }
        return;
    }
    whole_access(py, ctx, f, loc, EventKind::Read, obj);
}

pub(super) fn global_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    info: &CodeInfo,
    loc: LocId,
    kind: EventKind,
    idx: usize,
) {
    let Some(g) = f.globals(py) else { return };
    let Some(name) = super::tables::name_id(info, idx) else {
        return;
    };
    if kind == EventKind::Read {
        // A builtin (`len`) is not a global; nor are definitions.
        let Some(n) = f.name(py, idx) else { return };
        let Ok(d) = g.cast::<PyDict>() else { return };
        match d.get_item(n) {
            Ok(Some(v)) if !naming::is_definition(py, &v) => {}
            _ => return,
        }
    }
    if let Some(gid) = globals_object(&g) {
        emit_key(ctx, kind, loc, gid, MemberKind::Global, name);
    }
}

/// The key of the closure cell in fast local `idx`, registering the cell
/// (labelled with its variable and owning function) on first sight.
pub(super) fn cell_key(
    py: Python<'_>,
    f: Frame<'_>,
    info: &CodeInfo,
    idx: usize,
    cell: &Bound<'_, PyAny>,
) -> Option<KeyId> {
    // Named `count in make_counter`: the variable and the function that
    // owns it (for a free variable, the enclosing function:
    // `outer.<locals>.inner` → `outer`), the same from either side.
    let owner = match info.qualname.rsplit_once(".<locals>.") {
        Some((outer, _)) if f.is_free_var(idx) => outer.to_string(),
        _ => info.qualname.to_string(),
    };
    let var = cpython::code_localsplusnames(&f.code(py))
        .and_then(|t| t.get_item(idx).ok())
        .map(|n| n.to_string())?;
    let name = format!("{var} in {owner}");
    let addr = cell.as_ptr() as usize;
    let id = match session::with(|s| s.lookup(addr)).flatten() {
        Some(Some(id)) => id,
        Some(None) => return None,
        None => session::with(|s| s.register(cell, ObjKind::Cell, "cell", &name, None))?,
    };
    session::with(|s| {
        let member = s.string(&name);
        s.key(id, MemberKind::Cell, member)
    })
}

pub(super) fn cell_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    info: &CodeInfo,
    ins: &Instr,
    loc: LocId,
    kind: EventKind,
) {
    let idx = ins.arg as usize;
    let Some(cell) = f.local(py, idx) else { return };
    if naming::classify(py, &cell) != Class::Cell {
        return;
    }
    cached_access(ctx, ins, loc, kind, &cell, || {
        cell_key(py, f, info, idx, &cell)
    });
}
