//! The internal dependency graph: which images are built `FROM` which other images of the
//! factory, its cycles, the ancestors of an image and a topological order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use if_model::enrollment::Enrollment;
use if_model::state::BaseImageState;

use super::supply::Policed;
use crate::analyze::Analysis;

/// Internal links: image → the images of the factory it is built on. The names are its
/// own, so the graph outlives changes to the states (the links come from `FROM` lines,
/// which no engine step changes): [`super::plan`] builds it once for all its decisions.
///
/// Images are numbered in name order (the order of the states): a link is a number, an
/// ancestor walk touches no string, and a set of numbers is a set of names in name order.
pub(crate) struct Graph {
    /// Every image with a state file, sorted by name.
    names: Vec<String>,
    /// Per image (by number), its internal parents, in `baseImages` order.
    parents: Vec<Vec<usize>>,
}

impl Graph {
    /// The graph of every image with a state file.
    pub(crate) fn of(world: &Analysis) -> Self {
        let names: Vec<String> = world.images.keys().cloned().collect();
        let number = |name: &str| names.binary_search_by(|n| n.as_str().cmp(name)).ok();
        let parents = world
            .images
            .values()
            .map(|s| s.base_images.iter().filter_map(|b| number(b)).collect())
            .collect();
        Graph { names, parents }
    }

    /// The number of image `name`, when it has a state file.
    fn number(&self, name: &str) -> Option<usize> {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()
    }

    /// Every image `name` is built on, directly or not (without `name` unless in a cycle),
    /// sorted by name.
    pub(crate) fn ancestors(&self, name: &str) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<usize> = self
            .number(name)
            .map(|i| self.parents[i].clone())
            .unwrap_or_default();
        while let Some(p) = todo.pop() {
            if seen.insert(p) {
                todo.extend(&self.parents[p]);
            }
        }
        seen.into_iter().map(|i| self.names[i].as_str()).collect()
    }

    /// The strongly connected components with more than one image, and self-loops: each
    /// sorted, the list sorted. Iterative Tarjan, so deep chains cannot overflow the stack.
    pub(crate) fn cycles(&self) -> Vec<Vec<String>> {
        let edges = &self.parents;
        let mut t = Tarjan::new(self.names.len());
        for v in 0..self.names.len() {
            if t.index[v].is_none() {
                t.run(v, edges);
            }
        }
        let mut out: Vec<Vec<String>> = t
            .components
            .into_iter()
            .filter(|c| c.len() > 1 || c.iter().any(|v| edges[*v].contains(v)))
            .map(|mut c| {
                // Numbers are in name order.
                c.sort_unstable();
                c.into_iter().map(|v| self.names[v].clone()).collect()
            })
            .collect();
        out.sort();
        out
    }

    /// Each image's place in an order where every image comes after its internal parents
    /// (Kahn's, the smallest name first among the ready ones); images in cycles come last,
    /// by name. Indexed by the image's number.
    fn ranks(&self) -> Vec<usize> {
        let n = self.names.len();
        let mut remaining = vec![0usize; n];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (c, ps) in self.parents.iter().enumerate() {
            let ps: BTreeSet<usize> = ps.iter().copied().collect();
            remaining[c] = ps.len();
            for p in ps {
                children[p].push(c);
            }
        }
        let mut ready: BTreeSet<usize> = (0..n).filter(|c| remaining[*c] == 0).collect();
        let mut rank = vec![usize::MAX; n];
        let mut next = 0;
        while let Some(v) = ready.pop_first() {
            rank[v] = next;
            next += 1;
            for &c in &children[v] {
                remaining[c] -= 1;
                if remaining[c] == 0 {
                    ready.insert(c);
                }
            }
        }
        for r in rank.iter_mut().filter(|r| **r == usize::MAX) {
            *r = next;
            next += 1;
        }
        rank
    }
}

/// What a decision needs of the graph, worked out once: the graph, every image's place in
/// the topological order, the cycles, the base images by name and the images with a
/// supply-chain policy. A loop of decisions on the same images
/// ([`super::plan`]) keeps one instead of ordering the whole factory for each decision.
pub(crate) struct Links {
    pub(crate) graph: Graph,
    pub(crate) cycles: Vec<Vec<String>>,
    /// Per image number, its place in the topological order.
    rank: Vec<usize>,
    pub(crate) base_names: BaseNames,
    pub(crate) policed: Policed,
}

/// The base-image states by name (`python-3.12-slim`, what causes and `baseImages` say),
/// worked out once: the identity each name is kept under. Where two identities share a name
/// the one sorted last wins, as in a map built from the states in order.
pub(crate) struct BaseNames(HashMap<String, String>);

impl BaseNames {
    /// The names of every base-image state of `world`.
    pub(crate) fn of(world: &Analysis) -> Self {
        BaseNames(
            world
                .bases
                .iter()
                .map(|(id, b)| (b.name.clone(), id.clone()))
                .collect(),
        )
    }

    /// The state of the base image named `name` in `world`.
    pub(crate) fn get<'w>(&self, world: &'w Analysis, name: &str) -> Option<&'w BaseImageState> {
        self.get_in(&world.bases, name)
    }

    /// [`BaseNames::get`] in the base images alone (while the images are being changed).
    pub(crate) fn get_in<'w>(
        &self,
        bases: &'w BTreeMap<String, BaseImageState>,
        name: &str,
    ) -> Option<&'w BaseImageState> {
        bases.get(self.0.get(name)?)
    }
}

impl Links {
    /// The links of every image with a state file.
    pub(crate) fn of(enrollment: &Enrollment, world: &Analysis) -> Self {
        let graph = Graph::of(world);
        let cycles = graph.cycles();
        let rank = graph.ranks();
        Links {
            graph,
            cycles,
            rank,
            base_names: BaseNames::of(world),
            policed: Policed::of(enrollment),
        }
    }

    /// The images of `world` with a pending rebuild (a cause), in the topological order;
    /// images the links do not know (none, when they were made from the same images) come
    /// last, by name. One pass over the states and a sort of the pending ones.
    pub(crate) fn pending<'w>(&self, world: &'w Analysis) -> Vec<&'w str> {
        let mut out: Vec<(usize, &'w str)> = world
            .images
            .iter()
            .filter(|(_, s)| {
                s.rebuild_state
                    .as_ref()
                    .is_some_and(|r| !r.causes.is_empty())
            })
            .map(|(n, _)| {
                let rank = self.graph.number(n).and_then(|i| self.rank.get(i));
                (rank.copied().unwrap_or(usize::MAX), n.as_str())
            })
            .collect();
        out.sort_unstable();
        out.into_iter().map(|(_, n)| n).collect()
    }
}

/// Tarjan's strongly connected components, with an explicit stack.
struct Tarjan {
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn new(n: usize) -> Self {
        Tarjan {
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            components: Vec::new(),
        }
    }

    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
    }

    fn run(&mut self, root: usize, edges: &[Vec<usize>]) {
        self.visit(root);
        // (node, index of the next edge to look at)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some((v, i)) = work.pop() {
            if let Some(&w) = edges[v].get(i) {
                work.push((v, i + 1));
                match self.index[w] {
                    None => {
                        self.visit(w);
                        work.push((w, 0));
                    }
                    Some(wi) if self.on_stack[w] => self.low[v] = self.low[v].min(wi),
                    Some(_) => {}
                }
                continue;
            }
            if let Some(&(parent, _)) = work.last() {
                self.low[parent] = self.low[parent].min(self.low[v]);
            }
            if Some(self.low[v]) == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }
}

/// The dependency cycles among the factory's images, each sorted by name.
pub fn cycles(world: &Analysis) -> Vec<Vec<String>> {
    Graph::of(world).cycles()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{day, digest, img, reference, setup};
    use super::super::{Decision, Policy, decide, record_update};
    use super::*;

    /// Links worked out before the causes arrive (as `plan` does, once for all its
    /// decisions) order the pending images by their `FROM` links, not by name, and decide
    /// exactly as a fresh [`decide::reconcile`] does: the parent first, its dependents wait.
    #[test]
    fn links_made_once_order_later_causes_like_a_fresh_decision() {
        let (en, mut w) = setup(&[
            img("a-leaf", &["@m-mid", "node:22"]),
            img("m-mid", &["@z-base", "node:22"]),
            img("z-base", &["node:22"]),
            img("b-alone", &["redis:7"]),
        ]);
        let links = Links::of(&en, &w);
        assert!(links.pending(&w).is_empty());
        for (d, at) in [(1, day(0)), (2, day(1))] {
            record_update(&en, &mut w, &reference("node:22"), &digest(d), at).unwrap();
        }
        assert_eq!(links.pending(&w), ["z-base", "m-mid", "a-leaf"]);
        let policy = Policy::default();
        let mut fresh = w.clone();
        let expected = decide::reconcile(&en, &mut fresh, day(9), &policy);
        let got = decide::reconcile_with(&en, &mut w, day(9), &policy, &links, None);
        assert_eq!(got, expected);
        assert_eq!(w.images, fresh.images);
        assert_eq!(w.changes, fresh.changes);
        let triggered: Vec<&str> = got.triggers.iter().map(|t| t.image.as_str()).collect();
        assert_eq!(triggered, ["z-base"]);
        let waiting: Vec<&str> = got.waiting.iter().map(|x| x.image.as_str()).collect();
        assert_eq!(waiting, ["m-mid", "a-leaf"]);
    }

    /// A preview (`status`) decides exactly as `reconcile`, names the images `reconcile`
    /// triggers in the same order, and builds no trigger.
    #[test]
    fn a_preview_is_a_decision_without_its_triggers() {
        let (en, mut w) = setup(&[
            img("a-leaf", &["@m-mid", "node:22"]),
            img("m-mid", &["@z-base", "node:22"]),
            img("z-base", &["node:22"]),
            img("b-alone", &["node:22"]),
            img("c-alone", &["node:22"]),
        ]);
        for (d, at) in [(1, day(0)), (2, day(1))] {
            record_update(&en, &mut w, &reference("node:22"), &digest(d), at).unwrap();
        }
        let policy = Policy::default();
        let mut full = w.clone();
        let expected = decide::reconcile(&en, &mut full, day(9), &policy);
        let (got, ready) = decide::preview(&en, &mut w, day(9), &policy);
        let triggered: Vec<&str> = expected.triggers.iter().map(|t| t.image.as_str()).collect();
        assert_eq!(triggered, ["b-alone", "c-alone", "z-base"]);
        assert_eq!(ready, triggered);
        assert!(got.triggers.is_empty());
        assert_eq!(
            Decision {
                triggers: Vec::new(),
                ..expected
            },
            got
        );
        assert_eq!(w.images, full.images);
        assert_eq!(w.changes, full.changes);
    }
}
