//! First parsing stage: the shape every dhcpd.conf statement shares.
//!
//! A statement is a list of tokens ended by `;`, or by a `{ ... }` block of statements.
//! Cutting the file into such statements first gives error recovery for free: a
//! statement the second stage cannot understand is reported and skipped as a whole,
//! and reading goes on with the next one. `include "file";` is resolved here, so the
//! second stage sees one tree whatever the file layout.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Loader;
use crate::error::{ConfigError, ErrorKind, Span};
use crate::lexer::{Token, TokenKind, tokenize};

/// Deepest `{` nesting accepted; real configurations use four or five levels.
pub(crate) const MAX_NESTING: usize = 64;
/// Deepest include chain accepted.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 16;

/// One statement: its tokens up to the terminator, and its block if it has one.
#[derive(Debug, Clone)]
pub(crate) struct RawStmt {
    /// The tokens before the `;` or `{`.
    pub tokens: Vec<Token>,
    /// The position of the terminating `;` or `{` (or of the end of file).
    pub end: Span,
    /// Text describing the terminator in errors (`';'`, `'{'`, `end of file`).
    pub end_text: &'static str,
    /// The block's statements, when the statement ended with `{`.
    pub block: Option<Vec<RawStmt>>,
}

impl RawStmt {
    /// Whether the statement was properly ended by `;` (not by `}` or end of file).
    pub fn ends_with_semicolon(&self) -> bool {
        self.block.is_none() && self.end_text == "';'"
    }

    /// The position of the statement (its first token, else its terminator).
    pub fn span(&self) -> &Span {
        self.tokens.first().map_or(&self.end, |t| &t.span)
    }
}

/// `stmts` as one line of dhcpd.conf text, their tokens separated by one blank (none
/// before `,` and `)` or after `(` and `!`), `;` after a statement, `{ ... }` around a
/// block: a canonical spelling of statements, whatever blanks and lines the source had
/// (strings keep their quotes and escapes).
pub(crate) fn statements_text(stmts: &[RawStmt]) -> String {
    let mut out = String::new();
    for s in stmts {
        if !out.is_empty() {
            out.push(' ');
        }
        for (i, t) in s.tokens.iter().enumerate() {
            // dhcpd's own spacing: `f (a, b)`, `a != b`.
            let glued = matches!(t.kind, TokenKind::Comma | TokenKind::RParen)
                || i.checked_sub(1)
                    .and_then(|p| s.tokens.get(p))
                    .is_some_and(|p| matches!(p.kind, TokenKind::LParen | TokenKind::Bang));
            if i > 0 && !glued {
                out.push(' ');
            }
            out.push_str(&t.text);
        }
        match &s.block {
            Some(b) => {
                out.push_str(if s.tokens.is_empty() { "{ " } else { " { " });
                let inner = statements_text(b);
                if !inner.is_empty() {
                    out.push_str(&inner);
                    out.push(' ');
                }
                out.push('}');
            }
            None => out.push(';'),
        }
    }
    out
}

/// Reads files into statement trees, following includes.
pub(crate) struct Reader<'a> {
    loader: &'a dyn Loader,
    /// The include chain being read, to detect cycles.
    stack: Vec<PathBuf>,
    /// Set when nesting got too deep: the rest of the input is dropped, and the
    /// enclosing blocks must not each report themselves unclosed.
    aborted: bool,
    /// Set while reading a file that had a lexical error.
    drop_eof_statement: bool,
    pub errors: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    pub fn new(loader: &'a dyn Loader) -> Self {
        Reader { loader, stack: Vec::new(), aborted: false, drop_eof_statement: false, errors: Vec::new() }
    }

    /// Reads the top-level file `name` whose text is already loaded.
    pub fn read_root(&mut self, name: &str, text: &str) -> Vec<RawStmt> {
        self.read_source(Path::new(name), text)
    }

    fn read_source(&mut self, path: &Path, text: &str) -> Vec<RawStmt> {
        let file: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
        let errors_before = self.errors.len();
        let tokens = tokenize(&file, text, &mut self.errors);
        self.stack.push(path.to_path_buf());
        let mut pos = 0;
        let last_line = text.rsplit('\n').next().unwrap_or_default();
        let eof = Span {
            file: Arc::clone(&file),
            line: u32::try_from(text.matches('\n').count() + 1).unwrap_or(u32::MAX),
            column: u32::try_from(last_line.chars().count() + 1).unwrap_or(u32::MAX),
        };
        // After a lexical error (an unterminated string eats the rest of the file) the
        // statement cut by the end of file would only repeat that error.
        let saved = std::mem::replace(&mut self.drop_eof_statement, self.errors.len() > errors_before);
        let mut stmts = Vec::new();
        loop {
            self.statements(&tokens, &mut pos, 0, &eof, None, &mut stmts);
            // At top level a stray `}` is reported and skipped; reading goes on.
            match tokens.get(pos) {
                Some(t) => {
                    self.errors.push(ConfigError::new(&t.span, ErrorKind::UnexpectedCloseBrace));
                    pos += 1;
                }
                None => break,
            }
        }
        self.stack.pop();
        self.drop_eof_statement = saved;
        stmts
    }

    /// Reads statements until a `}` (left unconsumed) or the end of the tokens.
    /// `opened` is the span of the `{` of the enclosing block, for the unclosed-block error.
    fn statements(
        &mut self,
        tokens: &[Token],
        pos: &mut usize,
        depth: usize,
        eof: &Span,
        opened: Option<&Span>,
        out: &mut Vec<RawStmt>,
    ) {
        let mut current: Vec<Token> = Vec::new();
        loop {
            let Some(tok) = tokens.get(*pos) else {
                if !current.is_empty() && !self.drop_eof_statement {
                    out.push(RawStmt {
                        tokens: std::mem::take(&mut current),
                        end: eof.clone(),
                        end_text: "end of file",
                        block: None,
                    });
                }
                if let Some(open) = opened.filter(|_| !self.aborted) {
                    self.errors.push(ConfigError::new(eof, ErrorKind::UnclosedBlock { opened: open.clone() }));
                }
                return;
            };
            match tok.kind {
                TokenKind::Semi => {
                    *pos += 1;
                    if current.is_empty() {
                        continue; // a lone `;` is harmless
                    }
                    let stmt = RawStmt {
                        tokens: std::mem::take(&mut current),
                        end: tok.span.clone(),
                        end_text: "';'",
                        block: None,
                    };
                    self.push_or_include(stmt, out);
                }
                TokenKind::LBrace => {
                    *pos += 1;
                    if depth + 1 > MAX_NESTING {
                        self.errors.push(ConfigError::new(&tok.span, ErrorKind::NestingTooDeep { max: MAX_NESTING }));
                        // Skip the whole remaining input: recursing further is what we refuse.
                        *pos = tokens.len();
                        self.aborted = true;
                        return;
                    }
                    let mut block = Vec::new();
                    self.statements(tokens, pos, depth + 1, eof, Some(&tok.span), &mut block);
                    if matches!(tokens.get(*pos), Some(t) if t.kind == TokenKind::RBrace) {
                        *pos += 1;
                    }
                    out.push(RawStmt {
                        tokens: std::mem::take(&mut current),
                        end: tok.span.clone(),
                        end_text: "'{'",
                        block: Some(block),
                    });
                }
                TokenKind::RBrace => {
                    if !current.is_empty() {
                        out.push(RawStmt {
                            tokens: std::mem::take(&mut current),
                            end: tok.span.clone(),
                            end_text: "'}'",
                            block: None,
                        });
                    }
                    // Closes the enclosing block; at top level the caller reports it.
                    return;
                }
                _ => {
                    current.push(tok.clone());
                    *pos += 1;
                }
            }
        }
    }

    /// Pushes `stmt`, or replaces an `include "file";` by the statements of that file.
    fn push_or_include(&mut self, stmt: RawStmt, out: &mut Vec<RawStmt>) {
        let is_include = stmt.tokens.first().and_then(Token::word).is_some_and(|w| w.eq_ignore_ascii_case("include"));
        if !is_include {
            out.push(stmt);
            return;
        }
        let name = match stmt.tokens.as_slice() {
            [_, Token { kind: TokenKind::Str(bytes), .. }] => String::from_utf8_lossy(bytes).into_owned(),
            _ => {
                // Malformed include: the second stage reports it with context.
                out.push(stmt);
                return;
            }
        };
        let span = stmt.span().clone();
        let base = self.stack.last().and_then(|p| p.parent()).map(Path::to_path_buf).unwrap_or_default();
        let path = base.join(&name);
        if self.stack.iter().any(|p| p == &path) {
            self.errors.push(ConfigError::new(&span, ErrorKind::IncludeCycle { path: path.display().to_string() }));
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.errors.push(ConfigError::new(
                &span,
                ErrorKind::IncludeTooDeep { path: path.display().to_string(), max: MAX_INCLUDE_DEPTH },
            ));
            return;
        }
        match self.loader.load(&path) {
            Ok(text) => {
                let stmts = self.read_source(&path, &text);
                out.extend(stmts);
            }
            Err(e) => self.errors.push(ConfigError::new(
                &span,
                ErrorKind::IncludeFailed { path: path.display().to_string(), reason: e.to_string() },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryLoader;

    fn read(text: &str, loader: &MemoryLoader) -> (Vec<RawStmt>, Vec<ConfigError>) {
        let mut r = Reader::new(loader);
        let s = r.read_root("/etc/dhcpd.conf", text);
        (s, r.errors)
    }

    #[test]
    fn statements_and_blocks() {
        let (s, e) = read("a 1; b { c; d { } } e;", &MemoryLoader::default());
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(s.len(), 3);
        let b = s[1].block.as_ref().map(Vec::len);
        assert_eq!(b, Some(2));
    }

    #[test]
    fn include_relative_and_cycle() {
        let mut l = MemoryLoader::default();
        l.insert("/etc/sub/a.conf", "x 1; include \"b.conf\";");
        l.insert("/etc/sub/b.conf", "y 2; include \"a.conf\";");
        let (s, e) = read("include \"sub/a.conf\"; z;", &l);
        let heads: Vec<_> = s.iter().map(|s| s.tokens[0].text.clone()).collect();
        assert_eq!(heads, ["x", "y", "z"]);
        assert_eq!(e.len(), 1);
        assert!(matches!(e[0].kind, ErrorKind::IncludeCycle { .. }), "{e:?}");
        assert_eq!(&*e[0].span.file, "/etc/sub/b.conf");
    }

    #[test]
    fn missing_include_and_unclosed_block() {
        let (_, e) = read("include \"nope\";\nsubnet {\n", &MemoryLoader::default());
        assert_eq!(e.len(), 2);
        assert!(matches!(e[0].kind, ErrorKind::IncludeFailed { .. }));
        assert!(matches!(e[1].kind, ErrorKind::UnclosedBlock { .. }));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let text = "{".repeat(100_000);
        let (_, e) = read(&text, &MemoryLoader::default());
        assert!(e.iter().any(|e| matches!(e.kind, ErrorKind::NestingTooDeep { .. })));
    }

    #[test]
    fn stray_close_brace() {
        let (s, e) = read("a; } b;", &MemoryLoader::default());
        assert_eq!(s.len(), 2);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, ErrorKind::UnexpectedCloseBrace);
    }
}
