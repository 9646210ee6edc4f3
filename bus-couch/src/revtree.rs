//! Revision trees: every revision of a document with its parent, merged, stemmed, and the
//! winner picked exactly as CouchDB and PouchDB pick it.
//!
//! A revision is `N-hash` (`N` its depth from the first edit). The tree is a forest in
//! general: stemming cuts old ancestors, and a replicated path may share no revision with
//! what is stored. A node records whether its revision is a deletion and whether its body
//! is stored (ancestors learnt from `_revisions` have no body: "missing").

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

/// A parsed revision id: position (generation) and hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rev {
    /// The generation, counted from 1.
    pub pos: u64,
    /// The hash part after the dash.
    pub hash: String,
}

impl Rev {
    /// Parses `N-hash`; `None` for anything else (no dash, `N` not a positive integer,
    /// empty hash).
    pub fn parse(text: &str) -> Option<Rev> {
        let (pos, hash) = text.split_once('-')?;
        let pos: u64 = pos.parse().ok()?;
        // An empty hash (`1-`) is a revision CouchDB and PouchDB accept (PouchDB #7829).
        if pos == 0 || pos.to_string().len() != text.len() - hash.len() - 1 {
            return None;
        }
        Some(Rev {
            pos,
            hash: hash.to_owned(),
        })
    }
}

impl std::fmt::Display for Rev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.pos, self.hash)
    }
}

/// One revision in a tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The parent, unless this is a root (a first edit, or the oldest kept after stemming).
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Rev>,
    /// Whether this revision deletes the document.
    #[serde(rename = "d", default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Whether the revision's body is stored.
    #[serde(rename = "b", default, skip_serializing_if = "std::ops::Not::not")]
    pub body: bool,
}

impl Serialize for Rev {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rev {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Rev::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("bad rev {text:?}")))
    }
}

/// A document's revision tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevTree {
    nodes: BTreeMap<Rev, Node>,
}

impl RevTree {
    /// An empty tree (a document never written).
    pub fn new() -> RevTree {
        RevTree::default()
    }

    /// Whether the tree has no revision.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node of `rev`, if known.
    pub fn get(&self, rev: &Rev) -> Option<&Node> {
        self.nodes.get(rev)
    }

    /// Every revision, oldest generation first.
    pub fn revs(&self) -> impl Iterator<Item = (&Rev, &Node)> {
        self.nodes.iter()
    }

    /// Marks whether `rev`'s body is stored.
    pub fn set_body(&mut self, rev: &Rev, stored: bool) {
        if let Some(n) = self.nodes.get_mut(rev) {
            n.body = stored;
        }
    }

    /// Revisions that are no other revision's parent, highest generation first, then
    /// highest hash (the order CouchDB lists them in).
    pub fn leaves(&self) -> Vec<Rev> {
        let parents: HashSet<&Rev> = self
            .nodes
            .values()
            .filter_map(|n| n.parent.as_ref())
            .collect();
        let mut leaves: Vec<Rev> = self
            .nodes
            .keys()
            .filter(|r| !parents.contains(r))
            .cloned()
            .collect();
        leaves.sort_by(|a, b| b.cmp(a));
        leaves
    }

    /// Whether `rev` is a leaf.
    pub fn is_leaf(&self, rev: &Rev) -> bool {
        self.nodes.contains_key(rev) && !self.nodes.values().any(|n| n.parent.as_ref() == Some(rev))
    }

    /// The winning revision: a leaf that is not deleted beats a deleted one, then the
    /// highest generation, then the highest hash (compared as strings) — CouchDB's rule,
    /// and PouchDB's `winningRev`.
    pub fn winner(&self) -> Option<Rev> {
        self.leaves().into_iter().max_by(|a, b| {
            let da = self.nodes[a].deleted;
            let db = self.nodes[b].deleted;
            db.cmp(&da)
                .then(a.pos.cmp(&b.pos))
                .then(a.hash.cmp(&b.hash))
        })
    }

    /// Whether the winner is a deletion (or there is no revision at all).
    pub fn winner_deleted(&self) -> bool {
        self.winner().is_none_or(|w| self.nodes[&w].deleted)
    }

    /// Leaves that are not deleted, but the winner (`_conflicts`).
    pub fn conflicts(&self) -> Vec<Rev> {
        let winner = self.winner();
        self.leaves()
            .into_iter()
            .filter(|r| Some(r) != winner.as_ref() && !self.nodes[r].deleted)
            .collect()
    }

    /// Deleted leaves but the winner (`_deleted_conflicts`).
    pub fn deleted_conflicts(&self) -> Vec<Rev> {
        let winner = self.winner();
        self.leaves()
            .into_iter()
            .filter(|r| Some(r) != winner.as_ref() && self.nodes[r].deleted)
            .collect()
    }

    /// `rev` and its known ancestors, newest first.
    pub fn ancestry(&self, rev: &Rev) -> Vec<Rev> {
        let mut out = Vec::new();
        let mut cur = Some(rev.clone());
        while let Some(r) = cur {
            let Some(node) = self.nodes.get(&r) else {
                break;
            };
            cur = node.parent.clone();
            out.push(r);
        }
        out
    }

    /// Leaves descending from `rev` (itself when it is a leaf): `latest=true`.
    pub fn leaves_from(&self, rev: &Rev) -> Vec<Rev> {
        self.leaves()
            .into_iter()
            .filter(|leaf| self.ancestry(leaf).contains(rev))
            .collect()
    }

    /// Merges a path of revisions, newest first (`rev`, its parent, …; what `_revisions`
    /// says). The newest gets `deleted` and a body. Returns whether the newest revision was
    /// new to the tree.
    pub fn merge_path(&mut self, path: &[Rev], deleted: bool) -> bool {
        let Some(newest) = path.first() else {
            return false;
        };
        if let Some(node) = self.nodes.get_mut(newest) {
            // Known already: at most learn a parent a stemmed tree had forgotten.
            if node.parent.is_none()
                && let Some(parent) = path.get(1)
            {
                node.parent = Some(parent.clone());
                self.add_ancestors(&path[1..]);
            }
            return false;
        }
        self.nodes.insert(
            newest.clone(),
            Node {
                parent: path.get(1).cloned(),
                deleted,
                body: true,
            },
        );
        self.add_ancestors(&path[1..]);
        true
    }

    fn add_ancestors(&mut self, path: &[Rev]) {
        for (i, rev) in path.iter().enumerate() {
            let parent = path.get(i + 1).cloned();
            match self.nodes.get_mut(rev) {
                Some(node) => {
                    if node.parent.is_none() && parent.is_some() {
                        node.parent = parent;
                        continue;
                    }
                    return; // the rest of the path is known
                }
                None => {
                    self.nodes.insert(
                        rev.clone(),
                        Node {
                            parent,
                            deleted: false,
                            body: false,
                        },
                    );
                }
            }
        }
    }

    /// Keeps, on every path from a leaf, only the `limit` newest revisions (CouchDB's and
    /// PouchDB's `revs_limit`). Returns the revisions removed.
    pub fn stem(&mut self, limit: usize) -> Vec<Rev> {
        let limit = limit.max(1);
        // As CouchDB and PouchDB do it: each root-to-leaf path is cut to its `limit`
        // newest revisions and the cut paths merged again; an edge survives only inside
        // some leaf's window, as
        // in PouchDB's `stem`.
        let mut keep: BTreeSet<Rev> = BTreeSet::new();
        let mut edges: HashSet<(Rev, Rev)> = HashSet::new();
        for leaf in self.leaves() {
            let window: Vec<Rev> = self.ancestry(&leaf).into_iter().take(limit).collect();
            for pair in window.windows(2) {
                edges.insert((pair[0].clone(), pair[1].clone()));
            }
            keep.extend(window);
        }
        let removed: Vec<Rev> = self
            .nodes
            .keys()
            .filter(|r| !keep.contains(r))
            .cloned()
            .collect();
        for r in &removed {
            self.nodes.remove(r);
        }
        for (rev, node) in self.nodes.iter_mut() {
            if let Some(p) = &node.parent
                && !edges.contains(&(rev.clone(), p.clone()))
            {
                node.parent = None;
            }
        }
        removed
    }

    /// Of `revs`, those the tree does not know.
    pub fn missing<'a>(&self, revs: impl IntoIterator<Item = &'a Rev>) -> Vec<Rev> {
        revs.into_iter()
            .filter(|r| !self.nodes.contains_key(r))
            .cloned()
            .collect()
    }

    /// Leaves of a lower generation than the highest of `missing` (`possible_ancestors`).
    pub fn possible_ancestors(&self, missing: &[Rev]) -> Vec<Rev> {
        let top = missing.iter().map(|r| r.pos).max().unwrap_or(0);
        self.leaves().into_iter().filter(|l| l.pos < top).collect()
    }

    /// `_revisions` for `rev`: `{start, ids}`.
    pub fn revisions_json(&self, rev: &Rev) -> serde_json::Value {
        let chain = self.ancestry(rev);
        serde_json::json!({
            "start": rev.pos,
            "ids": chain.iter().map(|r| r.hash.as_str()).collect::<Vec<_>>(),
        })
    }
}

/// Turns `_revisions` (`{start, ids}`) into a path of revisions, newest first.
///
/// `None` when the shape is wrong (ids not strings, `start` smaller than the path).
pub fn path_from_revisions(value: &serde_json::Value) -> Option<Vec<Rev>> {
    let start = value.get("start")?.as_u64()?;
    let ids = value.get("ids")?.as_array()?;
    if ids.is_empty() || (ids.len() as u64) > start {
        return None;
    }
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let hash = id.as_str().filter(|h| !h.is_empty())?;
            Some(Rev {
                pos: start - i as u64,
                hash: hash.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(s: &str) -> Rev {
        Rev::parse(s).unwrap()
    }

    fn path(revs: &[&str]) -> Vec<Rev> {
        revs.iter().map(|s| r(s)).collect()
    }

    #[test]
    fn parses_revs() {
        assert_eq!(
            r("3-abc"),
            Rev {
                pos: 3,
                hash: "abc".into()
            }
        );
        for bad in ["", "abc", "0-a", "-a", "x-a", "01-a", "+1-a"] {
            assert!(Rev::parse(bad).is_none(), "{bad}");
        }
        // A bare `1-` is a revision (PouchDB #7829 writes one with new_edits=false).
        assert_eq!(r("1-").hash, "");
        assert_eq!(r("12-a-b").hash, "a-b");
    }

    #[test]
    fn linear_edits_and_winner() {
        let mut t = RevTree::new();
        assert!(t.merge_path(&path(&["1-a"]), false));
        assert!(t.merge_path(&path(&["2-b", "1-a"]), false));
        assert_eq!(t.leaves(), path(&["2-b"]));
        assert_eq!(t.winner(), Some(r("2-b")));
        assert!(t.conflicts().is_empty());
        assert!(
            !t.merge_path(&path(&["2-b", "1-a"]), false),
            "known already"
        );
    }

    #[test]
    fn conflicts_pick_the_highest_hash_and_non_deleted_wins() {
        let mut t = RevTree::new();
        t.merge_path(&path(&["2-b", "1-a"]), false);
        t.merge_path(&path(&["2-c", "1-a"]), false);
        assert_eq!(t.winner(), Some(r("2-c")));
        assert_eq!(t.conflicts(), path(&["2-b"]));
        // A deeper deleted branch loses to a shallower live one.
        t.merge_path(&path(&["3-z", "2-c", "1-a"]), true);
        assert_eq!(t.winner(), Some(r("2-b")));
        assert_eq!(t.deleted_conflicts(), path(&["3-z"]));
        assert!(t.conflicts().is_empty());
        // Every leaf deleted: the highest deleted one wins.
        t.merge_path(&path(&["3-a", "2-b", "1-a"]), true);
        assert_eq!(t.winner(), Some(r("3-z")));
        assert!(t.winner_deleted());
    }

    #[test]
    fn stemming_keeps_the_newest_revs_of_each_branch() {
        let mut t = RevTree::new();
        t.merge_path(&path(&["5-e", "4-d", "3-c", "2-b", "1-a"]), false);
        t.merge_path(&path(&["3-x", "2-b", "1-a"]), false);
        let removed = t.stem(2);
        assert_eq!(removed, path(&["1-a", "3-c"]));
        assert_eq!(t.ancestry(&r("5-e")), path(&["5-e", "4-d"]));
        assert_eq!(t.ancestry(&r("3-x")), path(&["3-x", "2-b"]));
        assert_eq!(t.get(&r("2-b")).unwrap().parent, None);
        assert_eq!(t.winner(), Some(r("5-e")));
        // A short branch keeps an old ancestor the long one had cut: the edge from the
        // long branch to it is not kept (no history grows past the limit).
        let mut t = RevTree::new();
        t.merge_path(&path(&["3-c", "2-b", "1-a"]), false);
        t.merge_path(&path(&["2-x", "1-a"]), false);
        t.stem(2);
        assert_eq!(t.ancestry(&r("3-c")), path(&["3-c", "2-b"]));
        assert_eq!(t.ancestry(&r("2-x")), path(&["2-x", "1-a"]));
    }

    #[test]
    fn latest_and_revs_diff() {
        let mut t = RevTree::new();
        t.merge_path(&path(&["3-c", "2-b", "1-a"]), false);
        t.merge_path(&path(&["2-x", "1-a"]), false);
        assert_eq!(t.leaves_from(&r("1-a")), path(&["3-c", "2-x"]));
        assert_eq!(t.leaves_from(&r("2-b")), path(&["3-c"]));
        assert_eq!(t.missing(&path(&["2-b", "4-d"])), path(&["4-d"]));
        assert_eq!(t.possible_ancestors(&path(&["4-d"])), path(&["3-c", "2-x"]));
        assert_eq!(
            t.revisions_json(&r("3-c")),
            serde_json::json!({"start": 3, "ids": ["c", "b", "a"]})
        );
        assert!(
            !t.get(&r("2-b")).unwrap().body,
            "an ancestor from a path has no body"
        );
    }

    #[test]
    fn revisions_json_round_trips() {
        let p =
            path_from_revisions(&serde_json::json!({"start": 3, "ids": ["c", "b", "a"]})).unwrap();
        assert_eq!(p, path(&["3-c", "2-b", "1-a"]));
        assert!(path_from_revisions(&serde_json::json!({"start": 1, "ids": ["c", "b"]})).is_none());
        assert!(path_from_revisions(&serde_json::json!({"start": 1, "ids": [1]})).is_none());
    }

    /// The reference model: a set of full histories (root first), as a client that never
    /// stems would hold them. Leaves and the winner come from plain set logic.
    type ModelRev = (u64, String);

    #[derive(Default, Debug)]
    struct Model {
        /// rev -> (parent, deleted)
        revs: BTreeMap<ModelRev, (Option<ModelRev>, bool)>,
    }

    impl Model {
        fn add(&mut self, chain: &[(u64, String)], deleted: bool) {
            for (i, rev) in chain.iter().enumerate() {
                let parent = chain.get(i + 1).cloned();
                let is_new = !self.revs.contains_key(rev);
                if is_new {
                    self.revs.insert(rev.clone(), (parent, i == 0 && deleted));
                }
            }
        }
        fn leaves(&self) -> BTreeSet<(u64, String)> {
            let parents: BTreeSet<_> = self.revs.values().filter_map(|(p, _)| p.clone()).collect();
            self.revs
                .keys()
                .filter(|r| !parents.contains(*r))
                .cloned()
                .collect()
        }
        fn winner(&self) -> Option<(u64, String)> {
            let leaves = self.leaves();
            let live: Vec<_> = leaves
                .iter()
                .filter(|r| !self.revs[*r].1)
                .cloned()
                .collect();
            let pool = if live.is_empty() {
                leaves.into_iter().collect()
            } else {
                live
            };
            pool.into_iter().max()
        }
    }

    /// A random history: each edit extends an earlier revision (or starts a new root),
    /// with a random hash and deletion flag. Edits are replayed as paths, newest first.
    fn edits() -> impl Strategy<Value = Vec<(usize, u8, bool)>> {
        prop::collection::vec((any::<usize>(), 0u8..6, prop::bool::weighted(0.2)), 1..40)
    }

    proptest! {
        #[test]
        fn merge_matches_the_reference_model(edits in edits(), limit in 1usize..8) {
            let mut chains: Vec<Vec<(u64, String)>> = Vec::new();
            let mut tree = RevTree::new();
            let mut model = Model::default();
            let mut stemmed = RevTree::new();
            for (i, (pick, h, deleted)) in edits.into_iter().enumerate() {
                // A revision id names its whole history (CouchDB hashes the parent in),
                // so each edit gets a fresh one; replays re-send an earlier path.
                let replay = !chains.is_empty() && pick % 5 == 1;
                let (chain, deleted) = if replay {
                    let c: Vec<(u64, String)> = chains[pick % chains.len()].clone();
                    let d = model.revs[&c[0]].1;
                    (c, d)
                } else if chains.is_empty() || pick % 7 == 0 {
                    (vec![(1, format!("{h}r{i}"))], deleted)
                } else {
                    let base = &chains[pick % chains.len()];
                    let mut c = vec![(base[0].0 + 1, format!("{h}e{i}"))];
                    c.extend(base.iter().cloned());
                    (c, deleted)
                };
                let as_path: Vec<Rev> = chain.iter().map(|(p, h)| Rev { pos: *p, hash: h.clone() }).collect();
                tree.merge_path(&as_path, deleted);
                // (A replayed revision that stemming cut comes back as a leaf, in CouchDB
                // as here: the stemmed tree only gets new edits.)
                if !replay {
                    stemmed.merge_path(&as_path[..as_path.len().min(limit + 1)], deleted);
                    stemmed.stem(limit);
                }
                model.add(&chain, deleted);
                if !replay {
                    chains.push(chain);
                }
            }
            let leaves: BTreeSet<(u64, String)> = tree.leaves().into_iter().map(|r| (r.pos, r.hash)).collect();
            prop_assert_eq!(&leaves, &model.leaves());
            let winner = tree.winner().map(|r| (r.pos, r.hash));
            prop_assert_eq!(&winner, &model.winner());
            // Stemming never changes which leaves exist nor who wins.
            let sl: BTreeSet<(u64, String)> = stemmed.leaves().into_iter().map(|r| (r.pos, r.hash)).collect();
            prop_assert_eq!(&sl, &model.leaves());
            prop_assert_eq!(stemmed.winner().map(|r| (r.pos, r.hash)), winner);
            // Every revision kept is among the `limit` newest of some leaf's history.
            let leaves = stemmed.leaves();
            for (rev, _) in stemmed.revs() {
                prop_assert!(leaves.iter().any(|l| stemmed.ancestry(l).iter().take(limit).any(|r| r == rev)));
            }
            // Serialisation round-trips.
            let json = serde_json::to_string(&tree).unwrap();
            prop_assert_eq!(serde_json::from_str::<RevTree>(&json).unwrap(), tree);
        }
    }
}
