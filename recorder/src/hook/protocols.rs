//! Container protocols run in C on values of traced code: truth tests,
//! comparisons, operators, unpacking and formatting of a container read it
//! as a whole; so does each step of an iterator over one (FOR_ITER).

use super::*;

/// A container protocol on `value` (an operand of a
/// [`Action::ReadOperands`] instruction): a whole read of the container,
/// or of the dict behind a dict view; with `instances`, of an instance too
/// (MATCH_CLASS reads its attributes in C).
pub(super) fn operand_read(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    value: &Bound<'_, PyAny>,
    instances: bool,
) {
    if let Some(dict) = view_mapping(value) {
        whole_access(py, ctx, f, loc, EventKind::Read, &dict);
        return;
    }
    let Some((id, k)) = object(py, Some(&f), value) else {
        return;
    };
    if is_container(k) || (instances && k == ObjKind::Instance) {
        whole_key(ctx, EventKind::Read, loc, id);
    }
}

/// The dict behind a dict view (`d.keys()`, `d.items()`, `d.values()`).
pub(super) fn view_mapping<'py>(value: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    let tn = naming::type_name(value);
    if !matches!(
        tn.as_str(),
        "dict_keys" | "dict_values" | "dict_items" | "odict_keys" | "odict_values" | "odict_items"
    ) {
        return None;
    }
    value.getattr("mapping").ok()
}

/// One step of the iterator `it` (FOR_ITER, `next(it)`): a whole read of
/// each container it steps through. The first goes through the
/// instruction's inline cache when there is one.
pub(super) fn iter_step(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    ins: Option<&Instr>,
    loc: LocId,
    it: &Bound<'_, PyAny>,
) {
    let sources = cpython::iteration_sources(it);
    for (i, c) in sources.iter().enumerate() {
        let slow = || {
            let (id, k) = object(py, Some(&f), c)?;
            if !is_container(k) {
                return None;
            }
            session::with(|s| {
                let empty = s.string("");
                s.key(id, MemberKind::Whole, empty)
            })
        };
        match ins {
            Some(ins) if i == 0 => cached_access(ctx, ins, loc, EventKind::Read, c, slow),
            _ => {
                if let Some(key) = slow() {
                    emit(ctx, EventKind::Read, loc, key.0, 0);
                }
            }
        }
    }
}
