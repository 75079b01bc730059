//! Generators of hostile Dockerfiles, shared by the property tests and `cargo xtask bench
//! dockerfile`: the three attacks of issue 19 (exponential ARG expansion, `${a:-` nested
//! thousands deep, a long chain of `ONBUILD`) and deep and wide variants of them. Each must
//! be analysed in time and memory linear in its size.

/// `lines` ARGs, each the previous one twice (`ARG aN=${aN-1}${aN-1}`), then a FROM using
/// the last: the value doubles at every line (2^`lines` bytes unbounded).
pub fn exponential_args(lines: usize) -> String {
    let mut s = String::from("ARG a0=xx\n");
    for i in 1..lines {
        s.push_str(&format!("ARG a{i}=${{a{p}}}${{a{p}}}\n", p = i - 1));
    }
    s.push_str(&format!("FROM alpine:${{a{}}}\n", lines.saturating_sub(1)));
    s
}

/// A FROM whose image is `${a:-` nested `depth` deep around `alpine`, continued every
/// 1,000 levels (BuildKit joins the lines before expanding).
pub fn nested_default(depth: usize) -> String {
    let mut s = String::from("FROM ");
    for k in 0..depth {
        s.push_str("${a:-");
        if k % 1_000 == 999 {
            s.push_str("\\\n");
        }
    }
    s.push_str("alpine");
    s.push_str(&"}".repeat(depth));
    s.push('\n');
    s
}

/// `ONBUILD ` repeated `n` times on one logical line before `RUN x` (continued every 64
/// repetitions: one physical line that long is refused as too long before anything else).
pub fn onbuild_chain(n: usize) -> String {
    onbuild_lines(1, n)
}

/// Deep variant: `lines` global ARGs, each a default nested `depth` deep that ends in the
/// previous ARG, then a FROM of the last.
pub fn deep_args(lines: usize, depth: usize) -> String {
    let mut s = String::from("ARG a0=v\n");
    for i in 1..lines {
        s.push_str(&format!(
            "ARG a{i}={}${{a{}}}{}\n",
            "${u:-".repeat(depth),
            i - 1,
            "}".repeat(depth)
        ));
    }
    s.push_str(&format!("FROM alpine:${{a{}}}\n", lines.saturating_sub(1)));
    s
}

/// Wide variant: `lines` global ARGs, each the previous one `width` times, then a FROM of
/// the last (grows as `width`^`lines`).
pub fn wide_args(lines: usize, width: usize) -> String {
    let mut s = String::from("ARG a0=v\n");
    for i in 1..lines {
        s.push_str(&format!(
            "ARG a{i}={}\n",
            format!("${{a{}}}", i - 1).repeat(width)
        ));
    }
    s.push_str(&format!("FROM alpine:${{a{}}}\n", lines.saturating_sub(1)));
    s
}

/// Wide ONBUILD variant: `lines` logical lines of `ONBUILD ` repeated `n` times before
/// `RUN x`, continued every 64 repetitions.
pub fn onbuild_lines(lines: usize, n: usize) -> String {
    let mut s = String::from("FROM alpine\n");
    for _ in 0..lines {
        for k in 0..n {
            s.push_str("ONBUILD ");
            if k % 64 == 63 {
                s.push_str("\\\n");
            }
        }
        s.push_str("RUN x\n");
    }
    s
}
