//! `image-factory graph --format dot|mermaid`: the dependency graph of enrolled and base
//! images (an edge points from a base image to the image built on it).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use if_model::factory::Factory;

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// Arguments of `graph`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

/// A set of `(a, b)` pairs: `(name, kind)` nodes or `(base, dependent)` edges.
pub type Pairs = BTreeSet<(String, String)>;

/// Nodes (name, kind) and edges (base, dependent) of the factory, sorted.
pub fn graph(f: &Factory) -> (Pairs, Pairs) {
    let mut nodes = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for (_, s) in &f.images {
        let kind = match (s.status.as_deref(), f.enrollment.get(&s.name)) {
            (Some(st), _) => st,
            (None, Some(e)) if e.is_managed() => "managed",
            _ => "external",
        };
        nodes.insert((s.name.clone(), kind.to_string()));
        for b in &s.base_images {
            edges.insert((b.clone(), s.name.clone()));
        }
    }
    for (_, b) in &f.bases {
        nodes.insert((
            b.name.clone(),
            b.status.clone().unwrap_or_else(|| "base".to_string()),
        ));
    }
    (nodes, edges)
}

/// Graphviz dot.
pub fn dot(f: &Factory) -> String {
    let (nodes, edges) = graph(f);
    let mut out = String::from("digraph image_factory {\n  rankdir=LR;\n");
    for (name, kind) in &nodes {
        let shape = if kind == "base" { "box" } else { "ellipse" };
        let style = if kind == "archived" || kind == "removed" {
            ", style=dashed"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {name:?} [label={:?}, shape={shape}{style}];",
            format!("{name}\n{kind}")
        );
    }
    for (from, to) in &edges {
        let _ = writeln!(out, "  {from:?} -> {to:?};");
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart (node ids are `n0`, `n1`, ... so any name is safe).
pub fn mermaid(f: &Factory) -> String {
    let (nodes, edges) = graph(f);
    let ids: Vec<&String> = nodes.iter().map(|(n, _)| n).collect();
    let id = |n: &String| {
        ids.iter()
            .position(|x| *x == n)
            .map_or_else(|| "unknown".to_string(), |i| format!("n{i}"))
    };
    let mut out = String::from("flowchart LR\n");
    for (name, kind) in &nodes {
        let label = format!("{name}<br/>{kind}").replace('"', "#quot;");
        let (open, close) = if kind == "base" {
            ("[", "]")
        } else {
            ("(", ")")
        };
        let _ = writeln!(out, "  {}{open}\"{label}\"{close}", id(name));
    }
    for (from, to) in &edges {
        let _ = writeln!(out, "  {} --> {}", id(from), id(to));
    }
    out
}

/// Runs `graph`.
pub fn run(cli: &Cli, _args: &Args) -> Result<Outcome, CliError> {
    let (factory, _, _) = load::load_factory(&cli.root)?;
    match cli.format {
        Format::Mermaid => print!("{}", output::escape_controls(&mermaid(&factory))),
        Format::Json => {
            let (nodes, edges) = graph(&factory);
            output::print_json(&serde_json::json!({
                "nodes": nodes.iter().map(|(n, k)| serde_json::json!({"name": n, "kind": k})).collect::<Vec<_>>(),
                "edges": edges.iter().map(|(a, b)| serde_json::json!({"from": a, "to": b})).collect::<Vec<_>>(),
            }))?;
        }
        Format::Dot | Format::Text => print!("{}", output::escape_controls(&dot(&factory))),
    }
    Ok(Outcome::Ok)
}
