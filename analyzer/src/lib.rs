//! racetrace analyzer library.

pub mod cli;
