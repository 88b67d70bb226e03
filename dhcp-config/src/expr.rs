//! dhcp-eval(5) expressions: compiled once, when the configuration is read, into a
//! typed tree; evaluated for each packet with no text work.
//!
//! Three types, as in dhcpd: boolean, data and numeric. Type errors are found at load
//! (`option x = extract-int(...)`-like mix-ups are refused with their position), so
//! evaluation only ever meets well-typed trees. Evaluation follows dhcpd's
//! `evaluate_*_expression` (common/tree.c): a value may be *null* (a missing option, an
//! out-of-range `packet`), booleans are three-valued (`and`/`or` as dhcpd combines
//! nulls), and an `if` or `match if` whose condition is null counts as false.
//!
//! Bounds: a tree is at most [`MAX_DEPTH`] deep (refused at load otherwise), and every
//! data value is at most [`MAX_VALUE`] bytes (a larger one evaluates to null), so a
//! hostile packet cannot make evaluation allocate without bound, loop or panic.

use std::borrow::Cow;

use crate::error::{ConfigError, ErrorKind, Span};
use crate::lexer::{Token, TokenKind};
use crate::options::{OptionTable, OptionType};

/// Deepest expression accepted (nesting of operators and function calls).
pub const MAX_DEPTH: usize = 32;
/// Largest data value an evaluation produces; larger results are null.
pub const MAX_VALUE: usize = 65_535;

/// Which packet option an expression reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionRef {
    /// A DHCP option (RFC 2132 code), with dhcpd's treatment of text options: trailing
    /// NULs removed (`strip_nuls`, RFC 2132 section 2).
    Dhcp { code: u8, strip_nuls: bool },
    /// A sub-option inside a DHCP option: of the relay agent information option (82),
    /// `agent.circuit-id` (1), `agent.remote-id` (2), ...; or of an option space that an
    /// option encapsulates (`option NAME code N = encapsulate SPACE;`, e.g. iPXE's 175),
    /// `SPACE.NAME` read from the client's option N, with the space's widths.
    Sub { outer: u8, code: u32, code_width: u8, length_width: u8, strip_nuls: bool },
    /// A sub-option of a space that a sub-option encapsulates, itself in a DHCP option:
    /// `option SPACE.NAME code N = encapsulate INNER;` with SPACE encapsulated by DHCP
    /// option `outer` (e.g. ONIE's options in vendor 42623 of RFC 3925's option 125):
    /// `INNER.NAME` read from sub-option `via` of `outer` (SPACE's widths), then as
    /// sub-option `code` there (INNER's widths). dhcpd parses the packet's encapsulations
    /// the same way, level by level.
    Nested { outer: u8, via: SubCode, code: SubCode, strip_nuls: bool },
}

/// A sub-option's code in its space, with the space's code and length widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubCode {
    pub code: u32,
    pub code_width: u8,
    pub length_width: u8,
}

impl OptionRef {
    /// A relay agent information sub-option.
    pub const fn agent(code: u8) -> Self {
        OptionRef::Sub { outer: 82, code: code as u32, code_width: 1, length_width: 1, strip_nuls: false }
    }
}

/// A boolean expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoolExpr {
    /// `a = b` (`negate`: `a != b`) on data.
    DataEq { left: Box<DataExpr>, right: Box<DataExpr>, negate: bool },
    /// `a = b` (`negate`: `a != b`) on numbers.
    NumEq { left: Box<NumExpr>, right: Box<NumExpr>, negate: bool },
    /// `a and b`
    And(Box<BoolExpr>, Box<BoolExpr>),
    /// `a or b`
    Or(Box<BoolExpr>, Box<BoolExpr>),
    /// `not a`
    Not(Box<BoolExpr>),
    /// `exists OPTION`: the client sent the option.
    Exists(OptionRef),
    /// `known`: a host declaration matches the client.
    Known,
    /// `static`: the lease is a fixed address of a host declaration.
    Static,
    /// `data ~= "regex"` (`~~`: case-insensitive).
    Matches(Box<DataExpr>, Pattern),
    /// A variable where a boolean is expected (dhcpd accepts it: `match if true;` reads
    /// a variable named `true`): its value when it holds a boolean (a function's
    /// argument or local), else null ("binding type ... in evaluate_boolean_expression").
    Variable(String),
    /// `defined (NAME)`: whether a variable or function of that name has a value.
    Defined { name: String, func: std::sync::Arc<FnSlot> },
    /// `a = b` / `a != b` where a side is a variable or a function call: dhcpd compares
    /// the two values with their own types (tree.c expr_equal through
    /// evaluate_expression): different types are unequal, two nulls equal.
    DynEq { left: Box<AnyExpr>, right: Box<AnyExpr>, negate: bool },
    /// A function call where a boolean is expected: dhcpd runs the function and then
    /// yields null whatever it returned (its evaluate_boolean_expression leaves the
    /// funcall case through the "bogus opcode" exit), so only its effects count.
    Call(Box<Call>),
}

/// A regular expression of `~=` / `~~`, compiled at load. dhcpd compiles POSIX extended
/// regular expressions (regcomp with REG_EXTENDED) on C strings; this is the `regex`
/// crate's syntax on bytes with Unicode off (a `.` is one byte, as in dhcpd's C locale),
/// which reads the same for the patterns people write (`^MSFT`, `[0-9]+`,
/// `[[:alpha:]]`). A pattern it cannot compile is refused at load.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    case_insensitive: bool,
    re: regex::bytes::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.case_insensitive == other.case_insensitive
    }
}

impl Eq for Pattern {}

impl Pattern {
    /// Compiles `source` (`~~`: `case_insensitive`).
    pub fn new(source: &str, case_insensitive: bool) -> Result<Self, String> {
        let re = regex::bytes::RegexBuilder::new(source)
            .unicode(false)
            .case_insensitive(case_insensitive)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Pattern { source: source.to_string(), case_insensitive, re })
    }

    /// Whether the pattern matches `data` up to its first NUL (regexec reads a C string).
    pub fn is_match(&self, data: &[u8]) -> bool {
        let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
        self.re.is_match(data.get(..end).unwrap_or_default())
    }
}

/// A data expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataExpr {
    /// A string or a colon-separated hex list.
    Const(Vec<u8>),
    /// `null`
    Null,
    /// `option NAME`: the option as the client sent it.
    Option(OptionRef),
    /// `hardware`: htype, then chaddr (hlen bytes).
    Hardware,
    /// `substring (data, offset, length)`
    Substring(Box<DataExpr>, Box<NumExpr>, Box<NumExpr>),
    /// `suffix (data, length)`
    Suffix(Box<DataExpr>, Box<NumExpr>),
    /// `lcase (data)`
    Lcase(Box<DataExpr>),
    /// `ucase (data)`
    Ucase(Box<DataExpr>),
    /// `concat (a, b, ...)`, as nested pairs.
    Concat(Box<DataExpr>, Box<DataExpr>),
    /// `binary-to-ascii (base, width, separator, data)`
    BinaryToAscii { base: Box<NumExpr>, width: Box<NumExpr>, separator: Box<DataExpr>, data: Box<DataExpr> },
    /// `encode-int (number, 8|16|32)`
    EncodeInt(Box<NumExpr>, u8),
    /// `packet (offset, length)`: bytes of the raw packet.
    Packet(Box<NumExpr>, Box<NumExpr>),
    /// `pick-first-value (a, b, ...)`: the first that is not null.
    PickFirst(Vec<DataExpr>),
    /// `reverse (width, data)`: the data's groups of `width` bytes in reverse order.
    Reverse(Box<NumExpr>, Box<DataExpr>),
    /// `leased-address`: the address being offered or acknowledged (null before there
    /// is one, e.g. in a class's match).
    LeasedAddress,
    /// `host-decl-name`: the name of the lease's host declaration (null without one).
    HostDeclName,
    /// A variable (`set NAME = ...;`): its value in this request, else in the lease's
    /// binding scope, else null.
    Variable(String),
    /// `filename`: the `file` field of the client's packet, up to its first NUL; null
    /// when it is empty (tree.c expr_filename).
    Filename,
    /// `server-name`: the `sname` field of the client's packet, likewise.
    ServerName,
    /// `gethostname()`: the server's host name, read when the configuration is loaded
    /// (null when it could not be read, as dhcpd's failed gethostname()).
    Hostname(Option<Vec<u8>>),
    /// `gethostbyname ("NAME")`: the name's IPv4 addresses as last looked up (see
    /// [`HostLookup`]).
    HostLookup(std::sync::Arc<HostLookup>),
    /// A function call where data is expected: run for its effects, then null, as in
    /// dhcpd (see [`BoolExpr::Call`]); but an option's value that is a call alone is
    /// the call's value (dhcpd's store_options ignores the failure the evaluation
    /// reports after copying the value): [`DataExpr::set_value`].
    Call(Box<Call>),
}

/// A numeric expression (dhcpd's are 32-bit unsigned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumExpr {
    /// A decimal number.
    Const(u32),
    /// `extract-int (data, 8|16|32)`: a big-endian integer from the data's first bytes.
    ExtractInt(Box<DataExpr>, u8),
    /// `a + b`, `a * b`, `a / b`, `a % b`, `a & b`, `a | b`, `a ^ b` (dhcpd has no usable
    /// `-`: see `peek_op`).
    Arith(ArithOp, Box<NumExpr>, Box<NumExpr>),
    /// A variable where a number is expected: its value when it holds a number (a
    /// function's argument or local), else null.
    Variable(String),
    /// `lease-time`: seconds from now to the end of the lease being answered, as the
    /// lease stands before this request changes it (dhcpd's expr_lease_time: null without
    /// a lease or when its end has passed, so for a free lease being offered).
    LeaseTime,
    /// `client-state`: the DHCP client's state, which a server has none of: always
    /// null in dhcpd's server (tree.c expr_client_state without a client_state).
    ClientState,
    /// A function call where a number is expected: run, then null (see [`BoolExpr::Call`]).
    Call(Box<Call>),
}

/// An expression of any of the three types: a function's argument or return value,
/// a `set` inside a function, an `eval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyExpr {
    Bool(BoolExpr),
    Data(DataExpr),
    Num(NumExpr),
}

/// A value of any of the three types (dhcpd's binding_value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Bool(bool),
    Data(Vec<u8>),
    Num(u64),
}

/// Deepest chain of function calls evaluated; a deeper call is null. dhcpd has no
/// bound (a recursive function overflows its stack).
pub const MAX_CALL_DEPTH: u8 = 16;
/// Most function calls one evaluation of a statement's expression may make (a
/// function calling itself twice would otherwise cost 2^depth calls); further calls
/// are null.
pub const MAX_CALLS: u32 = 256;

/// A function (`define NAME (ARGS) { ... }`): its parameters and statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub params: Vec<String>,
    pub body: Vec<FnStmt>,
}

/// A statement of a function's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FnStmt {
    /// `set NAME = EXPR;`
    Set { name: String, expr: AnyExpr },
    /// `unset NAME;`
    Unset(String),
    /// `return EXPR;`: the function's value; the function ends there.
    Return(AnyExpr),
    /// `eval EXPR;` (also a bare function call).
    Eval(AnyExpr),
    /// `if C { ... } elsif ... else { ... }`
    If { cond: BoolExpr, then: Vec<FnStmt>, otherwise: Vec<FnStmt> },
    /// `log (PRIORITY, EXPR);`: logged when it runs (a null value logs nothing).
    Log { level: crate::model::LogLevel, expr: DataExpr },
    /// `execute ("PROGRAM", EXPR, ...);`: queued where the request's `execute`
    /// statements are (run off the request path by the runtime).
    Execute { program: String, args: Vec<DataExpr> },
    /// `on commit|release|expiry { ... }`: the lease takes the statements, as the same
    /// statement outside a function gives them (dhcpd's on_statement runs the same way
    /// in a function's body); they run later in the lease's scope, not the call's.
    On { events: crate::model::Events, block: std::sync::Arc<crate::model::OnBlock> },
    /// `switch (EXPR) { case VALUE: ... }`, run as outside a function (a `return` in an
    /// arm returns from the function, as dhcpd passes the result through).
    Switch { value: crate::model::SwitchValue, arms: Vec<FnArm> },
}

/// One `case` (or `default`) of a `switch` in a function's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnArm {
    /// The case's value; `None` for `default`.
    pub label: Option<crate::model::SwitchValue>,
    /// Its statements (before a `break`).
    pub body: Vec<FnStmt>,
    /// Whether a `break` ends them.
    pub breaks: bool,
}

/// Where a function's definition is found once the whole file is read (a call may
/// come before the `define`, as dhcpd runs the global definitions at start-up). Empty
/// when no function has the name: the call is then null ("no such function").
#[derive(Debug, Default)]
pub struct FnSlot(std::sync::OnceLock<Function>);

impl PartialEq for FnSlot {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for FnSlot {}

impl FnSlot {
    /// Sets the definition; false when the name was defined already.
    pub(crate) fn define(&self, f: Function) -> bool {
        self.0.set(f).is_ok()
    }

    fn get(&self) -> Option<&Function> {
        self.0.get()
    }
}

/// A `gethostbyname ("NAME")` operand. dhcpd looks the name up when it evaluates the
/// expression (its host lookup, an answer kept an hour, a failure a minute), stalling its
/// answers on a slow resolver; xdhcpd looks it up at start, after a reload and on the
/// same schedule, off the request path, and evaluates to the last answer
/// ([`crate::Config::resolve_host_lookups`]). Shared by every copy of the configuration.
#[derive(Debug, Default)]
pub struct HostLookup {
    pub name: String,
    /// The addresses, 4 bytes each (`None`: not looked up yet, or no address).
    addrs: std::sync::RwLock<Option<Vec<u8>>>,
}

impl HostLookup {
    pub(crate) fn set(&self, addrs: Option<Vec<u8>>) {
        if let Ok(mut a) = self.addrs.write() {
            *a = addrs.filter(|a| !a.is_empty());
        }
    }

    /// The addresses last looked up.
    pub fn get(&self) -> Option<Vec<u8>> {
        self.addrs.read().ok().and_then(|a| a.clone())
    }
}

impl PartialEq for HostLookup {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for HostLookup {}

/// A call of a `define`d function.
#[derive(Clone)]
pub struct Call {
    pub name: String,
    pub args: Vec<AnyExpr>,
    func: std::sync::Arc<FnSlot>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("name", &self.name).field("args", &self.args).finish()
    }
}

impl PartialEq for Call {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.args == other.args && std::sync::Arc::ptr_eq(&self.func, &other.func)
    }
}

impl Eq for Call {}

/// The variables of a function call (dhcpd's argument scope), inside the caller's.
#[derive(Debug)]
pub struct Frame<'f> {
    /// Name and value (None: bound without a value, which still hides an outer one).
    vars: std::cell::RefCell<Vec<(String, Option<Val>)>>,
    outer: Option<&'f Frame<'f>>,
}

impl Frame<'_> {
    /// The frame holding `name`, innermost first (dhcpd's find_binding: names compared
    /// without regard to case).
    fn holding(&self, name: &str) -> Option<&Frame<'_>> {
        let mut f = Some(self);
        while let Some(frame) = f {
            if frame.vars.try_borrow().is_ok_and(|v| v.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))) {
                return Some(frame);
            }
            f = frame.outer;
        }
        None
    }

    fn get(&self, name: &str) -> Option<Option<Val>> {
        let f = self.holding(name)?;
        let vars = f.vars.try_borrow().ok()?;
        vars.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    fn put(&self, name: &str, value: Option<Val>) {
        if let Ok(mut vars) = self.vars.try_borrow_mut() {
            match vars.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some(slot) => slot.1 = value,
                None => vars.push((name.to_string(), value)),
            }
        }
    }
}

/// dhcp-eval(5)'s arithmetic and bit operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Mul,
    Div,
    Rem,
    BitAnd,
    BitOr,
    BitXor,
}

impl ArithOp {
    /// dhcpd computes in `unsigned long` (64 bits here): sums and products wrap there; a
    /// division or remainder by zero is null ("divide by zero" in its debug log).
    fn apply(self, a: u64, b: u64) -> Option<u64> {
        Some(match self {
            ArithOp::Add => a.wrapping_add(b),
            ArithOp::Mul => a.wrapping_mul(b),
            ArithOp::Div => a.checked_div(b)?,
            ArithOp::Rem => a.checked_rem(b)?,
            ArithOp::BitAnd => a & b,
            ArithOp::BitOr => a | b,
            ArithOp::BitXor => a ^ b,
        })
    }
}

/// What one packet offers to expressions. Options are read from the raw bytes when an
/// expression asks for them (no decoding of the whole packet for evaluation).
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    raw: &'a [u8],
    /// Whether a host declaration matches the client (dhcp-eval's `known`).
    pub known: bool,
    /// The lease being answered, once there is one: its address, and whether it is a
    /// host's fixed address (`static`).
    lease: Option<([u8; 4], bool)>,
    /// The name of the lease's host declaration (`host-decl-name`).
    host_name: Option<&'a str>,
    /// `lease-time`: seconds left on the lease being answered, as it stands before this
    /// request (None: no lease, or its end has passed).
    lease_time: Option<u32>,
    /// The variables in force: set by this request's statements, or kept with the lease.
    vars: Option<&'a std::cell::RefCell<Vars>>,
    /// Where `execute` and `on` statements leave what they ask for.
    effects: Option<&'a std::cell::RefCell<crate::model::Effects>>,
    /// The variables of the function being run, if any (its caller's are outer).
    frame: Option<&'a Frame<'a>>,
    /// How many calls deep the evaluation is.
    depth: u8,
    /// Calls made so far by the outermost call's evaluation.
    calls: Option<&'a std::cell::Cell<u32>>,
}

/// Variables of a binding scope (dhcpd's `set`): name and value (data, number or
/// boolean, as dhcpd's binding_value), in the order set. Few per lease, so a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars(pub Vec<(String, Val)>);

impl Vars {
    /// Variables with data values, in this order.
    pub fn from_data(vars: Vec<(String, Vec<u8>)>) -> Vars {
        Vars(vars.into_iter().map(|(n, d)| (n, Val::Data(d))).collect())
    }

    /// The data value of `name` (None when unset or a number or boolean).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        match self.value(name)? {
            Val::Data(d) => Some(d.as_slice()),
            Val::Bool(_) | Val::Num(_) => None,
        }
    }

    /// The value of `name`, of any type.
    pub fn value(&self, name: &str) -> Option<&Val> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets `name` to a data value (a new value keeps its place); `None` removes it
    /// (`unset`).
    pub fn set(&mut self, name: &str, value: Option<Vec<u8>>) {
        self.set_value(name, value.map(Val::Data));
    }

    /// Sets `name` to a value of any type; `None` removes it.
    pub fn set_value(&mut self, name: &str, value: Option<Val>) {
        match (self.0.iter().position(|(n, _)| n == name), value) {
            (Some(i), Some(v)) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = v;
                }
            }
            (None, Some(v)) => self.0.push((name.to_string(), v)),
            (Some(i), None) => {
                self.0.remove(i);
            }
            (None, None) => {}
        }
    }
}

/// Offset of the options after the BOOTP header and the magic cookie.
const OPTIONS_AT: usize = 240;
const COOKIE: [u8; 4] = [99, 130, 83, 99];

impl<'a> Packet<'a> {
    /// A view of a BOOTP/DHCP message as received (any bytes are fine: a malformed
    /// packet simply has fewer options).
    pub fn new(raw: &'a [u8], known: bool) -> Self {
        Packet {
            raw,
            known,
            lease: None,
            host_name: None,
            lease_time: None,
            vars: None,
            effects: None,
            frame: None,
            depth: 0,
            calls: None,
        }
    }

    /// The same request, answered with the lease of `address` (`fixed`: a host's fixed
    /// address) whose host declaration is `host_name`, if any.
    pub fn with_lease(self, address: std::net::Ipv4Addr, fixed: bool, host_name: Option<&'a str>) -> Self {
        Packet { lease: Some((address.octets(), fixed)), host_name, ..self }
    }

    /// The same request, the lease answered ending at `ends` (Unix seconds, `None`: no
    /// end recorded) as it stands before this request; `now` is the request's time. As
    /// dhcpd's expr_lease_time: `lease-time` is `ends - now`, null once `ends` has passed.
    pub fn with_lease_end(self, ends: Option<u32>, now: u32) -> Self {
        Packet { lease_time: ends.and_then(|e| e.checked_sub(now)), ..self }
    }

    /// The same request with `vars` in force (they are read by variable references and
    /// written by `set`).
    pub fn with_vars(self, vars: &'a std::cell::RefCell<Vars>) -> Self {
        Packet { vars: Some(vars), ..self }
    }

    /// The same request, `execute` and `on` statements recorded in `effects`.
    pub fn with_effects(self, effects: &'a std::cell::RefCell<crate::model::Effects>) -> Self {
        Packet { effects: Some(effects), ..self }
    }

    /// Where `execute` and `on` statements record what they ask for.
    pub fn effects(&self) -> Option<&'a std::cell::RefCell<crate::model::Effects>> {
        self.effects
    }

    /// The variables in force, to change (`set`); `None` without any (classification).
    pub fn vars(&self) -> Option<&'a std::cell::RefCell<Vars>> {
        self.vars
    }

    /// A variable's value, of any type: the innermost function call's, else the lease's
    /// binding scope's (data).
    fn lookup(&self, name: &str) -> Option<Val> {
        if let Some(v) = self.frame.and_then(|f| f.get(name)) {
            return v;
        }
        self.vars?.try_borrow().ok()?.value(name).cloned()
    }

    /// Whether `name` is bound to a value (dhcp-eval's `defined`).
    fn is_defined(&self, name: &str) -> bool {
        if let Some(v) = self.frame.and_then(|f| f.get(name)) {
            return v.is_some();
        }
        self.vars.and_then(|v| v.try_borrow().ok()).is_some_and(|v| v.value(name).is_some())
    }

    /// `set NAME = value` inside a function (dhcpd's set_statement in the call's scope):
    /// the binding found innermost first changes, a call's or the lease's; a new name is
    /// the call's own.
    fn assign(&self, name: &str, value: Option<Val>) {
        if let Some(f) = self.frame.and_then(|f| f.holding(name)) {
            f.put(name, value);
            return;
        }
        if let Some(vars) = self.vars
            && let Ok(mut vars) = vars.try_borrow_mut()
            && vars.value(name).is_some()
        {
            return vars.set_value(name, value);
        }
        if let Some(f) = self.frame {
            f.put(name, value);
        }
    }

    /// `unset NAME` inside a function.
    fn unassign(&self, name: &str) {
        match self.frame.and_then(|f| f.holding(name)) {
            Some(f) => f.put(name, None),
            None => {
                if let Some(mut vars) = self.vars.and_then(|v| v.try_borrow_mut().ok()) {
                    vars.set(name, None);
                }
            }
        }
    }

    /// The text of a BOOTP header field (`file`, `sname`) up to its first NUL; null when
    /// it starts with one.
    fn header_text(&self, at: usize, len: usize) -> Option<Cow<'a, [u8]>> {
        let field = self.raw.get(at..at + len)?;
        let end = field.iter().position(|b| *b == 0).unwrap_or(len);
        (end > 0).then(|| Cow::Borrowed(field.get(..end).unwrap_or_default()))
    }

    /// The options area, when the packet has the DHCP magic cookie.
    fn options_area(&self) -> &'a [u8] {
        match self.raw.get(OPTIONS_AT - 4..OPTIONS_AT) {
            Some(c) if c == COOKIE => self.raw.get(OPTIONS_AT..).unwrap_or_default(),
            _ => &[],
        }
    }

    /// Option `code` of an options area: its data, the instances concatenated (RFC
    /// 3396, as dhcpd stores a repeated option).
    fn find<'b>(area: &'b [u8], code: u8) -> Option<Cow<'b, [u8]>> {
        let mut found: Option<Cow<'b, [u8]>> = None;
        let mut i = 0;
        while let Some(&c) = area.get(i) {
            match c {
                0 => i += 1,
                255 => break,
                _ => {
                    let len = usize::from(*area.get(i + 1)?);
                    let data = area.get(i + 2..i + 2 + len)?;
                    if c == code {
                        found = Some(match found {
                            None => Cow::Borrowed(data),
                            Some(prev) => {
                                let mut v = prev.into_owned();
                                v.extend_from_slice(data);
                                Cow::Owned(v)
                            }
                        });
                    }
                    i += 2 + len;
                }
            }
        }
        found
    }

    /// Sub-option `code` of an encapsulated area, with the space's code and length
    /// widths (1, 2 or 4; 1 or 2); instances concatenated. A record running past the end
    /// ends the walk.
    fn find_sub<'b>(area: &'b [u8], code: u32, code_width: u8, length_width: u8) -> Option<Cow<'b, [u8]>> {
        let (cw, lw) = (usize::from(code_width), usize::from(length_width));
        let be = |b: &[u8]| b.iter().fold(0u32, |n, x| (n << 8) | u32::from(*x));
        let mut found: Option<Cow<'b, [u8]>> = None;
        let mut i = 0;
        while let Some(head) = area.get(i..i + cw + lw) {
            let (c, len) = (be(head.get(..cw)?), be(head.get(cw..)?) as usize);
            let data = area.get(i + cw + lw..i + cw + lw + len)?;
            if c == code {
                found = Some(match found {
                    None => Cow::Borrowed(data),
                    Some(prev) => {
                        let mut v = prev.into_owned();
                        v.extend_from_slice(data);
                        Cow::Owned(v)
                    }
                });
            }
            i += cw + lw + len;
        }
        found
    }

    /// The client's option, as an expression sees it.
    pub fn option(&self, r: OptionRef) -> Option<Cow<'a, [u8]>> {
        match r {
            OptionRef::Dhcp { code, strip_nuls } => {
                let v = Self::find(self.options_area(), code)?;
                if !strip_nuls {
                    return Some(v);
                }
                let keep = v.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
                Some(match v {
                    Cow::Borrowed(b) => Cow::Borrowed(b.get(..keep).unwrap_or_default()),
                    Cow::Owned(mut o) => {
                        o.truncate(keep);
                        Cow::Owned(o)
                    }
                })
            }
            OptionRef::Sub { outer, code, code_width, length_width, strip_nuls } => {
                let area = Self::find(self.options_area(), outer)?;
                let v = match area {
                    Cow::Borrowed(b) => Self::find_sub(b, code, code_width, length_width),
                    Cow::Owned(o) => {
                        Self::find_sub(&o, code, code_width, length_width).map(|v| Cow::Owned(v.into_owned()))
                    }
                }?;
                if !strip_nuls {
                    return Some(v);
                }
                let keep = v.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
                Some(Cow::Owned(v.get(..keep).unwrap_or_default().to_vec()))
            }
            OptionRef::Nested { outer, via, code, strip_nuls } => {
                let area = Self::find(self.options_area(), outer)?;
                let mid = Self::find_sub(&area, via.code, via.code_width, via.length_width)?;
                let v = Self::find_sub(&mid, code.code, code.code_width, code.length_width)?;
                let keep = if strip_nuls { v.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1) } else { v.len() };
                Some(Cow::Owned(v.get(..keep).unwrap_or_default().to_vec()))
            }
        }
    }

    /// htype then chaddr (hlen bytes), or null for an impossible hlen (dhcpd's check).
    fn hardware(&self) -> Option<Vec<u8>> {
        let htype = *self.raw.get(1)?;
        let hlen = usize::from(*self.raw.get(2)?);
        if hlen > 16 {
            return None;
        }
        let chaddr = self.raw.get(28..28 + hlen)?;
        let mut v = Vec::with_capacity(hlen + 1);
        v.push(htype);
        v.extend_from_slice(chaddr);
        Some(v)
    }
}

/// A data value in evaluation.
type Value<'a> = Option<Cow<'a, [u8]>>;

/// `d[start..end]`, borrowed when `d` is (the bounds are already clamped).
fn slice(d: Cow<'_, [u8]>, start: usize, end: usize) -> Cow<'_, [u8]> {
    match d {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(start..end).unwrap_or_default()),
        Cow::Owned(mut v) => {
            v.truncate(end);
            v.drain(..start.min(v.len()));
            Cow::Owned(v)
        }
    }
}

fn bounded(v: Vec<u8>) -> Value<'static> {
    (v.len() <= MAX_VALUE).then_some(Cow::Owned(v))
}

impl BoolExpr {
    /// Whether a variable is read somewhere in the expression.
    pub fn reads_variables(&self) -> bool {
        match self {
            BoolExpr::DataEq { left, right, .. } => left.reads_variables() || right.reads_variables(),
            BoolExpr::NumEq { left, right, .. } => left.reads_variables() || right.reads_variables(),
            BoolExpr::And(a, b) | BoolExpr::Or(a, b) => a.reads_variables() || b.reads_variables(),
            BoolExpr::Not(a) => a.reads_variables(),
            BoolExpr::Matches(d, _) => d.reads_variables(),
            BoolExpr::Exists(_) | BoolExpr::Known | BoolExpr::Static => false,
            BoolExpr::Variable(_) | BoolExpr::Defined { .. } | BoolExpr::DynEq { .. } | BoolExpr::Call(_) => true,
        }
    }

    /// The value (None: null), as dhcpd's evaluate_boolean_expression.
    pub fn eval(&self, p: &Packet<'_>) -> Option<bool> {
        match self {
            BoolExpr::DataEq { left, right, negate } => {
                // Both null count as equal, one null as different (tree.c expr_equal).
                let eq = match (left.eval(p), right.eval(p)) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => true,
                    _ => false,
                };
                Some(eq != *negate)
            }
            BoolExpr::NumEq { left, right, negate } => {
                let eq = match (left.eval(p), right.eval(p)) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => true,
                    _ => false,
                };
                Some(eq != *negate)
            }
            BoolExpr::And(a, b) => match a.eval(p) {
                // dhcpd evaluates the right side only after a true left side, and a
                // null on either side makes the whole null.
                Some(true) => b.eval(p),
                _ => None,
            },
            BoolExpr::Or(a, b) => {
                let l = a.eval(p);
                if l == Some(true) {
                    return Some(true);
                }
                match (l, b.eval(p)) {
                    (None, None) => None,
                    (l, r) => Some(l.unwrap_or(false) || r.unwrap_or(false)),
                }
            }
            BoolExpr::Not(a) => a.eval(p).map(|v| !v),
            BoolExpr::Exists(r) => Some(p.option(*r).is_some()),
            BoolExpr::Known => Some(p.known),
            BoolExpr::Static => Some(p.lease.is_some_and(|(_, fixed)| fixed)),
            // A null left side makes the match null (tree.c: `return bleft && bright`).
            BoolExpr::Matches(d, pattern) => d.eval(p).map(|v| pattern.is_match(&v)),
            BoolExpr::Variable(name) => match p.lookup(name) {
                Some(Val::Bool(b)) => Some(b),
                _ => None,
            },
            BoolExpr::Defined { name, func } => Some(p.is_defined(name) || func.get().is_some()),
            BoolExpr::DynEq { left, right, negate } => {
                let eq = match (left.value(p), right.value(p)) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => true,
                    _ => false,
                };
                Some(eq != *negate)
            }
            BoolExpr::Call(c) => {
                c.value(p);
                None
            }
        }
    }

    /// dhcpd's evaluate_boolean_expression_result: null is false (for `if` and
    /// `match if`).
    pub fn holds(&self, p: &Packet<'_>) -> bool {
        self.eval(p).unwrap_or(false)
    }
}

impl DataExpr {
    /// Whether a variable is read somewhere in the expression.
    pub fn reads_variables(&self) -> bool {
        match self {
            DataExpr::Variable(_) | DataExpr::Call(_) => true,
            DataExpr::Filename | DataExpr::ServerName | DataExpr::Hostname(_) | DataExpr::HostLookup(_) => false,
            DataExpr::Const(_)
            | DataExpr::Null
            | DataExpr::Option(_)
            | DataExpr::Hardware
            | DataExpr::LeasedAddress
            | DataExpr::HostDeclName => false,
            DataExpr::Substring(d, a, b) => d.reads_variables() || a.reads_variables() || b.reads_variables(),
            DataExpr::Suffix(d, n) | DataExpr::Reverse(n, d) => d.reads_variables() || n.reads_variables(),
            DataExpr::Lcase(d) | DataExpr::Ucase(d) => d.reads_variables(),
            DataExpr::Concat(a, b) => a.reads_variables() || b.reads_variables(),
            DataExpr::BinaryToAscii { base, width, separator, data } => {
                base.reads_variables()
                    || width.reads_variables()
                    || separator.reads_variables()
                    || data.reads_variables()
            }
            DataExpr::EncodeInt(n, _) => n.reads_variables(),
            DataExpr::Packet(a, b) => a.reads_variables() || b.reads_variables(),
            DataExpr::PickFirst(list) => list.iter().any(DataExpr::reads_variables),
        }
    }

    /// The value (None: null), as dhcpd's evaluate_data_expression. Constants and
    /// parts of the packet are borrowed, not copied.
    pub fn eval<'a>(&'a self, p: &Packet<'a>) -> Value<'a> {
        match self {
            DataExpr::Const(v) => Some(Cow::Borrowed(v.as_slice())),
            DataExpr::Null => None,
            DataExpr::Option(r) => p.option(*r),
            DataExpr::Hardware => p.hardware().map(Cow::Owned),
            DataExpr::Substring(d, off, len) => {
                let (d, off, len) = (d.eval(p)?, off.eval(p)?, len.eval(p)?);
                // Past the end: empty (not null).
                let start = usize::try_from(off).unwrap_or(usize::MAX).min(d.len());
                let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX)).min(d.len());
                Some(slice(d, start, end))
            }
            DataExpr::Suffix(d, len) => {
                let (d, len) = (d.eval(p)?, len.eval(p)?);
                let keep = usize::try_from(len).unwrap_or(usize::MAX).min(d.len());
                let start = d.len() - keep;
                let end = d.len();
                Some(slice(d, start, end))
            }
            DataExpr::Lcase(d) => Some(Cow::Owned(d.eval(p)?.to_ascii_lowercase())),
            DataExpr::Ucase(d) => Some(Cow::Owned(d.eval(p)?.to_ascii_uppercase())),
            DataExpr::Concat(a, b) => {
                let (a, b) = (a.eval(p)?, b.eval(p)?);
                if a.len() + b.len() > MAX_VALUE {
                    return None;
                }
                // Sized once: growing the left part reallocated per request.
                let mut v = Vec::with_capacity(a.len() + b.len());
                v.extend_from_slice(&a);
                v.extend_from_slice(&b);
                Some(Cow::Owned(v))
            }
            DataExpr::BinaryToAscii { base, width, separator, data } => {
                let (base, width, sep, data) = (base.eval(p)?, width.eval(p)?, separator.eval(p)?, data.eval(p)?);
                binary_to_ascii(u32::try_from(base).ok()?, u32::try_from(width).ok()?, &sep, &data).and_then(bounded)
            }
            DataExpr::EncodeInt(n, width) => {
                let n = n.eval(p)?;
                Some(Cow::Owned(match width {
                    8 => vec![n as u8],
                    16 => (n as u16).to_be_bytes().to_vec(),
                    _ => (n as u32).to_be_bytes().to_vec(),
                }))
            }
            DataExpr::Packet(off, len) => {
                let (off, len) = (off.eval(p)?, len.eval(p)?);
                let start = usize::try_from(off).ok().filter(|s| *s < p.raw.len())?;
                let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX)).min(p.raw.len());
                p.raw.get(start..end).map(Cow::Borrowed)
            }
            DataExpr::PickFirst(list) => list.iter().find_map(|d| d.eval(p)),
            DataExpr::LeasedAddress => p.lease.map(|(a, _)| Cow::Owned(a.to_vec())),
            DataExpr::HostDeclName => p.host_name.map(|n| Cow::Borrowed(n.as_bytes())),
            // Copied out: a later `set` may change the variable.
            DataExpr::Variable(name) => match p.lookup(name) {
                Some(Val::Data(d)) => Some(Cow::Owned(d)),
                _ => None,
            },
            // BOOTP's sname is 64 bytes at 44, file 128 bytes at 108.
            DataExpr::Filename => p.header_text(108, 128),
            DataExpr::ServerName => p.header_text(44, 64),
            DataExpr::Hostname(name) => name.as_deref().map(Cow::Borrowed),
            DataExpr::HostLookup(h) => h.get().map(Cow::Owned),
            DataExpr::Call(c) => {
                c.value(p);
                None
            }
            DataExpr::Reverse(width, d) => {
                let (width, d) = (width.eval(p)?, d.eval(p)?);
                // dhcpd: a width of 0 or one that does not divide the length is null.
                let w = usize::try_from(width).ok().filter(|w| *w > 0 && d.len() % *w == 0)?;
                Some(Cow::Owned(d.chunks(w).rev().flatten().copied().collect()))
            }
        }
    }
}

impl DataExpr {
    /// The value an option `= EXPR` sends, as dhcpd's evaluate_expression computes it:
    /// a call's returned value, a variable's value; a number or boolean there is null
    /// (dhcpd's data evaluator refuses a binding of another type).
    pub fn set_value(&self, p: &Packet<'_>) -> Option<Vec<u8>> {
        match self {
            DataExpr::Variable(_) | DataExpr::Call(_) => match AnyExpr::Data(self.clone()).value(p) {
                Some(Val::Data(d)) => Some(d),
                _ => None,
            },
            d => d.eval(p).map(Cow::into_owned),
        }
    }
}

impl NumExpr {
    /// Whether a variable is read somewhere in the expression.
    pub fn reads_variables(&self) -> bool {
        match self {
            NumExpr::Const(_) => false,
            NumExpr::ExtractInt(d, _) => d.reads_variables(),
            NumExpr::Arith(_, a, b) => a.reads_variables() || b.reads_variables(),
            NumExpr::Variable(_) | NumExpr::Call(_) => true,
            NumExpr::ClientState => false,
            // Not a variable, but read from the lease's state like one: the engine looks
            // the lease up for it (see `Config::uses_variables`).
            NumExpr::LeaseTime => true,
        }
    }

    /// The value (None: null). Either operand null makes an operation null, as in dhcpd.
    pub fn eval(&self, p: &Packet<'_>) -> Option<u64> {
        match self {
            NumExpr::Const(n) => Some(u64::from(*n)),
            NumExpr::ExtractInt(d, width) => {
                let d = d.eval(p)?;
                match width {
                    8 => d.first().map(|b| u64::from(*b)),
                    16 => d.get(..2).map(|b| u64::from(u16::from_be_bytes([b[0], b[1]]))),
                    _ => d.get(..4).map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
                }
            }
            NumExpr::Arith(op, a, b) => op.apply(a.eval(p)?, b.eval(p)?),
            NumExpr::Variable(name) => match p.lookup(name) {
                Some(Val::Num(n)) => Some(n),
                _ => None,
            },
            NumExpr::ClientState => None,
            NumExpr::LeaseTime => p.lease_time.map(u64::from),
            NumExpr::Call(c) => {
                c.value(p);
                None
            }
        }
    }
}

impl AnyExpr {
    /// Whether a variable is read (or a function called) somewhere in the expression.
    pub fn reads_variables(&self) -> bool {
        match self {
            AnyExpr::Bool(b) => b.reads_variables(),
            AnyExpr::Data(d) => d.reads_variables(),
            AnyExpr::Num(n) => n.reads_variables(),
        }
    }

    /// The value with its own type, as dhcpd's evaluate_expression: a variable's value
    /// whatever its type, a function's return value.
    pub fn value(&self, p: &Packet<'_>) -> Option<Val> {
        match self {
            AnyExpr::Data(DataExpr::Variable(n))
            | AnyExpr::Num(NumExpr::Variable(n))
            | AnyExpr::Bool(BoolExpr::Variable(n)) => p.lookup(n),
            AnyExpr::Data(DataExpr::Call(c)) | AnyExpr::Num(NumExpr::Call(c)) | AnyExpr::Bool(BoolExpr::Call(c)) => {
                c.value(p)
            }
            AnyExpr::Data(d) => d.eval(p).map(|v| Val::Data(v.into_owned())),
            AnyExpr::Num(n) => n.eval(p).map(Val::Num),
            AnyExpr::Bool(b) => b.eval(p).map(Val::Bool),
        }
    }
}

impl Call {
    /// Runs the function (dhcpd's evaluate_expression on a funcall): the arguments are
    /// evaluated in the caller's scope and bound to the parameters in a new scope inside
    /// it, then the body runs up to the first `return` with a value. Null when there is
    /// no such function, the argument count differs, or a bound is reached.
    pub fn value(&self, p: &Packet<'_>) -> Option<Val> {
        let f = self.func.get()?;
        if p.depth >= MAX_CALL_DEPTH {
            return None;
        }
        let own = std::cell::Cell::new(0u32);
        let calls = p.calls.unwrap_or(&own);
        if calls.get() >= MAX_CALLS {
            return None;
        }
        calls.set(calls.get() + 1);
        // dhcpd binds each argument in front of the earlier ones, so a repeated
        // parameter name reads the last.
        let mut bound: Vec<(String, Option<Val>)> = Vec::with_capacity(f.params.len());
        for (arg, name) in self.args.iter().zip(&f.params) {
            bound.insert(0, (name.clone(), arg.value(p)));
        }
        if self.args.len() != f.params.len() {
            return None;
        }
        let frame = Frame { vars: std::cell::RefCell::new(bound), outer: p.frame };
        let inner = Packet { frame: Some(&frame), depth: p.depth + 1, calls: Some(calls), ..*p };
        run_body(&f.body, &inner)
    }
}

/// A function's statements (dhcpd's execute_statements with a result): up to the first
/// `return` whose value is not null (a null one leaves the result unset, so the
/// statements after it run).
fn run_body(stmts: &[FnStmt], p: &Packet<'_>) -> Option<Val> {
    for s in stmts {
        match s {
            FnStmt::Set { name, expr } => {
                let v = expr.value(p);
                p.assign(name, v);
            }
            FnStmt::Unset(name) => p.unassign(name),
            FnStmt::Return(e) => {
                if let Some(v) = e.value(p) {
                    return Some(v);
                }
            }
            FnStmt::Eval(e) => {
                e.value(p);
            }
            FnStmt::If { cond, then, otherwise } => {
                let branch = if cond.holds(p) { then } else { otherwise };
                if let Some(v) = run_body(branch, p) {
                    return Some(v);
                }
            }
            FnStmt::Log { level, expr } => {
                if let Some(v) = expr.eval(p) {
                    let text = String::from_utf8_lossy(v.get(..1024).unwrap_or(&v));
                    match level {
                        crate::model::LogLevel::Error => tracing::error!(target: "xdhcpd::conf_log", "{text}"),
                        crate::model::LogLevel::Info => tracing::info!(target: "xdhcpd::conf_log", "{text}"),
                        crate::model::LogLevel::Debug => tracing::debug!(target: "xdhcpd::conf_log", "{text}"),
                    }
                }
            }
            FnStmt::Switch { value, arms } => {
                let start = value.start(arms.iter().map(|a| a.label.as_ref()), p);
                for arm in arms.iter().skip(start.unwrap_or(arms.len())) {
                    if let Some(v) = run_body(&arm.body, p) {
                        return Some(v);
                    }
                    if arm.breaks {
                        break;
                    }
                }
            }
            FnStmt::On { events, block } => {
                if let Some(mut fx) = p.effects().and_then(|f| f.try_borrow_mut().ok()) {
                    fx.on(*events, block);
                }
            }
            FnStmt::Execute { program, args } => {
                // A null argument is an empty one, as for the statement outside functions.
                let args: Vec<Vec<u8>> =
                    args.iter().map(|a| a.eval(p).map(Cow::into_owned).unwrap_or_default()).collect();
                if let Some(mut fx) = p.effects().and_then(|f| f.try_borrow_mut().ok()) {
                    fx.commands.push(crate::model::Command { program: program.clone(), args });
                }
            }
        }
    }
    None
}

/// dhcpd's binary-to-ascii: each `width`-bit group (8, 16 or 32) of `data` in `base`
/// (2 to 16), separated by `sep`. Other widths or bases are null, as in dhcpd.
fn binary_to_ascii(base: u32, width: u32, sep: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if !(2..=16).contains(&base) {
        return None;
    }
    let step = match width {
        8 => 1,
        16 => 2,
        32 => 4,
        _ => return None,
    };
    let digits = b"0123456789abcdef";
    let groups = data.len() / step;
    let mut out = Vec::with_capacity(groups * (2 * step + sep.len()));
    for (i, group) in data.chunks_exact(step).enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        let mut n = group.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b));
        // A group's digits, last first, on the stack: 32 is a 32-bit group in base 2
        // (this runs per request, e.g. for a host name made of the hardware address).
        let mut text = [0u8; 32];
        let mut len = 0;
        // The usual bases divide by a constant (a shift for 16), far cheaper than by a
        // variable; the digits are the same.
        let next = |n: &mut u32| {
            let d = match base {
                16 => (*n % 16, *n / 16),
                10 => (*n % 10, *n / 10),
                _ => (*n % base, *n / base),
            };
            *n = d.1;
            d.0 as usize
        };
        loop {
            let d = next(&mut n);
            if let Some(slot) = text.get_mut(len) {
                *slot = digits[d];
                len += 1;
            }
            if n == 0 {
                break;
            }
        }
        out.extend(text.iter().take(len).rev());
        if out.len() > MAX_VALUE {
            return None;
        }
    }
    Some(out)
}

/// A name dhcpd's lexer reads as one NAME: a letter, then one or more letters, digits,
/// `-`, `_`;
/// but not a letter followed by hex digits only (`x1`, `abc`), which dhcpd's lexer
/// reads as a number-or-name that its expression parser then refuses as hex (checked
/// with `dhcpd -t`; a valid hex byte such as `ab` is data, see `primary`).
pub(crate) fn is_variable_name(w: &str) -> bool {
    // One letter is a number to dhcpd's lexer ("Bogus number v", checked).
    w.len() > 1
        && w.starts_with(|c: char| c.is_ascii_alphabetic())
        && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !(w.len() > 1 && w.chars().skip(1).all(|c| c.is_ascii_hexdigit()))
}

/// Relay agent sub-options dhcpd names in its `agent` space (common/tables.c).
const AGENT_OPTIONS: &[(&str, u8)] = &[
    ("circuit-id", 1),
    ("remote-id", 2),
    ("agent-id", 3),
    ("docsis-device-class", 4),
    ("link-selection", 5),
    ("subscriber-id", 6),
];

/// dhcp-eval(5) operands xdhcpd does not evaluate yet: refused by name rather than
/// misread as a variable or a function call.
const NOT_YET: &[(&str, &str)] = &[
    (
        "config-option",
        "config-option depends on the order in which dhcpd builds the answer's options; not supported yet",
    ),
    ("encapsulate", "encapsulate SPACE (as an expression) is not supported yet"),
];

/// The functions `define`d in a configuration, by lower-case name (dhcpd compares
/// binding names without regard to case).
#[derive(Debug, Default)]
pub(crate) struct FnTable {
    funcs: std::cell::RefCell<std::collections::HashMap<String, std::sync::Arc<FnSlot>>>,
    /// The `gethostbyname` operands read so far (see [`crate::Config::host_lookups`]).
    pub(crate) hosts: std::cell::RefCell<Vec<std::sync::Arc<HostLookup>>>,
}

/// The slot of function `name` in `table`, made on first use.
pub(crate) fn fn_slot(table: &FnTable, name: &str) -> std::sync::Arc<FnSlot> {
    let mut t = table.funcs.borrow_mut();
    std::sync::Arc::clone(t.entry(name.to_ascii_lowercase()).or_default())
}

/// Reads expressions from a statement's tokens.
pub(crate) struct ExprParser<'t> {
    tokens: &'t [Token],
    pos: usize,
    /// Where the statement ends, for "expected X, found ';'".
    end: &'t Span,
    options: &'t OptionTable,
    depth: usize,
    /// Options of encapsulated spaces by (space, name), lower case.
    spaces: Option<&'t std::collections::HashMap<(String, String), OptionRef>>,
    /// The functions calls refer to (`None`: calls are refused, e.g. in tests).
    funcs: Option<&'t FnTable>,
    /// The server's host name for `gethostname()` (`None`: unknown, null).
    hostname: Option<&'t [u8]>,
    /// Where `lease-time` was read, if it was (see [`ExprParser::lease_time_at`]).
    lease_time_at: Option<&'t Span>,
}

/// An expression of any of the three types, before the context says which it needs.
enum Any {
    Bool(BoolExpr),
    Data(DataExpr),
    Num(NumExpr),
}

/// A binary operator of dhcp-eval(5) that xdhcpd evaluates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BinOp {
    And,
    Or,
    /// `=` (`negate`: `!=`)
    Eq {
        negate: bool,
    },
    /// `~=` (`~~`: case-insensitive)
    Matches {
        case_insensitive: bool,
    },
    /// An arithmetic or bit operator.
    Arith(ArithOp),
}

impl BinOp {
    /// dhcpd's op_val: the higher takes the rest of the expression as its right side.
    fn rank(self) -> u8 {
        match self {
            BinOp::And | BinOp::Or => 3,
            BinOp::Eq { .. } | BinOp::Matches { .. } => 4,
            // dhcpd's op_val: `+` 2, `* / %` 1, and the bit operators 100 (marked there
            // as needing "sane precedences"): `a * b + c` is `a * (b + c)` in dhcpd.
            BinOp::Arith(ArithOp::Add) => 2,
            BinOp::Arith(ArithOp::Mul | ArithOp::Div | ArithOp::Rem) => 1,
            BinOp::Arith(ArithOp::BitAnd | ArithOp::BitOr | ArithOp::BitXor) => 100,
        }
    }

    /// dhcpd's op_context: how the operand after this operator reads when it starts a
    /// sub-expression (a number is data there, except after arithmetic).
    fn operand_context(self) -> Ctx {
        match self {
            BinOp::And | BinOp::Or => Ctx::Boolean,
            BinOp::Eq { .. } | BinOp::Matches { .. } => Ctx::Data,
            BinOp::Arith(_) => Ctx::Numeric,
        }
    }
}

/// A right-hand operand: an expression, or the pattern of `~=` / `~~`.
enum Operand {
    Expr(Any),
    Pattern(Pattern),
}

/// What the parser expects where it reads a number: dhcpd reads a bare number as an
/// integer in a numeric context only; elsewhere it is a colon-separated hex list of one
/// element (`= 01` after a data expression is the byte 0x01).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Boolean,
    Data,
    Numeric,
}

impl Any {
    /// The context the right side of `=` is read in (dhcpd: the left side's).
    fn context(&self) -> Ctx {
        match self {
            Any::Bool(_) => Ctx::Boolean,
            Any::Data(_) => Ctx::Data,
            Any::Num(_) => Ctx::Numeric,
        }
    }

    fn into_any(self) -> AnyExpr {
        match self {
            Any::Bool(b) => AnyExpr::Bool(b),
            Any::Data(d) => AnyExpr::Data(d),
            Any::Num(n) => AnyExpr::Num(n),
        }
    }

    /// Whether this is a variable or a call, whose type is known only when evaluated.
    fn is_dynamic(&self) -> bool {
        matches!(
            self,
            Any::Data(DataExpr::Variable(_) | DataExpr::Call(_))
                | Any::Num(NumExpr::Variable(_) | NumExpr::Call(_))
                | Any::Bool(BoolExpr::Variable(_) | BoolExpr::Call(_))
        )
    }

    fn kind(&self) -> &'static str {
        match self {
            Any::Bool(_) => "a boolean expression",
            Any::Data(_) => "a data expression",
            Any::Num(_) => "a numeric expression",
        }
    }
}

/// `expected` was wanted (after `after`, if any) where an expression of another type stands.
fn mismatch(at: &Span, expected: &str, after: &str, found: &Any) -> ConfigError {
    ConfigError::new(
        at,
        ErrorKind::Expected { expected: expected.into(), after: after.into(), found: found.kind().into() },
    )
}

impl<'t> ExprParser<'t> {
    pub(crate) fn new(tokens: &'t [Token], end: &'t Span, options: &'t OptionTable) -> Self {
        ExprParser {
            tokens,
            pos: 0,
            end,
            options,
            depth: 0,
            spaces: None,
            funcs: None,
            hostname: None,
            lease_time_at: None,
        }
    }

    /// The same parser, calls resolved through `funcs`, `gethostname()` being `hostname`.
    pub(crate) fn with_funcs(self, funcs: &'t FnTable, hostname: Option<&'t [u8]>) -> Self {
        ExprParser { funcs: Some(funcs), hostname, ..self }
    }

    /// The same parser, reading `SPACE.NAME` options through `spaces`.
    pub(crate) fn with_spaces(self, spaces: &'t std::collections::HashMap<(String, String), OptionRef>) -> Self {
        ExprParser { spaces: Some(spaces), ..self }
    }

    /// Where the expression read `lease-time`, if it did: an option's value is evaluated
    /// by dhcpd once the answer is built, after the lease is extended, so it would see
    /// another end than the statements do (refused there by the caller).
    pub(crate) fn lease_time_at(&self) -> Option<&'t Span> {
        self.lease_time_at
    }

    /// How many tokens were read.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self) -> Option<String> {
        self.peek().and_then(Token::word).map(str::to_ascii_lowercase)
    }

    fn span(&self) -> &'t Span {
        self.peek().map_or(self.end, |t| &t.span)
    }

    fn expected(&self, what: &str) -> ConfigError {
        let found = self.peek().map_or_else(|| "the end of the statement".to_string(), Token::describe);
        let after =
            self.tokens.get(..self.pos).map(|t| t.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" "));
        ConfigError::new(
            self.span(),
            ErrorKind::Expected { expected: what.to_string(), after: after.unwrap_or_default(), found },
        )
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<(), ConfigError> {
        match self.peek() {
            Some(t) if t.kind == kind => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A whole boolean expression (the rest of the tokens need not be consumed).
    pub(crate) fn boolean(&mut self) -> Result<BoolExpr, ConfigError> {
        let at = self.span();
        let e = self.binary(Ctx::Boolean, None)?;
        self.want_bool(e, at)
    }

    fn want_data(&self, e: Any, at: &Span) -> Result<DataExpr, ConfigError> {
        match e {
            Any::Data(d) => Ok(d),
            other => Err(mismatch(at, "a data expression", "", &other)),
        }
    }

    fn want_num(&self, e: Any, at: &Span) -> Result<NumExpr, ConfigError> {
        match e {
            Any::Num(n) => Ok(n),
            // dhcpd checks no type for a variable or a call: its value's type is
            // checked when evaluated (null when it is not a number).
            Any::Data(DataExpr::Variable(name)) => Ok(NumExpr::Variable(name)),
            Any::Data(DataExpr::Call(c)) => Ok(NumExpr::Call(c)),
            other => Err(mismatch(at, "a numeric expression", "", &other)),
        }
    }

    fn want_bool(&self, e: Any, at: &Span) -> Result<BoolExpr, ConfigError> {
        match e {
            Any::Bool(b) => Ok(b),
            Any::Data(DataExpr::Variable(name)) => Ok(BoolExpr::Variable(name)),
            Any::Data(DataExpr::Call(c)) => Ok(BoolExpr::Call(c)),
            other => Err(mismatch(at, "a boolean expression", "", &other)),
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, ConfigError>) -> Result<T, ConfigError> {
        if self.depth >= MAX_DEPTH {
            return Err(ConfigError::new(self.span(), ErrorKind::NestingTooDeep { max: MAX_DEPTH }));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// A binary expression, parsed as dhcpd's parse_expression parses it (common/parse.c),
    /// which is not the usual precedence: `and` and `or` bind alike, left to right, and
    /// an operator of a higher rank (`=`, `!=`, `~=`, `~~` over `and`/`or`) takes the
    /// *whole rest* of the expression as its right side, so `a and b = c or d` is
    /// `a and ((b = c) or d)`, and `a or b and c` is `(a or b) and c`. Checked against
    /// dhcpd 4.4.3's answers (`precedence_is_dhcpds`). `pending`: a left side and its
    /// operator already read (dhcpd's `plhs`/`binop`). `ctx`: how a bare number reads.
    fn binary(&mut self, ctx: Ctx, pending: Option<(Any, Span, BinOp)>) -> Result<Any, ConfigError> {
        self.nested(move |s| {
            let (mut ctx, mut pending) = (ctx, pending);
            loop {
                let rat = s.span().clone();
                let rhs = match pending.as_ref().map(|p| p.2) {
                    Some(BinOp::Matches { case_insensitive }) => Operand::Pattern(s.pattern(case_insensitive)?),
                    _ => Operand::Expr(s.unary(ctx)?),
                };
                let mut next = s.peek_op()?;
                let Some((lhs, lat, op)) = pending.take() else {
                    let Operand::Expr(rhs) = rhs else {
                        return Err(s.expected("an expression"));
                    };
                    let Some((nop, n)) = next else { return Ok(rhs) };
                    // dhcpd reads the next operand in the context of this one.
                    ctx = rhs.context();
                    s.pos += n;
                    pending = Some((rhs, rat, nop));
                    continue;
                };
                let rhs = match (rhs, next) {
                    (Operand::Expr(r), Some((nop, n))) if op.rank() < nop.rank() => {
                        s.pos += n;
                        next = None;
                        Operand::Expr(s.binary(nop.operand_context(), Some((r, rat.clone(), nop)))?)
                    }
                    (r, _) => r,
                };
                let combined = s.combine(lhs, &lat, op, rhs, &rat)?;
                match next {
                    None => return Ok(combined),
                    Some((nop, n)) => {
                        ctx = combined.context();
                        s.pos += n;
                        pending = Some((combined, lat, nop));
                    }
                }
            }
        })
    }

    /// The binary operator at the cursor (not consumed) and how many tokens it takes.
    fn peek_op(&self) -> Result<Option<(BinOp, usize)>, ConfigError> {
        let Some(t) = self.peek() else { return Ok(None) };
        let next_is_eq = self.tokens.get(self.pos + 1).is_some_and(|t| t.kind == TokenKind::Equals);
        Ok(match (&t.kind, t.text.to_ascii_lowercase().as_str()) {
            (TokenKind::Word, "and") => Some((BinOp::And, 1)),
            (TokenKind::Word, "or") => Some((BinOp::Or, 1)),
            (TokenKind::Equals, _) => Some((BinOp::Eq { negate: false }, 1)),
            (TokenKind::Bang, _) if next_is_eq => Some((BinOp::Eq { negate: true }, 2)),
            (TokenKind::Word, "~") if next_is_eq => Some((BinOp::Matches { case_insensitive: false }, 2)),
            (TokenKind::Word, "~~") => Some((BinOp::Matches { case_insensitive: true }, 1)),
            (TokenKind::Word, "+") => Some((BinOp::Arith(ArithOp::Add), 1)),
            // No `-`: dhcpd's lexer reads a lone `-` as a name (names may hold dashes), so
            // `10 - 2` is "comma expected" there (checked with dhcpd -t); refused alike.
            (TokenKind::Word, "*") => Some((BinOp::Arith(ArithOp::Mul), 1)),
            (TokenKind::Word, "/") => Some((BinOp::Arith(ArithOp::Div), 1)),
            (TokenKind::Word, "%") => Some((BinOp::Arith(ArithOp::Rem), 1)),
            (TokenKind::Word, "&") => Some((BinOp::Arith(ArithOp::BitAnd), 1)),
            (TokenKind::Word, "|") => Some((BinOp::Arith(ArithOp::BitOr), 1)),
            (TokenKind::Word, "^") => Some((BinOp::Arith(ArithOp::BitXor), 1)),
            _ => None,
        })
    }

    /// `lhs op rhs`, with dhcpd's type rules.
    fn combine(&self, lhs: Any, lat: &Span, op: BinOp, rhs: Operand, rat: &Span) -> Result<Any, ConfigError> {
        let rhs = match (op, rhs) {
            (BinOp::Matches { .. }, Operand::Pattern(pattern)) => {
                let left = self.want_data(lhs, lat)?;
                return Ok(Any::Bool(BoolExpr::Matches(Box::new(left), pattern)));
            }
            (_, Operand::Expr(r)) => r,
            (_, Operand::Pattern(_)) => return Err(self.expected("an expression")),
        };
        match op {
            BinOp::And | BinOp::Or => {
                let (l, r) = (self.want_bool(lhs, lat)?, self.want_bool(rhs, rat)?);
                Ok(Any::Bool(if op == BinOp::And {
                    BoolExpr::And(Box::new(l), Box::new(r))
                } else {
                    BoolExpr::Or(Box::new(l), Box::new(r))
                }))
            }
            BinOp::Eq { negate } => match (lhs, rhs) {
                // A variable or a call on either side: compared by value and type when
                // evaluated (dhcpd's expr_equal on evaluate_expression's values).
                (l, r) if l.is_dynamic() || r.is_dynamic() => Ok(Any::Bool(BoolExpr::DynEq {
                    left: Box::new(l.into_any()),
                    right: Box::new(r.into_any()),
                    negate,
                })),
                (Any::Data(l), Any::Data(r)) => {
                    Ok(Any::Bool(BoolExpr::DataEq { left: Box::new(l), right: Box::new(r), negate }))
                }
                (Any::Num(l), Any::Num(r)) => {
                    Ok(Any::Bool(BoolExpr::NumEq { left: Box::new(l), right: Box::new(r), negate }))
                }
                (l @ (Any::Data(_) | Any::Num(_)), r) => Err(mismatch(
                    rat,
                    if matches!(l, Any::Data(_)) { "a data expression" } else { "a numeric expression" },
                    "=",
                    &r,
                )),
                (l, _) => Err(mismatch(lat, "a data or numeric expression", "", &l)),
            },
            BinOp::Matches { .. } => Err(self.expected("a quoted regular expression")),
            BinOp::Arith(a) => {
                let (l, r) = (self.want_num(lhs, lat)?, self.want_num(rhs, rat)?);
                Ok(Any::Num(NumExpr::Arith(a, Box::new(l), Box::new(r))))
            }
        }
    }

    /// The right side of `~=` / `~~`: a quoted regular expression, compiled here, once.
    fn pattern(&mut self, case_insensitive: bool) -> Result<Pattern, ConfigError> {
        let t = self.peek().ok_or_else(|| self.expected("a quoted regular expression"))?;
        let TokenKind::Str(bytes) = &t.kind else {
            return Err(ConfigError::new(
                &t.span,
                ErrorKind::NotYetSupported {
                    statement: t.text.clone(),
                    reason: "the right side of ~= / ~~ must be a quoted regular expression".into(),
                },
            ));
        };
        self.pos += 1;
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        let source = String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned();
        Pattern::new(&source, case_insensitive).map_err(|reason| {
            ConfigError::new(
                &t.span,
                ErrorKind::InvalidValue { what: "regular expression".into(), value: source.clone(), reason },
            )
        })
    }

    fn unary(&mut self, ctx: Ctx) -> Result<Any, ConfigError> {
        self.nested(|s| {
            if s.peek_word().as_deref() == Some("not") {
                s.pos += 1;
                let at = s.span();
                // dhcpd checks `not`'s operand strictly (is_boolean_expression, with no
                // exception for a variable or a call: "boolean expression expected").
                let b = match s.unary(Ctx::Boolean)? {
                    Any::Bool(b) => b,
                    other => return Err(mismatch(at, "a boolean expression", "not", &other)),
                };
                return Ok(Any::Bool(BoolExpr::Not(Box::new(b))));
            }
            s.primary(ctx)
        })
    }

    /// `(` args `)` where each argument is parsed by the matching closure.
    fn open(&mut self) -> Result<(), ConfigError> {
        self.expect(TokenKind::LParen, "'('")
    }
    fn comma(&mut self) -> Result<(), ConfigError> {
        self.expect(TokenKind::Comma, "','")
    }
    fn close(&mut self) -> Result<(), ConfigError> {
        self.expect(TokenKind::RParen, "')'")
    }
    /// A `switch` value (`numeric`: a bare number is a number, as dhcpd reads the
    /// switch's own expression) or a `case` value in the switch's type.
    pub(crate) fn switch_value(&mut self, numeric: bool) -> Result<crate::model::SwitchValue, ConfigError> {
        match self.binary(if numeric { Ctx::Numeric } else { Ctx::Data }, None)? {
            Any::Data(d) => Ok(crate::model::SwitchValue::Data(d)),
            Any::Num(n) => Ok(crate::model::SwitchValue::Num(n)),
            // dhcpd reads one (its cases are then read as numbers), and evaluates it as a
            // number, which fails: see `SwitchValue::Bool`.
            Any::Bool(b) => Ok(crate::model::SwitchValue::Bool(b)),
        }
    }

    /// The value of `set NAME = VALUE;`: dhcpd reads any type there (a bare number is
    /// numeric); xdhcpd keeps data values only.
    pub(crate) fn set_value(&mut self) -> Result<AnyExpr, ConfigError> {
        // dhcpd's set statement reads its value in context_any: a bare number is data
        // (`set x = 5;` is the byte 5, and `set x = 5 + 1;` "expecting numeric
        // expressions"), a boolean or numeric expression keeps its type.
        Ok(self.binary(Ctx::Data, None)?.into_any())
    }

    /// A whole data expression (also a function's data argument).
    pub(crate) fn data_arg(&mut self) -> Result<DataExpr, ConfigError> {
        let at = self.span();
        let e = self.binary(Ctx::Data, None)?;
        self.want_data(e, at)
    }
    fn num_arg(&mut self) -> Result<NumExpr, ConfigError> {
        let at = self.span();
        let e = self.binary(Ctx::Numeric, None)?;
        self.want_num(e, at)
    }
    fn width(&mut self) -> Result<u8, ConfigError> {
        let t = self.peek().ok_or_else(|| self.expected("8, 16 or 32"))?;
        match t.text.as_str() {
            "8" | "16" | "32" => {
                self.pos += 1;
                Ok(t.text.parse().unwrap_or(32))
            }
            _ => Err(self.expected("8, 16 or 32")),
        }
    }

    /// The error for an operand this parser cannot compile (no function table).
    fn not_here(&self, t: &Token, what: &str) -> ConfigError {
        ConfigError::new(
            &t.span,
            ErrorKind::NotYetSupported { statement: what.into(), reason: "not supported in this place yet".into() },
        )
    }

    /// The arguments of a call of function `name` (the `(` is next): one or more
    /// expressions of any type (dhcpd: "expecting expression" for none).
    fn call(&mut self, name: &Token) -> Result<Call, ConfigError> {
        let funcs = self.funcs.ok_or_else(|| self.not_here(name, "a function call"))?;
        self.open()?;
        let mut args = Vec::new();
        loop {
            // dhcpd reads each argument in its "any" context: a bare number is data.
            args.push(self.binary(Ctx::Data, None)?.into_any());
            if self.peek().is_some_and(|t| t.kind == TokenKind::Comma) {
                self.pos += 1;
                continue;
            }
            break;
        }
        self.close()?;
        Ok(Call { name: name.text.clone(), args, func: fn_slot(funcs, &name.text) })
    }

    /// A whole expression of any type (an `eval`, a `return`, a `set` in a function).
    pub(crate) fn any(&mut self) -> Result<AnyExpr, ConfigError> {
        Ok(self.binary(Ctx::Data, None)?.into_any())
    }

    /// An option name after `option` or `exists`.
    pub(crate) fn option_ref(&mut self) -> Result<OptionRef, ConfigError> {
        let t = self.peek().filter(|t| t.kind == TokenKind::Word).ok_or_else(|| self.expected("an option name"))?;
        self.pos += 1;
        let name = t.text.to_ascii_lowercase();
        if let Some((space, sub)) = name.split_once('.') {
            if space == "agent"
                && let Some((_, code)) = AGENT_OPTIONS.iter().find(|(n, _)| *n == sub)
            {
                return Ok(OptionRef::agent(*code));
            }
            if let Some(r) = self.spaces.and_then(|m| m.get(&(space.to_string(), sub.to_string()))) {
                return Ok(*r);
            }
            return Err(ConfigError::new(
                &t.span,
                ErrorKind::NotYetSupported {
                    statement: format!("option {}", t.text),
                    reason: "expressions read DHCP options, agent.circuit-id/remote-id/agent-id/link-selection/subscriber-id, and options of a space an option encapsulates, directly or through a sub-option of another space (declared before), only so far".into(),
                },
            ));
        }
        let def = self
            .options
            .get(&name)
            .ok_or_else(|| ConfigError::new(&t.span, ErrorKind::UnknownOption { name: t.text.clone() }))?;
        // dhcpd removes trailing NULs from the options its tables call text ("t"),
        // user-class among them (xdhcpd's table encodes that one as bytes).
        let strip_nuls = matches!(def.ty, OptionType::Text) || def.code == 77;
        Ok(OptionRef::Dhcp { code: def.code, strip_nuls })
    }

    fn primary(&mut self, ctx: Ctx) -> Result<Any, ConfigError> {
        let Some(t) = self.peek() else {
            return Err(self.expected("an expression"));
        };
        match &t.kind {
            TokenKind::Str(bytes) => {
                self.pos += 1;
                return Ok(Any::Data(DataExpr::Const(bytes.clone())));
            }
            TokenKind::LParen => {
                self.pos += 1;
                let e = self.binary(ctx, None)?;
                self.close()?;
                return Ok(e);
            }
            TokenKind::Word => {}
            _ => return Err(self.expected("an expression")),
        }
        let word = t.text.to_ascii_lowercase();
        self.pos += 1;
        let e = match word.as_str() {
            "exists" => Any::Bool(BoolExpr::Exists(self.option_ref()?)),
            "known" => Any::Bool(BoolExpr::Known),
            "static" => Any::Bool(BoolExpr::Static),
            "leased-address" => Any::Data(DataExpr::LeasedAddress),
            "host-decl-name" => Any::Data(DataExpr::HostDeclName),
            "option" => Any::Data(DataExpr::Option(self.option_ref()?)),
            "hardware" => Any::Data(DataExpr::Hardware),
            "null" => Any::Data(DataExpr::Null),
            "substring" => {
                self.open()?;
                let d = self.data_arg()?;
                self.comma()?;
                let o = self.num_arg()?;
                self.comma()?;
                let l = self.num_arg()?;
                self.close()?;
                Any::Data(DataExpr::Substring(Box::new(d), Box::new(o), Box::new(l)))
            }
            "suffix" => {
                self.open()?;
                let d = self.data_arg()?;
                self.comma()?;
                let l = self.num_arg()?;
                self.close()?;
                Any::Data(DataExpr::Suffix(Box::new(d), Box::new(l)))
            }
            "lcase" | "ucase" => {
                self.open()?;
                let d = Box::new(self.data_arg()?);
                self.close()?;
                Any::Data(if word == "lcase" { DataExpr::Lcase(d) } else { DataExpr::Ucase(d) })
            }
            "concat" => {
                self.open()?;
                let mut d = self.data_arg()?;
                // dhcpd wants at least two.
                self.comma()?;
                loop {
                    let next = self.data_arg()?;
                    d = DataExpr::Concat(Box::new(d), Box::new(next));
                    if self.peek().is_some_and(|t| t.kind == TokenKind::Comma) {
                        self.pos += 1;
                        continue;
                    }
                    break;
                }
                self.close()?;
                Any::Data(d)
            }
            "pick-first-value" => {
                self.open()?;
                let mut list = vec![self.data_arg()?];
                while self.peek().is_some_and(|t| t.kind == TokenKind::Comma) {
                    self.pos += 1;
                    list.push(self.data_arg()?);
                }
                self.close()?;
                Any::Data(DataExpr::PickFirst(list))
            }
            "binary-to-ascii" => {
                self.open()?;
                let base = self.num_arg()?;
                self.comma()?;
                let width = self.num_arg()?;
                self.comma()?;
                let separator = self.data_arg()?;
                self.comma()?;
                let data = self.data_arg()?;
                self.close()?;
                Any::Data(DataExpr::BinaryToAscii {
                    base: Box::new(base),
                    width: Box::new(width),
                    separator: Box::new(separator),
                    data: Box::new(data),
                })
            }
            "encode-int" => {
                self.open()?;
                let n = self.num_arg()?;
                self.comma()?;
                let w = self.width()?;
                self.close()?;
                Any::Data(DataExpr::EncodeInt(Box::new(n), w))
            }
            "extract-int" => {
                self.open()?;
                let d = self.data_arg()?;
                self.comma()?;
                let w = self.width()?;
                self.close()?;
                Any::Num(NumExpr::ExtractInt(Box::new(d), w))
            }
            "packet" => {
                self.open()?;
                let o = self.num_arg()?;
                self.comma()?;
                let l = self.num_arg()?;
                self.close()?;
                Any::Data(DataExpr::Packet(Box::new(o), Box::new(l)))
            }
            "reverse" => {
                self.open()?;
                let w = self.num_arg()?;
                self.comma()?;
                let d = self.data_arg()?;
                self.close()?;
                Any::Data(DataExpr::Reverse(Box::new(w), Box::new(d)))
            }
            "filename" => Any::Data(DataExpr::Filename),
            "server-name" => Any::Data(DataExpr::ServerName),
            "client-state" => Any::Num(NumExpr::ClientState),
            "lease-time" => {
                self.lease_time_at = self.lease_time_at.or(Some(&t.span));
                Any::Num(NumExpr::LeaseTime)
            }
            // dhcpd's client states (dhcpd.h enum dhcp_state), numbers in any context.
            "bound" => Any::Num(NumExpr::Const(5)),
            "renew" => Any::Num(NumExpr::Const(6)),
            "rebind" => Any::Num(NumExpr::Const(7)),
            "gethostname" => {
                self.open()?;
                self.close()?;
                Any::Data(DataExpr::Hostname(self.hostname.map(<[u8]>::to_vec)))
            }
            "gethostbyname" => {
                self.open()?;
                // dhcpd: "Expecting quoted literal" for anything but a string.
                let name = match self.peek() {
                    Some(Token { kind: TokenKind::Str(b), .. }) => String::from_utf8_lossy(b).into_owned(),
                    _ => return Err(self.expected("a quoted host name")),
                };
                self.pos += 1;
                self.close()?;
                let hosts = self.funcs.ok_or_else(|| self.not_here(t, "gethostbyname"))?;
                let h = std::sync::Arc::new(HostLookup { name, ..HostLookup::default() });
                hosts.hosts.borrow_mut().push(std::sync::Arc::clone(&h));
                Any::Data(DataExpr::HostLookup(h))
            }
            "defined" => {
                self.open()?;
                let name = self
                    .peek()
                    .filter(|t| t.kind == TokenKind::Word)
                    .ok_or_else(|| self.expected("a variable name"))?;
                self.pos += 1;
                self.close()?;
                let funcs = self.funcs.ok_or_else(|| self.not_here(t, "defined"))?;
                Any::Bool(BoolExpr::Defined { name: name.text.clone(), func: fn_slot(funcs, &name.text) })
            }
            "v6relay" => {
                return Err(ConfigError::new(
                    &t.span,
                    ErrorKind::NotSupported {
                        statement: t.text.clone(),
                        reason:
                            "v6relay reads the relay options of a DHCPv6 packet: null for every DHCPv4 packet in dhcpd"
                                .into(),
                    },
                ));
            }
            w if let Some((_, reason)) = NOT_YET.iter().find(|(n, _)| *n == w) => {
                return Err(ConfigError::new(
                    &t.span,
                    ErrorKind::NotYetSupported { statement: t.text.clone(), reason: (*reason).into() },
                ));
            }
            w if ctx == Ctx::Numeric && !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => {
                let n = w.parse::<u32>().map_err(|_| {
                    ConfigError::new(
                        &t.span,
                        ErrorKind::InvalidValue {
                            what: "number".into(),
                            value: t.text.clone(),
                            reason: "larger than 32 bits".into(),
                        },
                    )
                })?;
                Any::Num(NumExpr::Const(n))
            }
            _ => {
                match crate::options::parse_hex_bytes(&t.text)
                    .filter(|_| t.text.contains(':') || t.text.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    // A colon-separated hex list (`00:07`, `1:52:54:00:12:34:56`), or a
                    // number outside a numeric context (dhcpd's parse_cshl: `01`, `3`).
                    Some(bytes) => Any::Data(DataExpr::Const(bytes)),
                    None if is_variable_name(&t.text)
                        && !crate::keywords::is_not_inert_head(&t.text)
                        && self.peek().map(|t| &t.kind) != Some(&TokenKind::LParen) =>
                    {
                        Any::Data(DataExpr::Variable(t.text.clone()))
                    }
                    None if is_variable_name(&t.text)
                        && !crate::keywords::is_not_inert_head(&t.text)
                        && self.funcs.is_some() =>
                    {
                        Any::Data(DataExpr::Call(Box::new(self.call(t)?)))
                    }
                    None => {
                        // A keyword of dhcpd's in an operand's place, or a function call
                        // (`define`d functions are not supported).
                        return Err(ConfigError::new(
                        &t.span,
                        ErrorKind::NotYetSupported {
                            statement: t.text.clone(),
                            reason: "this operand (a dhcpd keyword, or a function call) is not supported in expressions yet".into(),
                        },
                    ));
                    }
                }
            }
        };
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::tokenize;
    use std::sync::Arc;

    fn parse_bool(text: &str) -> Result<BoolExpr, ConfigError> {
        let file: Arc<str> = Arc::from("t.conf");
        let mut errors = Vec::new();
        let tokens = tokenize(&file, text, &mut errors);
        assert!(errors.is_empty());
        let end = Span::start_of("t.conf");
        let table = OptionTable::standard();
        let mut p = ExprParser::new(&tokens, &end, &table);
        let b = p.boolean()?;
        assert_eq!(p.position(), tokens.len(), "all of {text:?} read");
        Ok(b)
    }

    fn holds(text: &str, packet: &[u8]) -> Option<bool> {
        parse_bool(text).unwrap_or_else(|e| panic!("{text}: {e}")).eval(&Packet::new(packet, false))
    }

    /// A DHCPDISCOVER from 52:54:00:00:00:01 with the given options (code, data).
    fn packet(options: &[(u8, &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[28..34].copy_from_slice(&[0x52, 0x54, 0, 0, 0, 1]);
        p[236..240].copy_from_slice(&COOKIE);
        p.extend_from_slice(&[53, 1, 1]);
        for (c, d) in options {
            p.push(*c);
            p.push(d.len() as u8);
            p.extend_from_slice(d);
        }
        p.push(255);
        p
    }

    /// Arithmetic as dhcpd 4.4.3 computes it, precedence quirks included: `+` (op_val 2)
    /// takes the rest of the expression after `*` (1), the bit operators (100) go left to
    /// right. The same expressions as options of `tests/corpus/dhcpd.conf/probe-arithmetic.conf`
    /// got the same bytes from a real dhcpd and from xdhcpd (compat harness).
    #[test]
    fn arithmetic_is_dhcpds() {
        let p = packet(&[]);
        let is = |expr: &str, n: u32| {
            let text = format!("encode-int ({expr}, 32) = {}", hex(&n.to_be_bytes()));
            assert_eq!(holds(&text, &p), Some(true), "{expr} should be {n}");
        };
        is("2 * 3 + 4", 14);
        is("1 + 2 * 3", 9);
        is("7 / 2", 3);
        is("6 & 3 | 8", 10);
        is("12 ^ 10 & 6", 6);
        is("extract-int (option dhcp-message-type, 8) + 1", 2);
        // Division by zero is null, and so is everything built on it; `7 % 0 + 1` is
        // `7 % (0 + 1)` in dhcpd, so 0.
        assert_eq!(holds("encode-int (7 % 0, 32) = null", &p), Some(true));
        assert_eq!(holds("encode-int (1 + 7 % 0, 32) = null", &p), Some(true));
        is("7 % 0 + 1", 0);
        // `-` is a name to dhcpd's lexer, not an operator.
        assert!(parse_bool("encode-int (10 - 2, 32) = 00:00:00:08").is_err());
        // Operands must be numbers.
        assert!(parse_bool("encode-int (option host-name + 1, 32) = 00").is_err());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
    }

    #[test]
    fn pxe_conditions() {
        let pxe = packet(&[(60, b"PXEClient:Arch:00007:UNDI:003016"), (93, &[0, 7])]);
        let plain = packet(&[(60, b"MSFT 5.0")]);
        let cond = "substring (option vendor-class-identifier, 0, 9) = \"PXEClient\"";
        assert_eq!(holds(cond, &pxe), Some(true));
        assert_eq!(holds(cond, &plain), Some(false));
        // A user-defined option read as bytes.
        let file: Arc<str> = Arc::from("t.conf");
        let mut errors = Vec::new();
        let tokens = tokenize(&file, "option arch = 00:07", &mut errors);
        let mut table = OptionTable::standard();
        table.define(crate::options::OptionDef { name: "arch".into(), code: 93, ty: OptionType::U16 });
        let end = Span::start_of("t.conf");
        let b = ExprParser::new(&tokens, &end, &table).boolean().expect("parses");
        assert!(b.holds(&Packet::new(&pxe, false)));
        assert!(!b.holds(&Packet::new(&plain, false)), "a missing option is null, not equal to data");
        // Numeric comparison.
        let u = "extract-int (option vendor-class-identifier, 8) = 80";
        assert_eq!(holds(u, &pxe), Some(true));
    }

    #[test]
    fn null_logic_as_dhcpd() {
        let p = packet(&[(77, b"iPXE\0")]);
        // user-class is text in dhcpd: the trailing NUL goes.
        assert_eq!(holds("exists user-class and option user-class = \"iPXE\"", &p), Some(true));
        let none = packet(&[]);
        // dhcpd's `and` is null (not false) once its left side is false; `if` then
        // takes the else branch all the same.
        assert_eq!(holds("exists user-class and option user-class = \"iPXE\"", &none), None);
        // Two nulls are equal; null and data are not.
        assert_eq!(holds("option user-class = option host-name", &none), Some(true));
        assert_eq!(holds("option user-class != \"x\"", &none), Some(true));
        assert_eq!(holds("not exists user-class", &none), Some(true));
        assert_eq!(holds("exists user-class or option host-name = \"a\"", &none), Some(false));
        assert_eq!(holds("(known or exists user-class) and not known", &p), Some(true));
    }

    #[test]
    fn data_functions() {
        let p = packet(&[(12, b"Host-A"), (82, &[1, 3, b'c', b'i', b'd', 2, 2, 0xab, 0xcd])]);
        let yes = |e: &str| assert_eq!(holds(e, &p), Some(true), "{e}");
        yes("hardware = 1:52:54:00:00:00:01");
        yes("substring (hardware, 1, 3) = 52:54:00");
        yes("suffix (option host-name, 1) = \"A\"");
        yes("lcase (option host-name) = \"host-a\"");
        yes("ucase (option host-name) = \"HOST-A\"");
        yes("concat (\"x\", option host-name, \"y\") = \"xHost-Ay\"");
        yes("binary-to-ascii (16, 8, \":\", substring (hardware, 1, 6)) = \"52:54:0:0:0:1\"");
        yes("binary-to-ascii (10, 8, \".\", 0a:0:0:1) = \"10.0.0.1\"");
        // Bases other than 16 and 10, wider groups: 0x01ff is 777 in octal.
        yes("binary-to-ascii (8, 16, \"-\", 01:ff:00:08) = \"777-10\"");
        yes("binary-to-ascii (2, 32, \"\", 0:0:0:5) = \"101\"");
        yes("encode-int (258, 16) = 01:02");
        yes("extract-int (01:02:03:04, 32) = 16909060");
        yes("pick-first-value (option user-class, option host-name) = \"Host-A\"");
        yes("reverse (1, 01:02:03) = 03:02:01");
        yes("option agent.circuit-id = \"cid\"");
        yes("option agent.remote-id = ab:cd");
        yes("packet (0, 2) = 01:01");
        yes("substring (option host-name, 10, 2) = \"\"");
        // Out of the packet: null.
        yes("packet (5000, 1) = null");
        // Before there is a lease (classification): nulls and false.
        yes("leased-address = null and host-decl-name = null and not static");
        let leased = Packet::new(&p, true).with_lease(std::net::Ipv4Addr::new(10, 0, 0, 7), true, Some("printer"));
        let b = parse_bool("leased-address = 0a:00:00:07 and host-decl-name = \"printer\" and static").expect("parses");
        assert_eq!(b.eval(&leased), Some(true));
    }

    #[test]
    fn lease_time_is_the_time_left_on_the_lease_before_this_request() {
        // dhcpd's expr_lease_time: ends - now; null without a lease or once it has ended.
        let p = packet(&[]);
        let at = std::net::Ipv4Addr::new(10, 0, 0, 7);
        let e = parse_bool("lease-time = 600").expect("parses: numeric, so 600 is a number");
        let bound = Packet::new(&p, false).with_lease(at, false, None).with_lease_end(Some(1_600), 1_000);
        assert_eq!(e.eval(&bound), Some(true));
        let ended = Packet::new(&p, false).with_lease(at, false, None).with_lease_end(Some(999), 1_000);
        assert_eq!(e.eval(&ended), Some(false), "null is not 600");
        let n = |pk: &Packet<'_>| {
            NumExpr::Arith(ArithOp::Div, Box::new(NumExpr::LeaseTime), Box::new(NumExpr::Const(60))).eval(pk)
        };
        assert_eq!(n(&bound), Some(10));
        assert_eq!(n(&ended), None);
        assert_eq!(n(&Packet::new(&p, false)), None, "no lease");
        let now = Packet::new(&p, false).with_lease(at, false, None).with_lease_end(Some(1_000), 1_000);
        assert_eq!(n(&now), Some(0), "ending now is not past");
    }

    #[test]
    fn regular_expressions() {
        let p = packet(&[(60, b"MSFT 5.0"), (12, b"host\0tail")]);
        assert_eq!(holds("option vendor-class-identifier ~= \"^MSFT\"", &p), Some(true));
        assert_eq!(holds("option vendor-class-identifier ~= \"^msft\"", &p), Some(false));
        assert_eq!(holds("option vendor-class-identifier ~~ \"^msft [0-9]\\.[[:digit:]]$\"", &p), Some(true));
        // Matched as a C string: up to the first NUL.
        assert_eq!(holds("option host-name ~= \"tail\"", &p), Some(false));
        // A null left side: null, so false in an `if`.
        assert_eq!(holds("option user-class ~= \".*\"", &p), None);
        assert_eq!(holds("not (option user-class ~= \".*\")", &p), None);
    }

    #[test]
    fn refusals_name_the_construct() {
        let e = parse_bool("option host-name ~= option domain-name").expect_err("regex from data");
        assert!(e.to_string().contains("quoted regular expression"), "{e}");
        let e = parse_bool("option host-name ~= \"(\"").expect_err("bad regex");
        assert!(e.to_string().contains("invalid regular expression"), "{e}");
        let e = parse_bool("config-option domain-name = \"x\"").expect_err("not yet");
        assert!(e.to_string().contains("config-option"), "{e}");
        let e = parse_bool("option nosuch = \"x\"").expect_err("unknown option");
        assert!(matches!(e.kind, ErrorKind::UnknownOption { .. }), "{e}");
        // A number after a data expression is a hex byte, as dhcpd reads it.
        assert_eq!(holds("substring (hardware, 0, 1) = 01", &packet(&[])), Some(true));
        assert_eq!(holds("substring (hardware, 2, 1) = 10", &packet(&[])), Some(false), "0x10, not ten");
        let e = parse_bool("extract-int (option host-name, 8) = \"a\"").expect_err("type");
        assert!(e.to_string().contains("a numeric expression"), "{e}");
        let e = parse_bool("option host-name").expect_err("not boolean");
        assert!(e.to_string().contains("boolean"), "{e}");
        let deep = format!("{}known{}", "(".repeat(100), ")".repeat(100));
        assert!(matches!(parse_bool(&deep).expect_err("deep").kind, ErrorKind::NestingTooDeep { .. }));
    }

    #[test]
    fn evaluation_never_panics_on_any_packet() {
        let exprs = [
            "substring (option vendor-class-identifier, 4294967295, 4294967295) = \"\"",
            "suffix (hardware, 4294967295) = packet (4294967295, 4294967295)",
            "binary-to-ascii (2, 8, \"::\", packet (0, 4294967295)) = null",
            "reverse (0, hardware) = reverse (7, packet (0, 300))",
            "extract-int (option agent.circuit-id, 32) = extract-int (packet (1, 1), 16)",
            "concat (packet (0, 65535), packet (0, 65535)) = option host-name",
        ];
        let compiled: Vec<BoolExpr> = exprs.iter().map(|e| parse_bool(e).expect("parses")).collect();
        // Deterministic pseudo-random packets of every length up to 600, some with the
        // cookie, some with option lengths running past the end.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut seen = std::collections::HashSet::new();
        for len in 0..600usize {
            let mut p: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            if len >= 240 && len % 2 == 0 {
                p[236..240].copy_from_slice(&COOKIE);
            }
            for b in &compiled {
                let v = b.eval(&Packet::new(&p, len % 3 == 0));
                assert_eq!(v, b.eval(&Packet::new(&p, len % 3 == 0)), "deterministic");
                seen.insert(v);
            }
        }
        // The corpus reaches both outcomes, so the expressions were really evaluated.
        assert!(seen.contains(&Some(true)) && seen.contains(&Some(false)), "{seen:?}");
    }
}
