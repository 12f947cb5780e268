//! Deriving the built-in tag knowledge from a service-tag file.
//!
//! The knowledge is the file's tag names, grouped by family, and its *atoms*:
//! every combination of tags that some address of the file belongs to exactly
//! (the non-empty cells of the Venn diagram of all tags). Which tags
//! intersect, which contain which, and any Boolean combination of tags
//! (`Storage` less `Storage.WestEurope`) follow from the atoms, without the
//! addresses themselves. The generator example renders the knowledge as
//! `symbolic/data.rs`; a test re-derives it and compares.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use crate::space::AddrRange;
use crate::tags::ServiceTags;

/// One family of tags: `Storage` with `Storage.WestEurope`, ….
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Family {
    /// The family's name: the global tag's name, or what the regional
    /// names have before their last dot.
    pub name: String,
    /// Whether `name` is itself a tag (the family's global tag).
    pub global: bool,
    /// What follows `name.` in the names of the regional variants, in file order.
    pub regional: Vec<String>,
}

/// Tag knowledge, as stored in `data.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Derived {
    pub source_file: String,
    pub cloud: String,
    pub change_number: String,
    pub families: Vec<Family>,
    /// Sets of global tags (tag numbers) that atoms have.
    pub global_sets: Vec<Vec<u16>>,
    /// Atoms in layout order: an index into `global_sets`, then the atom's
    /// regional tags (tag numbers).
    pub atoms: Vec<(u16, Vec<u16>)>,
}

/// Why a file cannot be turned into tag knowledge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeriveError {
    /// More tags or atoms than the compact encoding (or the synthetic
    /// address space) can hold.
    TooLarge(&'static str),
    /// The data is inconsistent (a number that names nothing, a name twice).
    Invalid(&'static str),
}

impl std::fmt::Display for DeriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeriveError::TooLarge(what) => write!(f, "the service-tag file has too many {what}"),
            DeriveError::Invalid(what) => write!(f, "inconsistent service-tag data: {what}"),
        }
    }
}

impl std::error::Error for DeriveError {}

impl Derived {
    /// The full names of the tags, numbered: each family's global tag
    /// (when it has one), then its regional variants.
    pub fn tag_names(&self) -> Vec<(String, usize, bool)> {
        let mut out = Vec::new();
        for (fi, f) in self.families.iter().enumerate() {
            if f.global {
                out.push((f.name.clone(), fi, true));
            }
            for r in &f.regional {
                out.push((format!("{}.{r}", f.name), fi, false));
            }
        }
        out
    }

    /// Derives the knowledge from a service-tag file; `source_file` is the
    /// file's name, recorded in the data.
    pub fn from_service_tags(
        tags: &ServiceTags,
        source_file: &str,
    ) -> Result<Derived, DeriveError> {
        // Families, in order of first appearance.
        let mut families: Vec<Family> = Vec::new();
        let mut family_index: HashMap<String, usize> = HashMap::new();
        // File position → (family, regional suffix or None).
        let mut placed: Vec<(usize, Option<String>)> = Vec::with_capacity(tags.len());
        for t in tags.iter() {
            let (family, suffix) = match (&t.region, t.name.rsplit_once('.')) {
                (Some(_), Some((f, r))) => (f.to_string(), Some(r.to_string())),
                // A global tag, or a regional one whose name has no dot: the
                // name is the tag.
                _ => (t.name.clone(), None),
            };
            let fi = match family_index.get(&family) {
                Some(&fi) => fi,
                None => {
                    families.push(Family {
                        name: family.clone(),
                        global: false,
                        regional: Vec::new(),
                    });
                    family_index.insert(family, families.len() - 1);
                    families.len() - 1
                }
            };
            if let Some(f) = families.get_mut(fi) {
                match &suffix {
                    Some(r) => f.regional.push(r.clone()),
                    None => f.global = true,
                }
            }
            placed.push((fi, suffix));
        }
        // Tag numbers: family order, the global tag first.
        let mut first_number = Vec::with_capacity(families.len());
        let mut n = 0usize;
        for f in &families {
            first_number.push(n);
            n += usize::from(f.global) + f.regional.len();
        }
        if n > usize::from(u16::MAX) {
            return Err(DeriveError::TooLarge("tags"));
        }
        let mut seen_in_family = vec![0usize; families.len()];
        let mut number_of = Vec::with_capacity(placed.len());
        for (fi, suffix) in &placed {
            let base = first_number.get(*fi).copied().unwrap_or(0);
            let global = families.get(*fi).is_some_and(|f| f.global);
            let k = match suffix {
                None => base,
                Some(_) => {
                    let seen = seen_in_family.get_mut(*fi);
                    let i = seen.as_ref().map_or(0, |s| **s);
                    if let Some(s) = seen {
                        *s += 1;
                    }
                    base + usize::from(global) + i
                }
            };
            number_of.push(u16::try_from(k).map_err(|_| DeriveError::TooLarge("tags"))?);
        }
        let is_global: HashSet<u16> = placed
            .iter()
            .zip(&number_of)
            .filter(|((_, suffix), _)| suffix.is_none())
            .map(|(_, &k)| k)
            .collect();

        // Sweep every tag's ranges in address order; each stretch between
        // two boundaries has one combination of tags.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        struct Pos(u8, u128);
        let mut events: Vec<(Pos, bool, u16)> = Vec::new();
        for (t, &k) in tags.iter().zip(&number_of) {
            for r in t.addresses.ranges() {
                let (lo, end) = match r {
                    AddrRange::V4(lo, hi) => (
                        Pos(0, u128::from(u32::from(lo))),
                        Pos(0, u128::from(u32::from(hi)) + 1),
                    ),
                    // The synthetic layout is IPv4 (as most AML subnets are):
                    // relations that exist only among IPv6 prefixes are left
                    // out, and the engine treats symbolic answers for subnets
                    // with IPv6 space as possible where they would close a path.
                    AddrRange::V6(..) => continue,
                };
                // Ends sort before starts at the same position (`false` < `true`).
                events.push((lo, true, k));
                events.push((end, false, k));
            }
        }
        events.sort_unstable();
        let mut active: BTreeSet<u16> = BTreeSet::new();
        let mut atoms: HashSet<Vec<u16>> = HashSet::new();
        let mut i = 0;
        while let Some(&(pos, _, _)) = events.get(i) {
            while let Some(&(p, start, k)) = events.get(i) {
                if p != pos {
                    break;
                }
                if start {
                    active.insert(k);
                } else {
                    active.remove(&k);
                }
                i += 1;
            }
            if !active.is_empty() {
                atoms.insert(active.iter().copied().collect());
            }
        }

        // Layout order: tags that have many atoms vary slowest, so that
        // each tag's atoms lie in few runs.
        let mut weight: HashMap<u16, usize> = HashMap::new();
        for a in &atoms {
            for &k in a {
                *weight.entry(k).or_insert(0) += 1;
            }
        }
        type Key = Vec<(std::cmp::Reverse<usize>, u16)>;
        let key = |a: &Vec<u16>| -> Key {
            let mut v: Key = a
                .iter()
                .map(|k| (std::cmp::Reverse(weight.get(k).copied().unwrap_or(0)), *k))
                .collect();
            v.sort_unstable();
            v
        };
        let mut ordered: Vec<(Key, Vec<u16>)> = atoms.into_iter().map(|a| (key(&a), a)).collect();
        ordered.sort_unstable();
        if ordered.len() >= super::MAX_ATOMS {
            return Err(DeriveError::TooLarge("distinct tag combinations"));
        }

        let mut global_sets: Vec<Vec<u16>> = Vec::new();
        let mut global_index: HashMap<Vec<u16>, u16> = HashMap::new();
        let mut out_atoms = Vec::with_capacity(ordered.len());
        for (_, a) in ordered {
            let (globals, regional): (Vec<u16>, Vec<u16>) =
                a.into_iter().partition(|k| is_global.contains(k));
            let gi = match global_index.get(&globals) {
                Some(&gi) => gi,
                None => {
                    let gi = u16::try_from(global_sets.len())
                        .map_err(|_| DeriveError::TooLarge("combinations of global tags"))?;
                    global_sets.push(globals.clone());
                    global_index.insert(globals, gi);
                    gi
                }
            };
            out_atoms.push((gi, regional));
        }

        Ok(Derived {
            source_file: source_file.to_string(),
            cloud: tags.cloud().unwrap_or("").to_string(),
            change_number: tags.change_number().unwrap_or("").to_string(),
            families,
            global_sets,
            atoms: out_atoms,
        })
    }

    /// The text of `symbolic/data.rs`.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(160_000);
        let _ = write!(
            s,
            "\
// @generated by `cargo run -p amlguard-net --example gen_symbolic_data`; do not edit.
//! Built-in service-tag knowledge for symbolic mode (no `--service-tags`).
//!
//! Derived from Microsoft's service-tag file
//! `{file}` (cloud `{cloud}`, changeNumber {change}),
//! the weekly \"Azure IP Ranges and Service Tags\" download. Microsoft changes
//! the tags every week: this data keeps only the tag names and which tags
//! share addresses, so symbolic answers hold for that week's file; exact
//! answers need the current file (`--service-tags`).
//!
//! Tags are numbered in `FAMILIES` order: a family's global tag (when the
//! family name is itself a tag), then its regional variants. An atom is one
//! combination of tags that some address of the file has exactly: its global
//! tags (an index into `GLOBAL_SETS`) and its regional tags. There is one atom
//! per non-empty cell of the Venn diagram of all tags, so every relation
//! between tags (subset, overlap, disjoint, and any Boolean combination) is the
//! file's. Regenerate with `cargo run -p amlguard-net --example gen_symbolic_data`.

/// The file the data was derived from.
pub(super) const SOURCE_FILE: &str = {file:?};
/// The file's cloud.
pub(super) const CLOUD: &str = {cloud:?};
/// The file's version.
pub(super) const CHANGE_NUMBER: &str = {change:?};

/// (family name, whether the name is itself a tag, suffixes of the regional variants).
pub(super) const FAMILIES: &[(&str, bool, &[&str])] = &[
",
            file = self.source_file,
            cloud = self.cloud,
            change = self.change_number,
        );
        for f in &self.families {
            let _ = write!(s, "({:?},{},&[", f.name, f.global);
            for (i, r) in f.regional.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{r:?}");
            }
            s.push_str("]),\n");
        }
        s.push_str(
            "];\n\n/// Sets of global tags (tag numbers) that atoms have.\n\
             pub(super) const GLOBAL_SETS: &[&[u16]] = &[\n",
        );
        for g in &self.global_sets {
            s.push_str("&[");
            push_numbers(&mut s, g);
            s.push_str("],\n");
        }
        s.push_str(
            "];\n\n/// Atoms in layout order: (index into `GLOBAL_SETS`, regional tag numbers).\n\
             pub(super) const ATOMS: &[(u16, &[u16])] = &[\n",
        );
        for chunk in self.atoms.chunks(8) {
            for (g, r) in chunk {
                let _ = write!(s, "({g},&[");
                push_numbers(&mut s, r);
                s.push_str("]),");
            }
            s.push('\n');
        }
        s.push_str("];\n");
        s
    }
}

fn push_numbers(s: &mut String, v: &[u16]) {
    for (i, k) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}");
    }
}

/// The text of `symbolic/data.rs` for a service-tag file (`source_file` is
/// its name, recorded in the header). Used by the `gen_symbolic_data` example
/// and by the test that keeps the committed data current.
pub fn render_data(tags: &ServiceTags, source_file: &str) -> Result<String, DeriveError> {
    Ok(Derived::from_service_tags(tags, source_file)?.render())
}
