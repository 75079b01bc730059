//! The internal dependency graph: which images are built `FROM` which other images of the
//! factory, its cycles, the ancestors of an image and a topological order.

use std::collections::{BTreeMap, BTreeSet};

use crate::analyze::Analysis;

/// Internal links: image → the images of the factory it is built on.
pub(crate) struct Graph<'a> {
    parents: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Graph<'a> {
    /// The graph of every image with a state file.
    pub(crate) fn of(world: &'a Analysis) -> Self {
        let parents = world
            .images
            .iter()
            .map(|(name, s)| {
                let ps = s
                    .base_images
                    .iter()
                    .map(String::as_str)
                    .filter(|b| world.images.contains_key(*b))
                    .collect();
                (name.as_str(), ps)
            })
            .collect();
        Graph { parents }
    }

    /// Every image `name` is built on, directly or not (without `name` unless in a cycle).
    pub(crate) fn ancestors(&self, name: &str) -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&'a str> = self.parents.get(name).cloned().unwrap_or_default();
        while let Some(p) = todo.pop() {
            if seen.insert(p) {
                todo.extend(self.parents.get(p).into_iter().flatten().copied());
            }
        }
        seen
    }

    /// The strongly connected components with more than one image, and self-loops: each
    /// sorted, the list sorted. Iterative Tarjan, so deep chains cannot overflow the stack.
    pub(crate) fn cycles(&self) -> Vec<Vec<String>> {
        let nodes: Vec<&str> = self.parents.keys().copied().collect();
        let index_of: BTreeMap<&str, usize> =
            nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let edges: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| {
                self.parents[n]
                    .iter()
                    .filter_map(|p| index_of.get(p).copied())
                    .collect()
            })
            .collect();
        let mut t = Tarjan::new(nodes.len());
        for v in 0..nodes.len() {
            if t.index[v].is_none() {
                t.run(v, &edges);
            }
        }
        let mut out: Vec<Vec<String>> = t
            .components
            .into_iter()
            .filter(|c| c.len() > 1 || c.iter().any(|v| edges[*v].contains(v)))
            .map(|c| {
                let mut names: Vec<String> = c.iter().map(|v| nodes[*v].to_string()).collect();
                names.sort();
                names
            })
            .collect();
        out.sort();
        out
    }

    /// Images in an order where every image comes after its internal parents; images in
    /// cycles come last, by name.
    pub(crate) fn topological(&self) -> Vec<&'a str> {
        let mut remaining: BTreeMap<&str, usize> = BTreeMap::new();
        let mut children: BTreeMap<&str, Vec<&'a str>> = BTreeMap::new();
        for (n, ps) in &self.parents {
            let ps: BTreeSet<&str> = ps.iter().copied().collect();
            remaining.insert(n, ps.len());
            for p in ps {
                children.entry(p).or_default().push(n);
            }
        }
        let mut ready: BTreeSet<&'a str> = remaining
            .iter()
            .filter(|(_, c)| **c == 0)
            .map(|(n, _)| *n)
            .collect();
        let mut order = Vec::with_capacity(remaining.len());
        while let Some(n) = ready.pop_first() {
            order.push(n);
            for c in children.get(n).into_iter().flatten() {
                if let Some(r) = remaining.get_mut(c) {
                    *r -= 1;
                    if *r == 0 {
                        ready.insert(c);
                    }
                }
            }
        }
        let placed: BTreeSet<&str> = order.iter().copied().collect();
        order.extend(self.parents.keys().copied().filter(|n| !placed.contains(n)));
        order
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
