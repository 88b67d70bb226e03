//! The metric names a Grafana dashboard queries: every PromQL expression of its panels
//! (`expr`) and of its query variables (`label_values(METRIC, label)` and plain
//! expressions), reduced to the metric names it selects. Used by `tests/metrics_prometheus.rs`
//! to check `contrib/grafana/xdhcpd.json` against what a running xdhcpd exports.

use anyhow::{Result, bail};
use std::collections::BTreeSet;

/// Every PromQL expression in a dashboard: panel targets' `expr` (at any depth, rows
/// included) and query variables' queries.
pub fn expressions(dashboard: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                        ("templating", _) => {}
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, &mut out);
    for var in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        if var["type"] != "query" {
            continue;
        }
        let q = &var["query"];
        if let Some(s) = q.as_str().or_else(|| q["query"].as_str()) {
            out.push(variable_expression(s));
        }
    }
    out
}

/// A query variable's expression: `label_values(EXPR, label)` → EXPR, `query_result(EXPR)` →
/// EXPR, `label_values(label)` (no metric) → empty, anything else as written.
fn variable_expression(q: &str) -> String {
    let q = q.trim();
    if let Some(inner) = q.strip_prefix("label_values(").and_then(|r| r.strip_suffix(')')) {
        // The metric part ends at the last top-level comma; with no comma there is no metric.
        let mut depth = 0i32;
        let mut cut = None;
        for (i, c) in inner.char_indices() {
            match c {
                '(' | '{' | '[' => depth += 1,
                ')' | '}' | ']' => depth -= 1,
                ',' if depth == 0 => cut = Some(i),
                _ => {}
            }
        }
        return cut.map_or(String::new(), |i| inner[..i].to_string());
    }
    if let Some(inner) = q.strip_prefix("query_result(").and_then(|r| r.strip_suffix(')')) {
        return inner.to_string();
    }
    q.to_string()
}

/// PromQL words that are neither metrics nor functions.
const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"];
/// Aggregation operators: a clause (`by (...)`) may come between them and their `(`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
/// Words followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// The metric names an expression selects. Skips strings, label matchers (`{...}`), range
/// and subquery brackets (`[...]`), Grafana variables (`$x`, `${x}`), numbers and durations,
/// functions and aggregations (a word followed by `(`), and the label lists of `by`,
/// `without`, `on`, `ignoring`, `group_left`, `group_right`.
pub fn metric_names(expr: &str) -> Result<BTreeSet<String>> {
    let b: Vec<char> = expr.chars().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    // Index just past the closing `close` of the group opened at `i` (strings inside skipped).
    let skip_group = |mut i: usize, open: char, close: char| -> Result<usize> {
        let mut depth = 0;
        while i < b.len() {
            match b[i] {
                '"' | '\'' | '`' => i = skip_string(&b, i)?,
                c if c == open => {
                    depth += 1;
                    i += 1
                }
                c if c == close => {
                    depth -= 1;
                    i += 1;
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                _ => i += 1,
            }
        }
        bail!("unbalanced {open}{close} in {expr:?}")
    };
    while i < b.len() {
        let c = b[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&b, i)?;
        } else if c == '{' {
            i = skip_group(i, '{', '}')?;
        } else if c == '[' {
            i = skip_group(i, '[', ']')?;
        } else if c == '#' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '$' {
            i += 1;
            if i < b.len() && b[i] == '{' {
                i = skip_group(i, '{', '}')?;
            } else {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() || c == '.' {
            // Numbers (0.99, 1e3, 0x1f) and durations (5m).
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_' || b[i] == ':') {
                i += 1;
            }
            let word: String = b[start..i].iter().collect();
            let mut j = i;
            while j < b.len() && b[j].is_whitespace() {
                j += 1;
            }
            let next = b.get(j).copied();
            if LABEL_LISTS.contains(&word.as_str()) {
                if next == Some('(') {
                    i = skip_group(j, '(', ')')?;
                }
            } else if next == Some('(') || KEYWORDS.contains(&word.as_str()) || AGGREGATIONS.contains(&word.as_str()) {
                // A function or an aggregation; its arguments are scanned next.
            } else {
                out.insert(word);
            }
        } else {
            i += 1;
        }
    }
    Ok(out)
}

/// Index just past the string literal that starts at `i`.
fn skip_string(b: &[char], i: usize) -> Result<usize> {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            '\\' if quote != '`' => j += 2,
            c if c == quote => return Ok(j + 1),
            _ => j += 1,
        }
    }
    bail!("unterminated string in PromQL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(e: &str) -> Vec<String> {
        metric_names(e).map(|s| s.into_iter().collect()).unwrap_or_else(|err| vec![format!("ERROR {err}")])
    }

    #[test]
    fn metrics_are_found_and_everything_else_skipped() {
        assert_eq!(names(r#"xdhcpd_leases{instance=~"$instance",state="active"}"#), ["xdhcpd_leases"]);
        assert_eq!(
            names(
                r#"histogram_quantile(0.99, sum by (le, peer) (rate(xdhcpd_failover_replication_lag_seconds_bucket{peer=~"$peer"}[$__rate_interval])))"#
            ),
            ["xdhcpd_failover_replication_lag_seconds_bucket"]
        );
        assert_eq!(
            names("sum(rate(a_sum[5m])) without (job) / on (instance) group_left (x) sum(rate(a_count[5m] offset 1h))"),
            ["a_count", "a_sum"]
        );
        assert_eq!(names(r#"up{job="a}b"} and bool 1e3 > ${var} or nan"#), ["up"]);
        assert_eq!(names("max_over_time(m[1h:5m]) # comment metric_in_comment"), ["m"]);
    }

    #[test]
    fn malformed_expressions_are_errors() {
        assert!(metric_names(r#"x{a="b"#).is_err());
        assert!(metric_names("rate(x[5m)").is_err());
    }

    #[test]
    fn variables_and_nested_panels_are_collected() {
        let d = serde_json::json!({
            "panels": [
                {"type": "row", "panels": [{"targets": [{"expr": "a"}]}]},
                {"targets": [{"expr": "b"}, {"expr": "c"}]}
            ],
            "templating": {"list": [
                {"type": "query", "query": {"query": "label_values(d{x=\"1\"}, peer)"}},
                {"type": "query", "query": "label_values(instance)"},
                {"type": "datasource", "query": "prometheus"}
            ]}
        });
        let mut e = expressions(&d);
        e.sort();
        assert_eq!(e, ["", "a", "b", "c", "d{x=\"1\"}"]);
    }
}
