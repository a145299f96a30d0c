//! Table definitions: decoding a chunk's defs section into `Tables`.
//!
//! Each entry's ids are checked against the entries defined before it (a
//! key's object, an actor's parent, every string), so the tables a
//! `TraceFile` hands out never refer to a missing entry. These per-table
//! rules are the one place the scan decodes entries, hence their own
//! module.

use crate::codec;
use crate::error::{FormatError, TableName};
use crate::model::*;
use crate::sources::*;

use super::scan::Scanner;
use super::Extras;

impl Scanner<'_> {
    fn out_of_range(
        &self,
        offset: usize,
        table: TableName,
        id: u64,
        size: usize,
        context: &'static str,
    ) -> FormatError {
        FormatError::IndexOutOfRange {
            file: self.file.to_string(),
            offset: offset as u64,
            table,
            id,
            size: size as u64,
            context,
        }
    }

    /// Decodes one defs section into `tables`, validating every id an entry
    /// holds against the entries defined before it.
    pub(super) fn read_defs(
        &self,
        start: usize,
        len: usize,
        tables: &mut Tables,
        extras: &mut Extras,
        events_through_chunk: u64,
    ) -> Result<(), FormatError> {
        let defs = &self.data[start..start + len];
        let mut pos = 0;
        while pos < defs.len() {
            let entry_offset = start + pos;
            let tag = defs[pos];
            let body = &defs[pos + 1..];
            let n_strings = tables.strings.len();
            let check_str = |id: StrId, context| {
                if id.index() < n_strings {
                    Ok(())
                } else {
                    Err(self.out_of_range(
                        entry_offset,
                        TableName::Strings,
                        id.0.into(),
                        n_strings,
                        context,
                    ))
                }
            };
            let used = match tag {
                codec::DEF_STRING => {
                    let (s, used): (String, usize) = self.decode_entry(body, entry_offset, tag)?;
                    tables.strings.push(s);
                    used
                }
                codec::DEF_LOC => {
                    let (loc, used): (CodeLoc, usize) =
                        self.decode_entry(body, entry_offset, tag)?;
                    check_str(loc.file, "code location entry")?;
                    check_str(loc.function, "code location entry")?;
                    tables.locs.push(loc);
                    used
                }
                codec::DEF_OBJECT => {
                    let (obj, used): (ObjectDesc, usize) =
                        self.decode_entry(body, entry_offset, tag)?;
                    check_str(obj.type_name, "object entry")?;
                    check_str(obj.label, "object entry")?;
                    tables.objects.push(obj);
                    used
                }
                codec::DEF_KEY => {
                    let (key, used): (KeyDesc, usize) =
                        self.decode_entry(body, entry_offset, tag)?;
                    if key.obj.index() >= tables.objects.len() {
                        return Err(self.out_of_range(
                            entry_offset,
                            TableName::Objects,
                            key.obj.0.into(),
                            tables.objects.len(),
                            "key entry",
                        ));
                    }
                    check_str(key.member, "key entry")?;
                    tables.keys.push(key);
                    used
                }
                codec::DEF_ACTOR => {
                    let (actor, used): (ActorDesc, usize) =
                        self.decode_entry(body, entry_offset, tag)?;
                    check_str(actor.name, "actor entry")?;
                    if let Some(parent) = actor.parent {
                        if parent.index() >= tables.actors.len() {
                            return Err(self.out_of_range(
                                entry_offset,
                                TableName::Actors,
                                parent.0.into(),
                                tables.actors.len(),
                                "actor entry (parent)",
                            ));
                        }
                    }
                    // The creating event precedes the definition, so it is
                    // in this chunk or an earlier one.
                    if let Some(ev) = actor.created_by_event {
                        if ev >= events_through_chunk {
                            return Err(self.malformed(
                                entry_offset,
                                format!(
                                    "actor {} created by event {ev}, which is not in this or an earlier chunk",
                                    tables.actors.len()
                                ),
                            ));
                        }
                    }
                    tables.actors.push(actor);
                    used
                }
                codec::DEF_SOURCE | codec::DEF_MARK if self.version < 3 => {
                    return Err(self.malformed(
                        entry_offset,
                        format!(
                            "table entry tag {tag} in a format version {} trace (it appeared in version 3)",
                            self.version
                        ),
                    ))
                }
                codec::DEF_SOURCE => {
                    let (src, used): (SourceDesc, usize) =
                        codec::decode_bounded(body, codec::SOURCE_FACTOR).map_err(|e| {
                            self.malformed(
                                entry_offset,
                                format!("bad table entry (tag {tag}): {e}"),
                            )
                        })?;
                    check_str(src.file, "source entry")?;
                    extras.sources.push(src);
                    used
                }
                codec::DEF_MARK => {
                    let (mark, used): (Mark, usize) = self.decode_entry(body, entry_offset, tag)?;
                    check_str(mark.label, "mark entry")?;
                    if mark.at_event > events_through_chunk {
                        return Err(self.malformed(
                            entry_offset,
                            format!(
                                "mark at event {}, after the end of its chunk (event {events_through_chunk})",
                                mark.at_event
                            ),
                        ));
                    }
                    extras.marks.push(mark);
                    used
                }
                _ => {
                    return Err(
                        self.malformed(entry_offset, format!("unknown table entry tag {tag}"))
                    )
                }
            };
            pos += 1 + used;
        }
        Ok(())
    }

    /// Decodes the table entry after `tag` at `entry_offset` (entries hold
    /// only strings and scalars); returns it and its encoded length.
    fn decode_entry<T: bincode::Decode<()>>(
        &self,
        body: &[u8],
        entry_offset: usize,
        tag: u8,
    ) -> Result<(T, usize), FormatError> {
        codec::decode_bounded(body, codec::STRINGS_ONLY)
            .map_err(|e| self.malformed(entry_offset, format!("bad table entry (tag {tag}): {e}")))
    }
}
