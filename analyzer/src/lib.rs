//! racetrace analyzer library.
