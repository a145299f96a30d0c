//! CPython 3.11 opcode numbers and inline-cache sizes, as printed by
//! `opcode.opmap` and `opcode._inline_cache_entries` of 3.11. Only the opcodes
//! the recorder looks at are named; everything else is invisible.
//!
//! Decoding reads `code.co_code`, the de-specialized bytes, which is also what
//! the interpreter executes while a trace function is installed.

pub const UNARY_NOT: u8 = 12;
pub const BINARY_SUBSCR: u8 = 25;
pub const GET_LEN: u8 = 30;
pub const MATCH_KEYS: u8 = 33;
pub const GET_YIELD_FROM_ITER: u8 = 69;
pub const UNPACK_SEQUENCE: u8 = 92;
pub const FOR_ITER: u8 = 93;
pub const UNPACK_EX: u8 = 94;
pub const COMPARE_OP: u8 = 107;
pub const JUMP_IF_FALSE_OR_POP: u8 = 111;
pub const JUMP_IF_TRUE_OR_POP: u8 = 112;
pub const POP_JUMP_FORWARD_IF_FALSE: u8 = 114;
pub const POP_JUMP_FORWARD_IF_TRUE: u8 = 115;
pub const MATCH_CLASS: u8 = 152;
pub const FORMAT_VALUE: u8 = 155;
pub const LIST_EXTEND: u8 = 162;
pub const SET_UPDATE: u8 = 163;
pub const DICT_MERGE: u8 = 164;
pub const DICT_UPDATE: u8 = 165;
pub const POP_JUMP_BACKWARD_IF_FALSE: u8 = 175;
pub const POP_JUMP_BACKWARD_IF_TRUE: u8 = 176;
/// FORMAT_VALUE's argument bit saying a format spec is on the stack above
/// the value.
pub const FVS_HAVE_SPEC: u32 = 0x04;
pub const GET_ITER: u8 = 68;
pub const WITH_EXCEPT_START: u8 = 49;
pub const BEFORE_WITH: u8 = 53;
pub const STORE_SUBSCR: u8 = 60;
pub const DELETE_SUBSCR: u8 = 61;
pub const STORE_NAME: u8 = 90;
pub const DELETE_NAME: u8 = 91;
pub const STORE_ATTR: u8 = 95;
pub const DELETE_ATTR: u8 = 96;
pub const STORE_GLOBAL: u8 = 97;
pub const DELETE_GLOBAL: u8 = 98;
pub const LOAD_NAME: u8 = 101;
pub const LOAD_ATTR: u8 = 106;
pub const LOAD_GLOBAL: u8 = 116;
pub const CONTAINS_OP: u8 = 118;
pub const LOAD_DEREF: u8 = 137;
pub const STORE_DEREF: u8 = 138;
pub const EXTENDED_ARG: u8 = 144;
pub const LOAD_CLASSDEREF: u8 = 148;
pub const PRECALL: u8 = 166;
pub const CALL_FUNCTION_EX: u8 = 142;
pub const BINARY_OP: u8 = 122;
/// BINARY_OP arguments of the in-place operators (`NB_INPLACE_ADD` ..
/// `NB_INPLACE_XOR` in `dis._nb_ops`).
pub const NB_INPLACE_FIRST: u32 = 13;
pub const NB_INPLACE_LAST: u32 = 25;
/// Names the keyword arguments of the next call (a constant tuple).
pub const KW_NAMES: u8 = 172;

/// Opcodes below this take no argument.
pub const HAVE_ARGUMENT: u8 = 90;

/// Number of inline CACHE code units that follow an instruction (3.11).
pub fn cache_entries(op: u8) -> usize {
    match op {
        25 => 4,   // BINARY_SUBSCR
        60 => 1,   // STORE_SUBSCR
        92 => 1,   // UNPACK_SEQUENCE
        95 => 4,   // STORE_ATTR
        106 => 4,  // LOAD_ATTR
        107 => 2,  // COMPARE_OP
        116 => 5,  // LOAD_GLOBAL
        122 => 1,  // BINARY_OP
        160 => 10, // LOAD_METHOD
        166 => 1,  // PRECALL
        171 => 4,  // CALL
        _ => 0,
    }
}

/// CALL (follows PRECALL; the recorder acts on PRECALL, where the stack
/// still holds the callable).
pub const CALL: u8 = 171;
