//! A native reader for the ISC dhcpd.conf dialect, producing a validated [`Config`].
//!
//! Reading goes through four stages, each in its own module:
//! 1. `lexer`: text to tokens (words, strings, punctuation) with positions;
//! 2. `syntax`: tokens to a tree of generic statements, `include` resolved through a
//!    [`Loader`];
//! 3. `parser`: statements to a typed AST, option values encoded to wire bytes;
//! 4. `lower` + `validate`: the AST to the public [`model`], inheritance flattened,
//!    semantic checks applied.
//!
//! Every problem is a [`ConfigError`] with `file:line:column`. Syntax errors are
//! collected over the whole file (a bad statement is skipped up to its `;` or block);
//! semantic checks run only on a file without syntax errors, so that a broken
//! declaration does not cause a cascade of follow-up errors.
//!
//! ```
//! use dhcp_config::{parse_str, MemoryLoader};
//! let text = "subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.10 10.0.0.20; }";
//! let parsed = parse_str("dhcpd.conf", text, &MemoryLoader::default()).unwrap();
//! assert_eq!(parsed.config.shared_networks[0].pools[0].ranges[0].len(), 11);
//! ```

pub mod error;
pub mod expr;
mod keywords;
mod lexer;
mod lower;
pub mod model;
pub mod options;
mod parser;
mod syntax;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigErrors, ErrorKind, Span, Warning, WarningKind};
pub use expr::{AnyExpr, BoolExpr, DataExpr, FnStmt, Function, HostLookup, NumExpr, OptionRef, Packet, Val, Vars};
pub use model::{
    Action, AddrRange, Class, ClientUpdates, Command, Config, DdnsParams, DdnsUpdateStyle, Dynamic, Effective, Effects,
    Events, FailoverPeer, Flag, HeaderField, Host, HostAddr, InterfaceBinding, Key, KeyAlgorithm, LogLevel,
    NameFailure, NamedValue, OptionSpace, PeerAddress, PeerTls, Permit, Pool, Role, ScopeKey, SharedNetwork,
    SpaceOptionValue, Subclass, Subnet, SwitchArm, SwitchValue, Target, ValuePart, Zone, encapsulate, split_to_hba,
};

/// Reads included files. A trait so tests (and fuzzing) read from memory.
pub trait Loader {
    /// Returns the text of `path` (already resolved against the including file).
    fn load(&self, path: &Path) -> std::io::Result<String>;

    /// The server's host name, for `gethostname()` in expressions (read once per load,
    /// not per packet); `None` when unknown (the expression is then null).
    fn hostname(&self) -> Option<Vec<u8>> {
        None
    }
}

/// Reads files from the file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn hostname(&self) -> Option<Vec<u8>> {
        // What gethostname(2) returns; dhcpd keeps at most 255 bytes of it.
        let name = std::fs::read("/proc/sys/kernel/hostname").ok()?;
        let name = name.strip_suffix(b"\n").unwrap_or(&name);
        Some(name.get(..255).unwrap_or(name).to_vec())
    }
}

/// Reads files from an in-memory map of path to text.
#[derive(Debug, Clone, Default)]
pub struct MemoryLoader {
    files: HashMap<PathBuf, String>,
}

impl MemoryLoader {
    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }
}

impl Loader for MemoryLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.files.get(path).cloned().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }
}

/// A loaded configuration and the warnings found while checking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The validated configuration.
    pub config: Config,
    /// Problems that do not prevent running (e.g. an unused failover peer).
    pub warnings: Vec<Warning>,
}

/// Reads and validates the configuration file at `path`; includes are read from the
/// file system relative to the including file.
pub fn parse_file(path: &Path) -> Result<Parsed, ConfigErrors> {
    let name = path.to_string_lossy();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&name, &text, &FsLoader),
        Err(e) => Err(ConfigErrors {
            errors: vec![ConfigError::new(
                &Span::start_of(&name),
                ErrorKind::IncludeFailed { path: name.to_string(), reason: e.to_string() },
            )],
            warnings: Vec::new(),
        }),
    }
}

/// Reads and validates configuration `text`, named `name` in messages and used as the
/// base for relative includes, which `loader` reads.
pub fn parse_str(name: &str, text: &str, loader: &dyn Loader) -> Result<Parsed, ConfigErrors> {
    let mut reader = syntax::Reader::new(loader);
    let stmts = reader.read_root(name, text);
    let mut parser = parser::Parser::new();
    parser.hostname = loader.hostname();
    let items = parser.parse(&stmts);
    let mut errors = reader.errors;
    errors.extend(parser.errors);
    let mut warnings = parser.warnings;
    if !errors.is_empty() {
        return Err(ConfigErrors { errors, warnings });
    }
    let (mut config, info) = lower::lower(&items);
    config.classes = std::mem::take(&mut parser.classes);
    config.host_lookups = std::mem::take(&mut *parser.funcs.hosts.borrow_mut());
    lower::class_enclosing(&mut config.classes, &info);
    validate::validate(&config, &info, &mut errors, &mut warnings);
    if errors.is_empty() { Ok(Parsed { config, warnings }) } else { Err(ConfigErrors { errors, warnings }) }
}

/// Fuzzing entry point: parses arbitrary bytes (lossily decoded as UTF-8) with no
/// include files available. It must never panic, whatever the input.
pub fn fuzz_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = parse_str("fuzz.conf", &text, &MemoryLoader::default());
}
