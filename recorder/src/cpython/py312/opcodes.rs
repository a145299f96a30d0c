//! CPython 3.12 opcode numbers, inline-cache sizes and jumps, as printed by
//! its `opcode` module (`opmap`, `_inline_cache_entries`, `hasjrel`). Only
//! the opcodes the recorder looks at are named.

pub const BINARY_SUBSCR: u8 = 25;
pub const BINARY_SLICE: u8 = 26;
pub const STORE_SLICE: u8 = 27;
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
pub const LOAD_FROM_DICT_OR_DEREF: u8 = 176;
pub const EXTENDED_ARG: u8 = 144;
pub const CALL: u8 = 171;
pub const CALL_FUNCTION_EX: u8 = 142;
pub const BINARY_OP: u8 = 122;
pub const POP_JUMP_IF_FALSE: u8 = 114;
pub const POP_JUMP_IF_TRUE: u8 = 115;
pub const UNARY_NOT: u8 = 12;
pub const GET_LEN: u8 = 30;
pub const UNPACK_SEQUENCE: u8 = 92;
pub const UNPACK_EX: u8 = 94;
pub const LIST_EXTEND: u8 = 162;
pub const SET_UPDATE: u8 = 163;
pub const DICT_MERGE: u8 = 164;
pub const DICT_UPDATE: u8 = 165;
pub const COMPARE_OP: u8 = 107;
pub const FORMAT_VALUE: u8 = 155;
/// FORMAT_VALUE's flag for a format spec on top of the value.
pub const FVS_HAVE_SPEC: u32 = 0x04;
pub const MATCH_KEYS: u8 = 33;
pub const MATCH_CLASS: u8 = 152;
pub const FOR_ITER: u8 = 93;
pub const GET_YIELD_FROM_ITER: u8 = 69;
pub const KW_NAMES: u8 = 172;
pub const RETURN_GENERATOR: u8 = 75;
pub const RETURN_VALUE: u8 = 83;
pub const RETURN_CONST: u8 = 121;
pub const RAISE_VARARGS: u8 = 130;
pub const RERAISE: u8 = 119;
pub const JUMP_FORWARD: u8 = 110;
pub const JUMP_BACKWARD: u8 = 140;
pub const JUMP_BACKWARD_NO_INTERRUPT: u8 = 134;
/// Opcodes below this take no argument.
pub const HAVE_ARGUMENT: u8 = 90;
/// Relative jumps (`opcode.hasjrel`): the target is counted from the next instruction.
pub const RELATIVE_JUMPS: &[u8] = &[
    93,  /* FOR_ITER */
    110, /* JUMP_FORWARD */
    114, /* POP_JUMP_IF_FALSE */
    115, /* POP_JUMP_IF_TRUE */
    123, /* SEND */
    128, /* POP_JUMP_IF_NOT_NONE */
    129, /* POP_JUMP_IF_NONE */
    134, /* JUMP_BACKWARD_NO_INTERRUPT */
    140, /* JUMP_BACKWARD */
];
/// Inline CACHE code units after each opcode (`opcode._inline_cache_entries`).
pub const CACHE_ENTRIES: [u8; 256] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 4,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
/// BINARY_OP arguments of the in-place operators (`NB_INPLACE_ADD` ..
/// `NB_INPLACE_XOR` in `dis._nb_ops`).
pub const NB_INPLACE_FIRST: u32 = 13;
pub const NB_INPLACE_LAST: u32 = 25;
