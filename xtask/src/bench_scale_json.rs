//! The figures of `cargo xtask bench scale` as JSON (`bench/scale.json` in the target
//! directory, or `--json PATH`), the README's scale table made from that file, and the
//! number formats both use.
//!
//! The file: `{"date", "cores", "floor": "...definition...", "sizes": [{"images", "files",
//! "bytes", "floorSerialS", "floorParallelS", "floorThreads", "commands": [{"name", "wallS",
//! "ratio", "ratioParallel", "maxRssKib", "runs"}]}], "growth": {"NAME": 100k/10k}}`;
//! `check --dry-run`'s entry also has `"check": {"watched", "pushed", "pushS", "checked",
//! "notFound", "requests", "requestsPerImage", "tokenRequests", "tokenRequestsByRegistry",
//! "concurrency", "cpuS"}`.

use std::path::Path;

use crate::bench_scale::SizeResult;
use crate::bench_scale_table::growth;

/// What the floor is, as the file says it.
const FLOOR: &str = "reading every regular file under the synthetic factory's directory once \
(images.yaml, kargo.yaml, state/, the Dockerfiles), listing included, warm page cache; \
ratio = command wall time / serial floor";

/// Writes the figures to `path` (its directory made if need be); the JSON written.
pub fn write(path: &Path, results: &[SizeResult]) -> Result<serde_json::Value, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let date = if_model::timestamp::Timestamp::from_unix(now)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let sizes: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let commands: Vec<serde_json::Value> = r
                .rows
                .iter()
                .map(|row| {
                    let mut c = serde_json::json!({
                        "name": row.name,
                        "wallS": row.wall,
                        "ratio": row.ratio(&r.floor),
                        "ratioParallel": row.ratio_parallel(&r.floor),
                        "maxRssKib": row.rss_kib,
                        "runs": row.runs,
                    });
                    if let Some(f) = &row.check {
                        c["check"] = check_json(f);
                    }
                    c
                })
                .collect();
            serde_json::json!({
                "images": r.n,
                "files": r.floor.files,
                "bytes": r.floor.bytes,
                "floorSerialS": r.floor.serial_s,
                "floorParallelS": r.floor.parallel_s,
                "floorThreads": r.floor.threads,
                "commands": commands,
            })
        })
        .collect();
    let mut growths = serde_json::Map::new();
    let small = results.iter().find(|r| r.n == 10_000);
    let big = results.iter().find(|r| r.n == 100_000);
    if let (Some(small), Some(big)) = (small, big) {
        for row in &big.rows {
            if let Some(g) = growth(small, big, row.name) {
                growths.insert(row.name.to_string(), serde_json::json!(g));
            }
        }
    }
    let json = serde_json::json!({
        "date": date,
        "cores": crate::bench_floor::threads(),
        "floor": FLOOR,
        "sizes": sizes,
        "growth": growths,
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(json)
}

/// `check`'s requests and what was pushed for it.
fn check_json(f: &crate::bench_scale_check::Figures) -> serde_json::Value {
    serde_json::json!({
        "watched": f.pushed.watched,
        "pushed": f.pushed.pushed,
        "pushS": f.pushed.secs,
        "checked": f.run.checked,
        "notFound": f.run.failed,
        "requests": f.run.requests,
        "requestsPerImage": f.run.per_image(),
        "tokenRequests": f.run.token_requests,
        "tokenRequestsByRegistry": f.run.per_registry,
        "concurrency": f.concurrency,
        "cpuS": f.cpu_s,
    })
}

/// The README's scale table from the JSON [`write`] wrote: a row per command (the serial
/// floor first), `wall, ratio to the floor, peak RSS` per size, and the 100k/10k growth.
pub fn readme_table(json: &serde_json::Value) -> String {
    let empty = Vec::new();
    let sizes = json["sizes"].as_array().unwrap_or(&empty);
    let mut out = String::from("| command |");
    let mut rule = String::from("|---|");
    for s in sizes {
        out.push_str(&format!(
            " {} |",
            label(s["images"].as_u64().unwrap_or(0) as usize)
        ));
        rule.push_str("---|");
    }
    out.push_str(" 100k/10k |\n");
    rule.push_str("---|\n");
    out.push_str(&rule);
    let floor_growth = match (size(sizes, 10_000), size(sizes, 100_000)) {
        (Some(a), Some(b)) => format!(
            "{:.1}",
            b["floorSerialS"].as_f64().unwrap_or(0.0) / a["floorSerialS"].as_f64().unwrap_or(1.0)
        ),
        _ => "-".to_string(),
    };
    out.push_str("| floor: read every input once (serial / parallel) |");
    for s in sizes {
        out.push_str(&format!(
            " {} / {} |",
            secs(s["floorSerialS"].as_f64().unwrap_or(0.0)),
            secs(s["floorParallelS"].as_f64().unwrap_or(0.0))
        ));
    }
    out.push_str(&format!(" {floor_growth} |\n"));
    let names: Vec<&str> = sizes
        .first()
        .and_then(|s| s["commands"].as_array())
        .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    for name in names {
        out.push_str(&format!("| {name} |"));
        for s in sizes {
            let c = s["commands"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["name"] == name));
            match c {
                Some(c) => {
                    out.push_str(&format!(
                        " {}, {:.2}x, {}",
                        secs(c["wallS"].as_f64().unwrap_or(0.0)),
                        c["ratio"].as_f64().unwrap_or(0.0),
                        bytes(c["maxRssKib"].as_u64().unwrap_or(0) * 1024)
                    ));
                    let k = &c["check"];
                    if let Some(per_image) = k["requestsPerImage"].as_f64() {
                        out.push_str(&format!(
                            ", {per_image:.2} req/image, {} token req",
                            k["tokenRequests"].as_u64().unwrap_or(0)
                        ));
                    }
                    out.push_str(" |");
                }
                None => out.push_str(" - |"),
            }
        }
        let g = json["growth"][name]
            .as_f64()
            .map_or_else(|| "-".to_string(), |g| format!("{g:.1}"));
        out.push_str(&format!(" {g} |\n"));
    }
    out
}

/// The entry of `sizes` for `n` images.
fn size(sizes: &[serde_json::Value], n: u64) -> Option<&serde_json::Value> {
    sizes.iter().find(|s| s["images"].as_u64() == Some(n))
}

/// `1k`, `10k`, `100k`, or the number.
pub fn label(n: usize) -> String {
    if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// `100,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.1} s")
    }
}

pub fn bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}
