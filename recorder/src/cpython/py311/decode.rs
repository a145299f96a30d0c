//! CPython 3.11: turns a code object's de-specialized bytecode (`co_code`) into a table
//! indexed by code unit, so that the trace function finds what an instruction
//! means with one array read. Built once per code object per recording.

use pyo3::prelude::*;

use super::opcodes as op;
use crate::codeinfo::{Action, Instr, READ_INSTANCES};

/// Operand masks of [`Action::ReadOperands`] (bit `n`: `n` below TOS).
const TOS: u32 = 1;
const TOS1: u32 = 2;
const TOS2: u32 = 4;

/// The table of a code object's de-specialized bytecode (`co_code`).
pub fn decode(code: &Bound<'_, PyAny>) -> Box<[Instr]> {
    decode_units(&co_code(code))
}

/// [`decode`], keeping only what a controlled run intercepts.
pub fn decode_intercept(code: &Bound<'_, PyAny>) -> Box<[Instr]> {
    intercept_only(decode(code))
}

fn co_code(code: &Bound<'_, PyAny>) -> Vec<u8> {
    code.getattr("co_code")
        .and_then(|b| b.extract())
        .unwrap_or_default()
}

fn action_of(opcode: u8, oparg: u32) -> (Action, u32) {
    let reads = |mask: u32| (Action::ReadOperands, mask);
    let a = match opcode {
        // Truth tests call `__bool__`/`__len__` on the value they pop.
        op::POP_JUMP_FORWARD_IF_FALSE
        | op::POP_JUMP_FORWARD_IF_TRUE
        | op::POP_JUMP_BACKWARD_IF_FALSE
        | op::POP_JUMP_BACKWARD_IF_TRUE
        | op::JUMP_IF_FALSE_OR_POP
        | op::JUMP_IF_TRUE_OR_POP
        | op::UNARY_NOT
        | op::GET_LEN
        | op::UNPACK_SEQUENCE
        | op::UNPACK_EX
        | op::LIST_EXTEND
        | op::SET_UPDATE
        | op::DICT_MERGE
        | op::DICT_UPDATE => return reads(TOS),
        op::COMPARE_OP => return reads(TOS | TOS1),
        op::FORMAT_VALUE if oparg & op::FVS_HAVE_SPEC != 0 => return reads(TOS1),
        op::FORMAT_VALUE => return reads(TOS),
        // TOS: the keys; TOS1: the subject.
        op::MATCH_KEYS => return reads(TOS1),
        // TOS: keyword names; TOS1: the class; TOS2: the subject, whose
        // attributes are read in C.
        op::MATCH_CLASS => return reads(TOS2 | READ_INSTANCES),
        op::FOR_ITER => Action::IterStep,
        op::GET_YIELD_FROM_ITER => Action::GetIter,
        op::LOAD_ATTR => Action::LoadAttr,
        op::STORE_ATTR => Action::StoreAttr,
        op::DELETE_ATTR => Action::DeleteAttr,
        op::BINARY_SUBSCR => Action::BinarySubscr,
        op::STORE_SUBSCR => Action::StoreSubscr,
        op::DELETE_SUBSCR => Action::DeleteSubscr,
        op::CONTAINS_OP => Action::Contains,
        // 3.11: the low bit says "push NULL first"; the rest is the name index.
        op::LOAD_GLOBAL => return (Action::LoadGlobal, oparg >> 1),
        op::STORE_GLOBAL => Action::StoreGlobal,
        op::DELETE_GLOBAL => Action::DeleteGlobal,
        op::LOAD_NAME => Action::LoadName,
        op::STORE_NAME => Action::StoreName,
        op::DELETE_NAME => Action::DeleteName,
        op::LOAD_DEREF | op::LOAD_CLASSDEREF => Action::LoadDeref,
        op::STORE_DEREF => Action::StoreDeref,
        op::PRECALL => Action::Call,
        op::CALL_FUNCTION_EX => Action::CallEx,
        op::BEFORE_WITH => Action::BeforeWith,
        op::WITH_EXCEPT_START => Action::WithExceptStart,
        op::GET_ITER => Action::GetIter,
        op::BINARY_OP if (op::NB_INPLACE_FIRST..=op::NB_INPLACE_LAST).contains(&oparg) => {
            Action::InplaceOp
        }
        op::BINARY_OP => return reads(TOS | TOS1),
        _ => Action::Invisible,
    };
    (a, oparg)
}

/// The table of code that is not traced but whose lock operations must be
/// seen: only calls and `with` statements are kept, and the instructions
/// after a call (where a recording learns whether an acquire succeeded).
fn intercept_only(mut t: Box<[Instr]>) -> Box<[Instr]> {
    for ins in t.iter_mut() {
        if !matches!(
            ins.action,
            Action::Call | Action::CallEx | Action::BeforeWith | Action::WithExceptStart
        ) {
            ins.action = Action::Invisible;
        }
    }
    t
}

/// Decodes `co_code` (two bytes per code unit).
fn decode_units(code: &[u8]) -> Box<[Instr]> {
    let n = code.len() / 2;
    let mut table: Vec<Instr> = (0..n).map(|_| Instr::default()).collect();
    let mut i = 0;
    let mut ext: u32 = 0;
    let mut start: Option<usize> = None;
    let mut mark_next = false;
    let mut kw: u32 = 0;
    while i < n {
        let opcode = code[2 * i];
        let raw = code[2 * i + 1] as u32;
        let first = *start.get_or_insert(i);
        if opcode == op::EXTENDED_ARG {
            ext = (ext << 8) | raw;
            i += 1;
            continue;
        }
        let oparg = if opcode >= op::HAVE_ARGUMENT {
            (ext << 8) | raw
        } else {
            0
        };
        ext = 0;
        start = None;
        let slot = &mut table[first];
        if mark_next {
            slot.post_call = true;
            mark_next = false;
        }
        let (action, arg) = action_of(opcode, oparg);
        slot.action = action;
        slot.arg = arg;
        if opcode == op::KW_NAMES {
            kw = oparg + 1;
        } else if opcode == op::PRECALL {
            slot.kw = std::mem::take(&mut kw);
        }
        if opcode == op::CALL || opcode == op::CALL_FUNCTION_EX || opcode == op::BEFORE_WITH {
            mark_next = true;
        }
        i += 1 + op::cache_entries(opcode);
    }
    table.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(opcode: u8, arg: u8) -> Instr {
        let mut code = vec![opcode, arg];
        code.extend(std::iter::repeat_n(0u8, 2 * op::cache_entries(opcode)));
        decode_units(&code).into_vec().remove(0)
    }

    #[test]
    fn container_protocols_read_the_operands_they_run_on() {
        for opcode in [
            op::POP_JUMP_FORWARD_IF_FALSE,
            op::POP_JUMP_FORWARD_IF_TRUE,
            op::POP_JUMP_BACKWARD_IF_FALSE,
            op::POP_JUMP_BACKWARD_IF_TRUE,
            op::JUMP_IF_FALSE_OR_POP,
            op::JUMP_IF_TRUE_OR_POP,
            op::UNARY_NOT,
            op::GET_LEN,
            op::UNPACK_SEQUENCE,
            op::UNPACK_EX,
            op::LIST_EXTEND,
            op::SET_UPDATE,
            op::DICT_MERGE,
            op::DICT_UPDATE,
            op::FORMAT_VALUE,
        ] {
            let i = one(opcode, 1);
            assert_eq!((i.action, i.arg), (Action::ReadOperands, TOS), "{opcode}");
        }
        let cmp = one(op::COMPARE_OP, 2);
        assert_eq!((cmp.action, cmp.arg), (Action::ReadOperands, TOS | TOS1));
        // `a + b` reads both; `a += b` is the in-place action.
        assert_eq!(one(op::BINARY_OP, 0).arg, TOS | TOS1);
        assert_eq!(one(op::BINARY_OP, 13).action, Action::InplaceOp);
        // With a format spec on top, the value is one below it.
        assert_eq!(one(op::FORMAT_VALUE, 4).arg, TOS1);
        assert_eq!(one(op::MATCH_KEYS, 0).arg, TOS1);
        assert_eq!(one(op::MATCH_CLASS, 1).arg, TOS2 | READ_INSTANCES);
        assert_eq!(one(op::FOR_ITER, 3).action, Action::IterStep);
        assert_eq!(one(op::GET_YIELD_FROM_ITER, 0).action, Action::GetIter);
    }

    #[test]
    fn compare_op_skips_its_two_cache_entries() {
        // COMPARE_OP 2 (+2 caches); FOR_ITER
        let code = vec![op::COMPARE_OP, 2, 0, 0, 0, 0, op::FOR_ITER, 1];
        let t = decode_units(&code);
        assert_eq!(t[0].action, Action::ReadOperands);
        assert!(t[1].is_quiet() && t[2].is_quiet());
        assert_eq!(t[3].action, Action::IterStep);
    }

    #[test]
    fn load_attr_skips_its_cache_entries() {
        // LOAD_FAST 0; LOAD_ATTR 1 (+4 caches); POP_TOP
        let mut code = vec![124, 0, op::LOAD_ATTR, 1];
        code.extend([0u8; 8]);
        code.extend([1, 0]);
        let t = decode_units(&code);
        assert_eq!(t.len(), 7);
        assert_eq!(t[1].action, Action::LoadAttr);
        assert_eq!(t[1].arg, 1);
        assert!(t[2..6].iter().all(|i| i.is_quiet()));
        assert!(t[6].is_quiet());
    }

    #[test]
    fn extended_arg_moves_the_action_to_the_prefix() {
        let code = vec![op::EXTENDED_ARG, 1, op::STORE_GLOBAL, 2];
        let t = decode_units(&code);
        assert_eq!(t[0].action, Action::StoreGlobal);
        assert_eq!(t[0].arg, 0x102);
        assert!(t[1].is_quiet());
    }

    #[test]
    fn load_global_name_index_is_shifted_and_call_marks_next() {
        let mut code = vec![op::LOAD_GLOBAL, 5];
        code.extend([0u8; 10]);
        code.extend([op::PRECALL, 0, 0, 0, op::CALL, 0]);
        code.extend([0u8; 8]);
        code.extend([1, 0]);
        let t = decode_units(&code);
        assert_eq!(t[0].action, Action::LoadGlobal);
        assert_eq!(t[0].arg, 2);
        assert_eq!(t[6].action, Action::Call);
        let last = t.len() - 1;
        assert!(t[last].post_call);
    }
}
