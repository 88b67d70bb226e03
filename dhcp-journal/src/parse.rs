//! Tolerant reader of `dhcpd.leases` (pure, over bytes).
//!
//! Recovery policy (the reader never fails, it warns):
//! - An unknown statement (top level or inside a record, e.g. `set ddns-fwd-name = …;`,
//!   `on expiry { … }`, `option agent.circuit-id …;`) is skipped up to its `;` or the end
//!   of its `{ … }` block, with a warning.
//! - A statement whose value is malformed (bad date, bad address, unknown state name) is
//!   skipped the same way, with a warning; the record is kept.
//! - A record whose header is malformed (`lease <not an address> {`) is skipped whole.
//! - A record that is still open when the next record starts (`lease`, `host` or `failover`
//!   inside a body, or at the start of a line while skipping) is dropped with a warning and
//!   reading resumes at the new record. Garbage between records is thus skipped up to the
//!   next line that starts with a record keyword.
//! - The file ending inside a record or statement (a torn write after a crash) drops that
//!   last record with a [`WarningKind::TornRecord`] warning; [`Parsed::torn_at`] gives its
//!   byte offset, and [`Parsed::valid_len`] the length of the clean prefix.
//! - A string not closed on its own line is malformed (writers escape newlines, so lease
//!   files never hold one in a string): a stray `"` damages one line, not the rest of the file.
//! - `server-duid` and `authoring-byte-order` are read and ignored; `#` comments are skipped.
//! - `epoch N;` times (dhcpd's `db-time-format local`) are read, and written when the
//!   server's dhcpd.conf says `db-time-format local`.

use std::fmt;
use std::net::Ipv4Addr;

use crate::date::timegm;
use crate::record::{
    BindingState, Entry, FailoverState, FailoverStateRecord, Hardware, HostRecord, LeaseRecord, NEVER, VarValue,
};

/// At most this many warnings are kept; the rest are only counted.
pub const MAX_WARNINGS: usize = 1000;

/// Result of [`parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Complete records in file order.
    pub entries: Vec<Entry>,
    /// The first [`MAX_WARNINGS`] warnings, in file order.
    pub warnings: Vec<Warning>,
    /// Warnings beyond [`MAX_WARNINGS`] (counted, not kept).
    pub suppressed_warnings: usize,
    /// Length of the clean prefix: the whole input, or the offset of a torn last record.
    pub valid_len: usize,
    /// Byte offset where a torn (unterminated) last record starts.
    pub torn_at: Option<usize>,
}

/// A recoverable problem found while reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Byte offset of the statement or record concerned.
    pub offset: usize,
    /// 1-based line of `offset`.
    pub line: u32,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The input ends inside this record (torn last write); the record was dropped.
    TornRecord,
    /// A statement this reader does not know; skipped. Holds its first word(s).
    UnknownStatement(String),
    /// A known statement with a bad value; skipped.
    Malformed(&'static str),
    /// A record with a bad header; the whole record was skipped.
    BadRecord(&'static str),
    /// A record not closed before the next record started; dropped.
    Unterminated,
    /// A stray token between records; skipped.
    Unexpected,
    /// A lease without `binding state`; a default was used (see [`parse`]).
    MissingBindingState,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} (byte {}): ", self.line, self.offset)?;
        match &self.kind {
            WarningKind::TornRecord => {
                write!(f, "file ends inside a record (torn write); record at byte {} dropped", self.offset)
            }
            WarningKind::UnknownStatement(s) => write!(f, "unknown statement `{s}` skipped"),
            WarningKind::Malformed(what) => write!(f, "malformed {what}; statement skipped"),
            WarningKind::BadRecord(what) => write!(f, "bad record ({what}); record skipped"),
            WarningKind::Unterminated => {
                write!(f, "record not terminated before the next one; dropped")
            }
            WarningKind::Unexpected => write!(f, "unexpected text between records; skipped"),
            WarningKind::MissingBindingState => {
                write!(f, "lease without binding state; default used")
            }
        }
    }
}

/// Parse a whole lease file. Never fails and never panics; see the module docs for the
/// recovery policy. A lease without `binding state` gets ACTIVE when it has an `ends`
/// (dhcpd decides against the clock, which a pure reader does not have), else FREE.
/// Room for the records of a lease file of `len` bytes (a record is ~200 bytes; generous,
/// since untouched capacity costs address space, not memory): what a reader reserves so
/// that a large file is not collected by repeated doubling and copying.
pub(crate) fn records_in(len: usize) -> usize {
    len / 180 + 16
}

pub fn parse(bytes: &[u8]) -> Parsed {
    let mut entries = Vec::with_capacity(records_in(bytes.len()));
    let mut parsed = parse_each(bytes, &mut |e| entries.push(e));
    parsed.entries = entries;
    parsed
}

/// [`parse`], handing each complete record to `each` as it is read instead of collecting
/// them: the returned [`Parsed::entries`] is empty. Loading a large file this way never
/// holds every record twice (a million leases read into a vector, then folded, cost a
/// gigabyte of freshly touched memory and most of the start-up time in page faults).
/// A torn last record is never handed over, as [`parse`] never returns it.
pub fn parse_each(bytes: &[u8], each: &mut dyn FnMut(Entry)) -> Parsed {
    let mut p = Parser { b: bytes, pos: 0, out: Parsed::default(), each, line_off: 0, line_no: 1 };
    p.run();
    p.out
}

/// Why a production stopped.
enum Stop {
    /// End of input inside it.
    Eof,
    /// A bad value.
    Bad(&'static str),
}

type R<T> = Result<T, Stop>;

#[derive(Clone, Copy)]
enum Tok<'a> {
    Semi,
    LBrace,
    RBrace,
    /// Raw string contents between the quotes (escapes not yet decoded).
    Str(&'a [u8]),
    /// A string not closed on its line. Strings in lease files never hold a raw newline
    /// (writers escape it), so this limits a stray `"` to one line.
    BadStr,
    Word(&'a [u8]),
}

/// Bytes that end a word.
static DELIM: [bool; 256] = {
    let mut t = [false; 256];
    let d = b" \t\r\n\x0b\x0c;{}\"#";
    let mut i = 0;
    while i < d.len() {
        t[d[i] as usize] = true;
        i += 1;
    }
    t
};

fn is_record_keyword(w: &[u8]) -> bool {
    matches!(w, b"lease" | b"host" | b"failover")
}

struct Parser<'a, 'e> {
    b: &'a [u8],
    pos: usize,
    /// Warnings and the clean length; the records go to `each`.
    out: Parsed,
    each: &'e mut dyn FnMut(Entry),
    line_off: usize,
    line_no: u32,
}

impl<'a> Parser<'a, '_> {
    // ---- lexer -------------------------------------------------------------------

    fn skip_ws(&mut self) {
        let b = self.b;
        let mut i = self.pos;
        while i < b.len() {
            match b[i] {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => i += 1,
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        self.pos = i;
    }

    /// Next token; `Err(Eof)` at end of input or inside an unterminated string.
    fn tok(&mut self) -> R<Tok<'a>> {
        self.skip_ws();
        let b = self.b;
        let start = self.pos;
        let Some(&c) = b.get(start) else {
            return Err(Stop::Eof);
        };
        match c {
            b';' => {
                self.pos += 1;
                Ok(Tok::Semi)
            }
            b'{' => {
                self.pos += 1;
                Ok(Tok::LBrace)
            }
            b'}' => {
                self.pos += 1;
                Ok(Tok::RBrace)
            }
            b'"' => {
                let mut i = start + 1;
                while i < b.len() {
                    match b[i] {
                        b'"' => {
                            self.pos = i + 1;
                            return Ok(Tok::Str(&b[start + 1..i]));
                        }
                        b'\n' => {
                            self.pos = i;
                            return Ok(Tok::BadStr);
                        }
                        b'\\' if b.get(i + 1) != Some(&b'\n') => i += 2,
                        _ => i += 1,
                    }
                }
                self.pos = b.len();
                Err(Stop::Eof)
            }
            _ => {
                let mut i = start;
                while i < b.len() && !DELIM[usize::from(b[i])] {
                    i += 1;
                }
                self.pos = i;
                Ok(Tok::Word(&b[start..i]))
            }
        }
    }

    fn word(&mut self, what: &'static str) -> R<&'a [u8]> {
        match self.tok()? {
            Tok::Word(w) => Ok(w),
            _ => Err(Stop::Bad(what)),
        }
    }

    fn keyword(&mut self, kw: &[u8], what: &'static str) -> R<()> {
        if self.word(what)? == kw { Ok(()) } else { Err(Stop::Bad(what)) }
    }

    /// Consume a `;` or fail without consuming anything else.
    fn semi(&mut self, what: &'static str) -> R<()> {
        self.skip_ws();
        match self.b.get(self.pos) {
            None => Err(Stop::Eof),
            Some(b';') => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(Stop::Bad(what)),
        }
    }

    fn at_line_start(&self, off: usize) -> bool {
        off == 0 || self.b.get(off - 1) == Some(&b'\n')
    }

    /// Skip one statement starting at the current position: up to and including a `;` at
    /// depth 0, or the `}` closing a block the statement opened. Stops (without consuming)
    /// before a `}` that closes the enclosing record, and before a record keyword at the
    /// start of a line.
    fn skip_statement(&mut self) -> R<()> {
        let mut depth = 0usize;
        let mut first = true;
        loop {
            self.skip_ws();
            let start = self.pos;
            let t = self.tok()?;
            match t {
                Tok::Semi | Tok::BadStr if depth == 0 => return Ok(()),
                Tok::LBrace => depth += 1,
                Tok::RBrace => {
                    if depth == 0 {
                        self.pos = start;
                        return Ok(());
                    }
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Tok::Word(w) if !first && is_record_keyword(w) && self.at_line_start(start) => {
                    self.pos = start;
                    return Ok(());
                }
                _ => {}
            }
            first = false;
        }
    }

    // ---- warnings ----------------------------------------------------------------

    fn line_of(&mut self, off: usize) -> u32 {
        let off = off.min(self.b.len());
        if off < self.line_off {
            self.line_off = 0;
            self.line_no = 1;
        }
        let n = self.b[self.line_off..off].iter().filter(|&&c| c == b'\n').count();
        self.line_no = self.line_no.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.line_off = off;
        self.line_no
    }

    fn warn(&mut self, offset: usize, kind: impl FnOnce() -> WarningKind) {
        if self.out.warnings.len() >= MAX_WARNINGS {
            self.out.suppressed_warnings += 1;
            return;
        }
        let line = self.line_of(offset);
        self.out.warnings.push(Warning { offset, line, kind: kind() });
    }

    fn unknown(&mut self, offset: usize, w: &[u8]) {
        self.warn(offset, || WarningKind::UnknownStatement(String::from_utf8_lossy(w).into_owned()));
    }

    // ---- top level ---------------------------------------------------------------

    fn run(&mut self) {
        loop {
            self.skip_ws();
            let start = self.pos;
            // Warnings about a record that turns out torn are replaced by the torn warning.
            let mark = (self.out.warnings.len(), self.out.suppressed_warnings);
            let t = match self.tok() {
                Ok(t) => t,
                Err(_) => {
                    if self.pos >= self.b.len() && start < self.b.len() {
                        // Unterminated string at top level.
                        self.torn(start);
                    }
                    break;
                }
            };
            let res = match t {
                Tok::Word(b"lease") => self.lease(start),
                Tok::Word(b"host") => self.host(start),
                Tok::Word(b"failover") => self.failover(start),
                Tok::Word(b"authoring-byte-order" | b"server-duid") => self.skip_statement(),
                Tok::Semi => Ok(()),
                Tok::Word(w) => {
                    self.unknown(start, w);
                    self.skip_statement()
                }
                Tok::RBrace | Tok::LBrace | Tok::Str(_) | Tok::BadStr => {
                    self.warn(start, || WarningKind::Unexpected);
                    if matches!(t, Tok::RBrace | Tok::BadStr) { Ok(()) } else { self.skip_statement() }
                }
            };
            if res.is_err() {
                // Only Eof reaches here: records handle their own Bad values.
                self.out.warnings.truncate(mark.0);
                self.out.suppressed_warnings = mark.1;
                self.torn(start);
                break;
            }
        }
        if self.out.torn_at.is_none() {
            self.out.valid_len = self.b.len();
        }
    }

    fn torn(&mut self, start: usize) {
        self.warn(start, || WarningKind::TornRecord);
        self.out.torn_at = Some(start);
        self.out.valid_len = start;
    }

    /// Handle a bad value inside a body: warn and skip the statement that began at `stmt`.
    fn recover(&mut self, stmt: usize, r: R<()>) -> R<()> {
        match r {
            Ok(()) => Ok(()),
            Err(Stop::Eof) => Err(Stop::Eof),
            Err(Stop::Bad(what)) => {
                self.warn(stmt, || WarningKind::Malformed(what));
                self.pos = stmt;
                self.skip_statement()
            }
        }
    }

    /// A record header was bad: warn and skip the whole record from `start`.
    fn bad_record(&mut self, start: usize, what: &'static str) -> R<()> {
        self.warn(start, || WarningKind::BadRecord(what));
        self.pos = start;
        // Skip the keyword first so that skip_statement does not stop on it.
        self.tok()?;
        self.skip_statement()
    }

    // ---- lease -------------------------------------------------------------------

    fn lease(&mut self, start: usize) -> R<()> {
        let ip = match self.tok()? {
            Tok::Word(w) => parse_ipv4(w),
            _ => None,
        };
        let Some(ip) = ip else {
            return self.bad_record(start, "lease address");
        };
        if !matches!(self.tok()?, Tok::LBrace) {
            return self.bad_record(start, "expected `{` after lease address");
        }
        let mut l = LeaseRecord::new(ip, BindingState::Free);
        let mut state: Option<BindingState> = None;
        loop {
            self.skip_ws();
            let stmt = self.pos;
            let w = match self.tok()? {
                Tok::RBrace => break,
                Tok::Semi => continue,
                Tok::Word(w) => w,
                Tok::LBrace | Tok::Str(_) | Tok::BadStr => {
                    self.warn(stmt, || WarningKind::Unexpected);
                    self.pos = stmt;
                    self.skip_statement()?;
                    continue;
                }
            };
            let r = match w {
                b"starts" => self.time().map(|t| l.starts = Some(t.unwrap_or(NEVER))),
                b"ends" => self.time().map(|t| l.ends = t),
                b"tstp" => self.time().map(|t| l.tstp = Some(t.unwrap_or(NEVER))),
                b"tsfp" => self.time().map(|t| l.tsfp = Some(t.unwrap_or(NEVER))),
                b"atsfp" => self.time().map(|t| l.atsfp = Some(t.unwrap_or(NEVER))),
                b"cltt" => self.time().map(|t| l.cltt = Some(t.unwrap_or(NEVER))),
                b"binding" => self.binding_state().map(|s| state = Some(s)),
                b"next" => self
                    .keyword(b"binding", "next binding state")
                    .and_then(|()| self.binding_state())
                    .map(|s| l.next_binding_state = Some(s)),
                b"rewind" => self
                    .keyword(b"binding", "rewind binding state")
                    .and_then(|()| self.binding_state())
                    .map(|s| l.rewind_binding_state = Some(s)),
                b"abandoned" => self.semi("abandoned").map(|()| state = Some(BindingState::Abandoned)),
                b"reserved" => self.semi("reserved").map(|()| l.reserved = true),
                b"dynamic-bootp" => self.semi("dynamic-bootp").map(|()| l.bootp = true),
                b"hardware" => self.hardware().map(|h| l.hardware = Some(h)),
                b"uid" => self.uid().map(|u| l.uid = u),
                b"client-hostname" => self.string_value("client-hostname").map(|s| l.client_hostname = Some(s)),
                b"billing" => match self.billing()? {
                    Some(b) => {
                        l.billing = Some(b);
                        Ok(())
                    }
                    None => {
                        self.unknown(stmt, b"billing");
                        self.pos = stmt;
                        self.skip_statement()
                    }
                },
                b"on" => match self.on_events()? {
                    Some(e) => {
                        l.events.push(e);
                        Ok(())
                    }
                    None => {
                        self.unknown(stmt, b"on");
                        self.pos = stmt;
                        self.skip_statement()
                    }
                },
                b"set" => match self.set_var()? {
                    Some((name, VarValue::Data(v))) if name == b"vendor-class-identifier" => {
                        l.vendor_class = Some(bytes_to_string(v));
                        Ok(())
                    }
                    Some((name, v)) => {
                        l.vars.push((bytes_to_string(name.to_vec()), v));
                        Ok(())
                    }
                    None => {
                        self.pos = stmt;
                        self.skip_set(stmt)
                    }
                },
                w if is_record_keyword(w) => {
                    self.warn(start, || WarningKind::Unterminated);
                    self.pos = stmt;
                    return Ok(());
                }
                w => {
                    self.unknown(stmt, w);
                    self.pos = stmt;
                    self.skip_statement()
                }
            };
            self.recover(stmt, r)?;
        }
        l.binding_state = match state {
            Some(s) => s,
            None => {
                self.warn(start, || WarningKind::MissingBindingState);
                if l.ends == Some(0) { BindingState::Free } else { BindingState::Active }
            }
        };
        (self.each)(Entry::Lease(l));
        Ok(())
    }

    /// After `billing`: `class "NAME";` or `subclass "NAME" "VALUE"|HEX;` → Some; anything
    /// else → None (the caller rewinds, warns and skips).
    fn billing(&mut self) -> R<Option<(String, Option<Vec<u8>>)>> {
        let sub = match self.tok()? {
            Tok::Word(b"class") => false,
            Tok::Word(b"subclass") => true,
            _ => return Ok(None),
        };
        let Tok::Str(name) = self.tok()? else {
            return Ok(None);
        };
        let name = bytes_to_string(unescape(name));
        let value = if sub {
            match self.tok()? {
                Tok::Str(raw) => Some(unescape(raw)),
                Tok::Word(w) => match w.strip_suffix(b";") {
                    // A hex value glued to its `;`.
                    Some(h) => {
                        let v = parse_hex_colon(h);
                        return Ok(v.map(|v| (name, Some(v))));
                    }
                    None => match parse_hex_colon(w) {
                        Some(v) => Some(v),
                        None => return Ok(None),
                    },
                },
                _ => return Ok(None),
            }
        } else {
            None
        };
        match self.tok()? {
            Tok::Semi => Ok(Some((name, value))),
            _ => Ok(None),
        }
    }

    /// After `on`: `EVENT [or EVENT ...] { STATEMENTS }` with events `expiry`, `release`
    /// → Some (the statements' text as written); anything else (`commit`, which dhcpd
    /// never writes, an empty block, a record cut short) → None (the caller rewinds,
    /// warns and skips).
    fn on_events(&mut self) -> R<Option<crate::record::EventStatements>> {
        let (mut expiry, mut release, mut want_event) = (false, false, true);
        loop {
            match self.tok()? {
                Tok::Word(b"expiry") if want_event => expiry = true,
                Tok::Word(b"release") if want_event => release = true,
                Tok::Word(b"or") if !want_event => {}
                Tok::LBrace if !want_event => break,
                _ => return Ok(None),
            }
            want_event = !want_event;
        }
        let start = self.pos;
        let mut depth = 1usize;
        loop {
            self.skip_ws();
            let at = self.pos;
            match self.tok()? {
                Tok::LBrace => depth += 1,
                Tok::RBrace => {
                    depth -= 1;
                    if depth == 0 {
                        // One statement a line, as written back (so that a file reads
                        // back the same).
                        let raw = String::from_utf8_lossy(self.b.get(start..at).unwrap_or_default()).into_owned();
                        let text = crate::format::top_level_statements(&raw).join("\n    ");
                        return Ok((!text.is_empty()).then_some(crate::record::EventStatements {
                            expiry,
                            release,
                            text,
                        }));
                    }
                }
                Tok::BadStr => return Ok(None),
                // The next record: this one was cut short.
                Tok::Word(w) if is_record_keyword(w) && self.at_line_start(at) => {
                    self.pos = at;
                    return Ok(None);
                }
                _ => {}
            }
        }
    }

    /// `set NAME = …;` with a value other than a string: warn and skip.
    fn skip_set(&mut self, stmt: usize) -> R<()> {
        self.pos = stmt;
        self.tok()?; // `set`
        let name = match self.tok()? {
            Tok::Word(w) => w,
            _ => b"",
        };
        let mut label = b"set ".to_vec();
        label.extend_from_slice(name.split(|&c| c == b'=').next().unwrap_or(b""));
        self.unknown(stmt, &label);
        self.pos = stmt;
        self.skip_statement()
    }

    /// After `set`: `NAME = VALUE;` → Some((NAME, value)), VALUE as dhcpd's
    /// parse_binding_value reads it: a string, `%` and a decimal number, `true` or
    /// `false` (any case), colon-separated hex; anything else → None (the caller rewinds
    /// and skips).
    fn set_var(&mut self) -> R<Option<(&'a [u8], VarValue)>> {
        let Tok::Word(name) = self.tok()? else {
            return Ok(None);
        };
        // The lexer may glue `=` to the name (`x=`).
        let name = match name.strip_suffix(b"=") {
            Some(n) => n,
            None => {
                if !matches!(self.tok()?, Tok::Word(b"=")) {
                    return Ok(None);
                }
                name
            }
        };
        if name.is_empty() {
            return Ok(None);
        }
        let value = match self.tok()? {
            Tok::Str(raw) => unescape(raw),
            Tok::Word(w) => match Self::scalar(w) {
                Some(v) => {
                    return match self.tok()? {
                        Tok::Semi => Ok(Some((name, v))),
                        _ => Ok(None),
                    };
                }
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.skip_ws();
        match self.b.get(self.pos) {
            None => Err(Stop::Eof),
            Some(b';') => {
                self.pos += 1;
                Ok(Some((name, VarValue::Data(value))))
            }
            Some(_) => Ok(None),
        }
    }

    /// A binding value that is one word: `%N` (dhcpd's atol: a sign, digits), `true` or
    /// `false`, or colon-separated hex data.
    fn scalar(w: &[u8]) -> Option<VarValue> {
        if let Some(n) = w.strip_prefix(b"%") {
            return std::str::from_utf8(n).ok()?.parse::<i64>().ok().map(VarValue::Num);
        }
        if w.eq_ignore_ascii_case(b"true") {
            return Some(VarValue::Bool(true));
        }
        if w.eq_ignore_ascii_case(b"false") {
            return Some(VarValue::Bool(false));
        }
        // Hex data only when the first group is no decimal number: dhcpd's lexer reads
        // `1` as a NUMBER, which its parse_binding_value refuses ("expecting a constant
        // value"), and `0a` or `a` as the NUMBER_OR_NAME that starts hex data.
        let first = w.split(|c| *c == b':').next().unwrap_or_default();
        if first.iter().all(u8::is_ascii_digit) {
            return None;
        }
        parse_hex_colon(w).map(VarValue::Data)
    }

    /// After `binding` (or `next binding` / `rewind binding`): `state NAME;`.
    fn binding_state(&mut self) -> R<BindingState> {
        self.keyword(b"state", "binding state")?;
        let w = self.word("binding state")?;
        let s = BindingState::from_name(w).ok_or(Stop::Bad("binding state name"))?;
        self.semi("binding state")?;
        Ok(s)
    }

    /// A time value after its keyword, including the `;`. `Ok(None)` = `never`.
    fn time(&mut self) -> R<Option<u32>> {
        let w = self.word("time")?;
        let t = match w {
            b"never" => None,
            b"epoch" => {
                let n = self.word("epoch time")?;
                Some(parse_u32(n).ok_or(Stop::Bad("epoch time"))?)
            }
            _ => {
                let date = if w.contains(&b'/') {
                    w
                } else {
                    // Weekday digit (ignored on input, as dhcpd does).
                    if w.is_empty() || !w.iter().all(u8::is_ascii_digit) {
                        return Err(Stop::Bad("date (weekday)"));
                    }
                    self.word("date")?
                };
                let clock = self.word("time of day")?;
                Some(parse_date(date, clock).ok_or(Stop::Bad("date"))?)
            }
        };
        self.semi("time")?;
        Ok(t)
    }

    fn hardware(&mut self) -> R<Hardware> {
        let ty = self.word("hardware type")?;
        let htype = match ty {
            b"ethernet" => 1,
            b"token-ring" | b"tokenring" => 6,
            b"fddi" => 8,
            b"infiniband" => 32,
            _ => ty
                .strip_prefix(b"unknown-")
                .and_then(parse_u32)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or(Stop::Bad("hardware type"))?,
        };
        let addr = self.word("hardware address")?;
        let bytes = parse_hex_colon(addr).ok_or(Stop::Bad("hardware address"))?;
        self.semi("hardware")?;
        Ok((htype, bytes))
    }

    /// `uid "…";` or `uid 01:02:…;`. An empty uid is `None`.
    fn uid(&mut self) -> R<Option<Vec<u8>>> {
        let v = match self.tok()? {
            Tok::Str(raw) => unescape(raw),
            Tok::Word(w) => parse_hex_colon(w).ok_or(Stop::Bad("uid"))?,
            _ => return Err(Stop::Bad("uid")),
        };
        self.semi("uid")?;
        Ok(if v.is_empty() { None } else { Some(v) })
    }

    fn string_value(&mut self, what: &'static str) -> R<String> {
        let Tok::Str(raw) = self.tok()? else {
            return Err(Stop::Bad(what));
        };
        self.semi(what)?;
        Ok(bytes_to_string(unescape(raw)))
    }

    // ---- failover state ----------------------------------------------------------

    fn failover(&mut self, start: usize) -> R<()> {
        if !matches!(self.tok()?, Tok::Word(b"peer")) {
            return self.bad_record(start, "expected `failover peer`");
        }
        let peer = match self.tok()? {
            Tok::Str(raw) => bytes_to_string(unescape(raw)),
            Tok::Word(w) if !is_record_keyword(w) => bytes_to_string(w.to_vec()),
            _ => return self.bad_record(start, "failover peer name"),
        };
        if !matches!(self.tok()?, Tok::Word(b"state")) || !matches!(self.tok()?, Tok::LBrace) {
            return self.bad_record(start, "expected `state {`");
        }
        let mut my: Option<(FailoverState, u32)> = None;
        let mut partner: Option<(FailoverState, u32)> = None;
        let mut mclt = None;
        loop {
            self.skip_ws();
            let stmt = self.pos;
            let w = match self.tok()? {
                Tok::RBrace => break,
                Tok::Semi => continue,
                Tok::Word(w) => w,
                Tok::LBrace | Tok::Str(_) | Tok::BadStr => {
                    self.warn(stmt, || WarningKind::Unexpected);
                    self.pos = stmt;
                    self.skip_statement()?;
                    continue;
                }
            };
            let r = match w {
                b"my" => self.peer_state().map(|s| my = Some(s)),
                // The man page spells it `peer state`; dhcpd writes `partner state`.
                b"partner" | b"peer" => self.peer_state().map(|s| partner = Some(s)),
                b"mclt" => self
                    .word("mclt")
                    .and_then(|n| parse_u32(n).ok_or(Stop::Bad("mclt")))
                    .and_then(|n| self.semi("mclt").map(|()| mclt = Some(n))),
                w if is_record_keyword(w) => {
                    self.warn(start, || WarningKind::Unterminated);
                    self.pos = stmt;
                    return Ok(());
                }
                w => {
                    self.unknown(stmt, w);
                    self.pos = stmt;
                    self.skip_statement()
                }
            };
            self.recover(stmt, r)?;
        }
        if my.is_none() || partner.is_none() {
            self.warn(start, || {
                WarningKind::Malformed("failover state block without my/partner state (unknown-state used)")
            });
        }
        let (my_state, my_stos) = my.unwrap_or((FailoverState::UNKNOWN, 0));
        let (partner_state, partner_stos) = partner.unwrap_or((FailoverState::UNKNOWN, 0));
        (self.each)(Entry::FailoverState(FailoverStateRecord {
            peer,
            my_state,
            my_stos,
            partner_state,
            partner_stos,
            mclt,
        }));
        Ok(())
    }

    /// After `my`/`partner`: `state NAME at TIME;`.
    fn peer_state(&mut self) -> R<(FailoverState, u32)> {
        self.keyword(b"state", "failover state")?;
        let name = self.word("failover state name")?;
        let s = FailoverState::from_name(name).ok_or(Stop::Bad("failover state name"))?;
        self.keyword(b"at", "failover state time")?;
        let t = self.time()?.unwrap_or(NEVER);
        Ok((s, t))
    }

    // ---- host --------------------------------------------------------------------

    fn host(&mut self, start: usize) -> R<()> {
        let name = match self.tok()? {
            Tok::Str(raw) => bytes_to_string(unescape(raw)),
            Tok::Word(w) if !is_record_keyword(w) => bytes_to_string(w.to_vec()),
            _ => return self.bad_record(start, "host name"),
        };
        if !matches!(self.tok()?, Tok::LBrace) {
            return self.bad_record(start, "expected `{` after host name");
        }
        let mut h = HostRecord { name, hardware: None, uid: None, fixed_address: None, deleted: false };
        loop {
            self.skip_ws();
            let stmt = self.pos;
            let w = match self.tok()? {
                Tok::RBrace => break,
                Tok::Semi => continue,
                Tok::Word(w) => w,
                Tok::LBrace | Tok::Str(_) | Tok::BadStr => {
                    self.warn(stmt, || WarningKind::Unexpected);
                    self.pos = stmt;
                    self.skip_statement()?;
                    continue;
                }
            };
            let r = match w {
                b"dynamic" => self.semi("dynamic"),
                b"deleted" => self.semi("deleted").map(|()| h.deleted = true),
                b"hardware" => self.hardware().map(|hw| h.hardware = Some(hw)),
                b"uid" => self.uid().map(|u| h.uid = u),
                b"fixed-address" => self.fixed_address().map(|a| h.fixed_address = Some(a)),
                w if is_record_keyword(w) => {
                    self.warn(start, || WarningKind::Unterminated);
                    self.pos = stmt;
                    return Ok(());
                }
                w => {
                    self.unknown(stmt, w);
                    self.pos = stmt;
                    self.skip_statement()
                }
            };
            self.recover(stmt, r)?;
        }
        (self.each)(Entry::Host(h));
        Ok(())
    }

    /// `fixed-address A[, B …];` → the first address (dhcpd writes one per OMAPI host).
    fn fixed_address(&mut self) -> R<Ipv4Addr> {
        let mut first = None;
        loop {
            let w = self.word("fixed-address")?;
            for part in w.split(|&c| c == b',').filter(|p| !p.is_empty()) {
                let ip = parse_ipv4(part).ok_or(Stop::Bad("fixed-address"))?;
                first.get_or_insert(ip);
            }
            self.skip_ws();
            match self.b.get(self.pos) {
                None => return Err(Stop::Eof),
                Some(b';') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => {}
            }
        }
        first.ok_or(Stop::Bad("fixed-address"))
    }
}

// ---- value parsers (pure) ----------------------------------------------------------

fn bytes_to_string(v: Vec<u8>) -> String {
    match String::from_utf8(v) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Decode a string's escapes as dhcpd's lexer does: `\t \r \n \b`, octal `\ooo` (1–3
/// digits), hex `\xHH` (1–2 digits), and `\c` = `c` for any other byte.
pub(crate) fn unescape(raw: &[u8]) -> Vec<u8> {
    if !raw.contains(&b'\\') {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = raw.get(i) else {
            break;
        };
        i += 1;
        match e {
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b'b' => out.push(8),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                            n += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 {
                    match raw.get(i).and_then(|&d| hex_val(d)) {
                        Some(d) => {
                            v = v * 16 + u32::from(d);
                            i += 1;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.push(b'x');
                } else {
                    out.push((v & 0xff) as u8);
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `52:54:0:aa` → bytes (1 or 2 hex digits per octet, at least one octet).
pub(crate) fn parse_hex_colon(w: &[u8]) -> Option<Vec<u8>> {
    if w.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(w.len().div_ceil(3));
    for part in w.split(|&c| c == b':') {
        let v = match part {
            [a] => hex_val(*a)?,
            [a, b] => hex_val(*a)? * 16 + hex_val(*b)?,
            _ => return None,
        };
        out.push(v);
    }
    Some(out)
}

pub(crate) fn parse_u32(w: &[u8]) -> Option<u32> {
    if w.is_empty() || w.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in w {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    u32::try_from(v).ok()
}

pub(crate) fn parse_ipv4(w: &[u8]) -> Option<Ipv4Addr> {
    let mut o = [0u8; 4];
    let mut n = 0;
    for part in w.split(|&c| c == b'.') {
        if n == 4 || part.is_empty() || part.len() > 3 {
            return None;
        }
        let v = parse_u32(part)?;
        o[n] = u8::try_from(v).ok()?;
        n += 1;
    }
    (n == 4).then_some(Ipv4Addr::from(o))
}

/// Split `a/b/c` (or `a:b:c`) into three numbers.
fn three(w: &[u8], sep: u8) -> Option<(u32, u32, u32)> {
    let mut it = w.split(|&c| c == sep);
    let a = parse_u32(it.next()?)?;
    let b = parse_u32(it.next()?)?;
    let c = parse_u32(it.next()?)?;
    it.next().is_none().then_some((a, b, c))
}

/// `YYYY/MM/DD` + `HH:MM:SS` (UTC) → Unix seconds.
fn parse_date(date: &[u8], clock: &[u8]) -> Option<u32> {
    let (y, mo, d) = three(date, b'/')?;
    let (h, mi, s) = three(clock, b':')?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // dhcpd accepts years counted from 1900 (e.g. 126 = 2026).
    let y = i64::from(if y < 1900 { y + 1900 } else { y });
    timegm(y, mo, d, h, mi, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_ipv4(b"10.9.0.105"), Some(Ipv4Addr::new(10, 9, 0, 105)));
        assert_eq!(parse_ipv4(b"10.9.0"), None);
        assert_eq!(parse_ipv4(b"10.9.0.256"), None);
        assert_eq!(parse_ipv4(b"1.2.3.4.5"), None);
        assert_eq!(parse_hex_colon(b"52:54:0:aa"), Some(vec![0x52, 0x54, 0, 0xaa]));
        assert_eq!(parse_hex_colon(b"52::aa"), None);
        assert_eq!(unescape(br"\001RT\000\252\273\020"), vec![1, b'R', b'T', 0, 0xaa, 0xbb, 0x10]);
        assert_eq!(unescape(br#"a\"b\\c\x41\t"#), b"a\"b\\cA\t".to_vec());
        assert_eq!(parse_date(b"2026/11/25", b"12:40:35"), Some(1_795_610_435));
        assert_eq!(parse_u32(b"4294967296"), None);
    }
}
