//! Random input never panics the reader (the same entry point cargo-fuzz uses).

use dhcp_config::{MemoryLoader, fuzz_parse, parse_str};
use proptest::prelude::*;

const VALID: &str = include_str!("fixtures/kitchen-sink.conf");

/// Characters that matter to the grammar, so mutations hit interesting paths.
const ALPHABET: &[u8] = b"{};,=\"#\\ \n0123456789.:abcdefx-%";

/// Words of dhcp-eval(5) expressions, so that soups of them reach every corner of the
/// expression parser (types, nesting, operators, refusals).
const EXPR_WORDS: &[&str] = &[
    "substring",
    "(",
    ")",
    ",",
    "option",
    "host-name",
    "vendor-class-identifier",
    "hardware",
    "=",
    "!",
    "and",
    "or",
    "not",
    "exists",
    "known",
    "static",
    "\"a\"",
    "01:02",
    "5",
    "4294967296",
    "concat",
    "binary-to-ascii",
    "~",
    "~~",
    "suffix",
    "packet",
    "extract-int",
    "encode-int",
    "8",
    "16",
    "32",
    "pick-first-value",
    "null",
    "leased-address",
    "host-decl-name",
    "reverse",
    "lcase",
    "ucase",
    "x",
    "v1",
    "agent.circuit-id",
    "agent.nosuch",
    "\"(\"",
    "lease-time",
];

/// A configuration with `soup` in every place an expression goes.
fn with_expressions(soup: &str) -> String {
    format!(
        "class \"c\" {{ match if {soup}; }}\nclass \"d\" {{ match {soup}; }}\nsubclass \"d\" 01;\n\
         if {soup} {{ filename \"a\"; }} elsif {soup} {{ log ({soup}); }}\nset v = {soup};\n\
         subnet 198.18.0.0 netmask 255.255.255.0 {{ option host-name = {soup}; filename = {soup}; range 198.18.0.10 198.18.0.20; }}\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Whatever the words, the reader accepts or names problems inside the file.
    #[test]
    fn expression_soup_is_accepted_or_refused_with_positions(
        words in proptest::collection::vec(proptest::sample::select(EXPR_WORDS), 0..24)
    ) {
        let text = with_expressions(&words.join(" "));
        if let Err(e) = parse_str("t.conf", &text, &MemoryLoader::default()) {
            let lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
            prop_assert!(!e.errors.is_empty());
            for err in &e.errors {
                prop_assert!(err.span.line >= 1 && err.span.line <= lines + 1, "{err} in\n{text}");
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzz_parse(&data);
    }

    #[test]
    fn grammar_soup_never_panics(data in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..512)) {
        fuzz_parse(&data);
    }

    #[test]
    fn mutated_config_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, proptest::sample::select(ALPHABET)), 1..8)
    ) {
        let mut bytes = VALID.as_bytes().to_vec();
        for (at, op, c) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => { bytes.remove(i); }
                1 => bytes.insert(i, c),
                _ => bytes[i] = c,
            }
        }
        fuzz_parse(&bytes);
    }

    #[test]
    fn truncated_config_never_panics(at in any::<prop::sample::Index>()) {
        let cut = at.index(VALID.len() + 1);
        let text = String::from_utf8_lossy(&VALID.as_bytes()[..cut]);
        let _ = parse_str("t.conf", &text, &MemoryLoader::default());
    }
}

/// The dhcpd-compatibility fixtures (DDNS, zones, keys, host names, option spaces,
/// stray expressions...), as seeds for mutations of the newer grammar.
fn compat_seeds() -> &'static [String] {
    static SEEDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat");
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect())
            .unwrap_or_default();
        v.sort();
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, .. ProptestConfig::default() })]

    #[test]
    fn mutated_compat_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, proptest::sample::select(ALPHABET)), 1..6)
    ) {
        let seeds = compat_seeds();
        prop_assume!(!seeds.is_empty());
        let mut bytes = seeds[pick.index(seeds.len())].as_bytes().to_vec();
        for (at, op, c) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => { bytes.remove(i); }
                1 => bytes.insert(i, c),
                _ => bytes[i] = c,
            }
        }
        fuzz_parse(&bytes);
    }
}

/// Pieces of option definitions and values, assembled at random: records, arrays,
/// spaces, encapsulations, with values that fit or not.
const DEF_TYPES: &[&str] = &[
    "{ boolean, integer 32, text }",
    "array of { ip-address, unsigned integer 8 }",
    "{ ip-address, array of unsigned integer 16 }",
    "array of boolean",
    "encapsulate vnd",
    "{ }",
    "array of { text }",
    "ip-address",
];
const VALUES: &[&str] = &["1", "-1", "on", "\"x\"", "10.0.0.1", "host.test", "01:02", ",", "{", "}", "65536", ""];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, .. ProptestConfig::default() })]

    #[test]
    fn random_definitions_and_values_never_panic(
        ty in proptest::sample::select(DEF_TYPES),
        in_space in any::<bool>(),
        values in proptest::collection::vec(proptest::sample::select(VALUES), 0..8),
    ) {
        let name = if in_space { "vnd.r" } else { "r" };
        let text = format!(
            "option space vnd;\noption {name} code 201 = {ty};\nvendor-option-space vnd;\n\
             subnet 198.18.0.0 netmask 255.255.255.0 {{ option {name} {}; }}\n",
            values.join(" ")
        );
        let _ = parse_str("t.conf", &text, &MemoryLoader::default());
    }
}

#[test]
fn deep_nesting_and_include_bombs_are_refused() {
    fuzz_parse("{".repeat(200_000).as_bytes());
    fuzz_parse("subnet 10.0.0.0 netmask 255.0.0.0 ".repeat(10_000).as_bytes());
    let mut loader = MemoryLoader::default();
    loader.insert("a", "include \"b\"; include \"b\";");
    loader.insert("b", "include \"a\";");
    assert!(parse_str("root", "include \"a\";", &loader).is_err());
    // A chain deeper than the limit.
    let mut loader = MemoryLoader::default();
    for i in 0..40 {
        loader.insert(format!("f{i}"), format!("include \"f{}\";", i + 1));
    }
    let e = parse_str("root", "include \"f0\";", &loader).expect_err("too deep");
    assert!(e.to_string().contains("includes nested more than"), "{e}");
}

/// The soup harness above can accept: a variable fits every place of `with_expressions`.
#[test]
fn expression_places_accept_a_variable() {
    let parsed = parse_str("t.conf", &with_expressions("xv"), &MemoryLoader::default());
    assert!(parsed.is_ok(), "{:?}", parsed.err().map(|e| e.to_string()));
}
