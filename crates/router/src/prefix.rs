//! The `path_prefix` index: a radix tree over path bytes.
//!
//! Why a tree: the longest matching prefix must be tried first, and then, if
//! its routes fail on host, methods or headers, the next shorter one, and so
//! on. One walk down the tree finds the deepest node whose prefix the path
//! starts with; every node also links to its nearest ancestor that holds
//! routes, so falling back to shorter prefixes is a walk up those links. The
//! walk reads each path byte at most once and allocates nothing.
//!
//! Edges carry whole byte strings (runs without branches are one edge), so a
//! typical path touches a handful of nodes. Prefixes are bytes, not chars: a
//! prefix may end inside a multi-byte character, as a plain string prefix may.

/// Index of a node in [`PrefixTree::nodes`]; the root is 0.
type NodeId = usize;

#[derive(Debug, Clone)]
struct Node {
    /// The bytes on the edge from the parent; empty only for the root.
    label: Box<[u8]>,
    /// Children sorted by the first byte of their label (unique per node).
    children: Vec<(u8, NodeId)>,
    /// Routes whose prefix ends exactly here, in precedence order.
    routes: Vec<usize>,
    /// The nearest proper ancestor with routes, if any.
    up: Option<NodeId>,
}

impl Node {
    fn new(label: &[u8]) -> Self {
        Self {
            label: label.into(),
            children: Vec::new(),
            routes: Vec::new(),
            up: None,
        }
    }
}

/// Prefix -> routes, answering "which routes' prefixes does this path start
/// with, longest first".
#[derive(Debug, Clone)]
pub(crate) struct PrefixTree {
    nodes: Vec<Node>,
}

impl Default for PrefixTree {
    fn default() -> Self {
        Self {
            nodes: vec![Node::new(b"")],
        }
    }
}

impl PrefixTree {
    /// Whether no route has been added.
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.iter().all(|node| node.routes.is_empty())
    }

    /// Adds `route` under `prefix`. Routes must be added in precedence order:
    /// each node keeps them in the order they came.
    pub(crate) fn insert(&mut self, prefix: &[u8], route: usize) {
        let node = self.node_for(prefix);
        if let Some(node) = self.nodes.get_mut(node) {
            node.routes.push(route);
        }
    }

    /// Links every node to its nearest ancestor with routes. Call once, after
    /// the last [`insert`](Self::insert).
    pub(crate) fn finish(&mut self) {
        let mut stack: Vec<(NodeId, Option<NodeId>)> = vec![(0, None)];
        while let Some((id, up)) = stack.pop() {
            let Some(node) = self.nodes.get_mut(id) else {
                continue;
            };
            node.up = up;
            let below = if node.routes.is_empty() { up } else { Some(id) };
            stack.extend(node.children.iter().map(|&(_, child)| (child, below)));
        }
    }

    /// The routes whose prefix `path` starts with: longest prefix first, and
    /// within one prefix in precedence order.
    pub(crate) fn candidates<'t>(&'t self, path: &[u8]) -> Candidates<'t> {
        Candidates {
            tree: self,
            node: self.deepest(path),
            next: 0,
        }
    }

    /// The deepest node holding routes whose prefix `path` starts with.
    fn deepest(&self, path: &[u8]) -> Option<NodeId> {
        let mut id = 0;
        let mut rest = path;
        let mut best = None;
        loop {
            let Some(node) = self.nodes.get(id) else {
                return best;
            };
            if !node.routes.is_empty() {
                best = Some(id);
            }
            let Some(&first) = rest.first() else {
                return best;
            };
            let Ok(slot) = node.children.binary_search_by_key(&first, |&(b, _)| b) else {
                return best;
            };
            let Some(&(_, child)) = node.children.get(slot) else {
                return best;
            };
            let Some(label) = self.nodes.get(child).map(|c| &*c.label) else {
                return best;
            };
            let Some(after) = rest.strip_prefix(label) else {
                return best;
            };
            rest = after;
            id = child;
        }
    }

    /// The node for `key`, created (splitting an edge if need be) if absent.
    fn node_for(&mut self, key: &[u8]) -> NodeId {
        let mut id = 0;
        let mut rest = key;
        loop {
            let Some(&first) = rest.first() else {
                return id;
            };
            let Some(node) = self.nodes.get(id) else {
                return id;
            };
            match node.children.binary_search_by_key(&first, |&(b, _)| b) {
                Err(slot) => {
                    let leaf = self.push(Node::new(rest));
                    if let Some(node) = self.nodes.get_mut(id) {
                        node.children.insert(slot, (first, leaf));
                    }
                    return leaf;
                }
                Ok(slot) => {
                    let Some(&(_, child)) = node.children.get(slot) else {
                        return id;
                    };
                    let Some(label) = self.nodes.get(child).map(|c| c.label.clone()) else {
                        return id;
                    };
                    let common = common_prefix_len(&label, rest);
                    let (head, tail) = label.split_at(common);
                    id = match tail.first() {
                        // The edge is a prefix of the key: go down it.
                        None => child,
                        // The key leaves the edge part way: split the edge so
                        // a node sits where they part.
                        Some(&tail_first) => {
                            let mut middle = Node::new(head);
                            middle.children.push((tail_first, child));
                            let middle = self.push(middle);
                            if let Some(node) = self.nodes.get_mut(child) {
                                node.label = tail.into();
                            }
                            if let Some(entry) = self
                                .nodes
                                .get_mut(id)
                                .and_then(|n| n.children.get_mut(slot))
                            {
                                entry.1 = middle;
                            }
                            middle
                        }
                    };
                    rest = rest.get(common..).unwrap_or_default();
                }
            }
        }
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Route indices from the deepest matching prefix up to the shortest.
#[derive(Debug, Clone)]
pub(crate) struct Candidates<'t> {
    tree: &'t PrefixTree,
    node: Option<NodeId>,
    next: usize,
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        loop {
            let node = self.tree.nodes.get(self.node?)?;
            if let Some(&route) = node.routes.get(self.next) {
                self.next += 1;
                return Some(route);
            }
            self.node = node.up;
            self.next = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(prefixes: &[&str]) -> PrefixTree {
        let mut tree = PrefixTree::default();
        for (route, prefix) in prefixes.iter().enumerate() {
            tree.insert(prefix.as_bytes(), route);
        }
        tree.finish();
        tree
    }

    fn found(tree: &PrefixTree, path: &str) -> Vec<usize> {
        tree.candidates(path.as_bytes()).collect()
    }

    #[test]
    fn longest_first_then_shorter() {
        let t = tree(&["/api", "/api/v1", "/", "/apx", "/api/v1/users", "/b"]);
        assert_eq!(found(&t, "/api/v1/users/7"), vec![4, 1, 0, 2]);
        assert_eq!(found(&t, "/api/v2"), vec![0, 2]);
        assert_eq!(found(&t, "/ap"), vec![2]);
        assert_eq!(found(&t, "/apx"), vec![3, 2]);
        assert_eq!(found(&t, "x"), Vec::<usize>::new());
        assert_eq!(found(&t, ""), Vec::<usize>::new());
    }

    #[test]
    fn empty_prefix_matches_everything() {
        let t = tree(&["", "/a"]);
        assert_eq!(found(&t, "/a"), vec![1, 0]);
        assert_eq!(found(&t, ""), vec![0]);
    }

    #[test]
    fn same_prefix_keeps_insert_order() {
        let t = tree(&["/a", "/a", "/ab", "/a"]);
        assert_eq!(found(&t, "/abc"), vec![2, 0, 1, 3]);
    }

    #[test]
    fn splits_inside_multibyte_chars() {
        // "é" is 0xC3 0xA9 and "è" is 0xC3 0xA8: they part inside the char.
        let t = tree(&["/é", "/è", "/\u{c3}"]);
        assert_eq!(found(&t, "/é/x"), vec![0]);
        assert_eq!(found(&t, "/è"), vec![1]);
        assert!(!t.is_empty());
        assert!(PrefixTree::default().is_empty());
    }
}
