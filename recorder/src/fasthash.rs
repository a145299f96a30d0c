//! A small multiplicative hasher for the maps of the session (addresses,
//! ids, and the strings of a trace's table): those keys are not
//! attacker-controlled and SipHash showed up in profiles of the
//! visible-event path and of the tables made again for every run.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // A word at a time (file names and qualified names are long).
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.write_u64(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        // Mix the new word in, then spread it (addresses have zero low bits).
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;
pub type IntSet<K> = HashSet<K, BuildHasherDefault<IntHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_stay_distinct() {
        let mut m: IntMap<(u32, u8, u32), u32> = IntMap::default();
        for i in 0..1000u32 {
            m.insert((i, (i % 3) as u8, i / 7), i);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m[&(500, 2, 71)], 500);
    }

    #[test]
    fn strings_that_differ_anywhere_stay_distinct() {
        let mut m: IntMap<String, u32> = IntMap::default();
        let base = "/usr/lib/python3.11/asyncio/base_events.py";
        for i in 0..base.len() {
            let mut s = base.to_string();
            s.replace_range(i..=i, "#");
            m.insert(s, i as u32);
            m.insert(base[..i].to_string(), 1000 + i as u32);
        }
        m.insert(base.to_string(), 9999);
        assert_eq!(m.len(), 2 * base.len() + 1);
        assert_eq!(m[base], 9999);
        assert_eq!(m[&base[..8]], 1008);
    }
}
