//! The one data structure behind every set in [`crate::space`]: a sorted list
//! of disjoint closed intervals on one axis, each carrying the set of the
//! remaining axes ("what lies over this interval").
//!
//! Canonical form, kept by every operation:
//! - segments are sorted and disjoint, `lo <= hi`;
//! - no segment carries an empty value (an uncovered point is simply absent);
//! - two segments that touch (`a.hi + 1 == b.lo`) never carry equal values
//!   (they would have been merged).
//!
//! With these rules a set has exactly one representation, so structural
//! equality is set equality at every level.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

/// A coordinate on one axis: an unsigned integer type with its full range.
pub(crate) trait Point: Copy + Ord + Hash + Debug {
    const MIN: Self;
    const MAX: Self;
    /// The next point, `None` at `MAX`.
    fn succ(self) -> Option<Self>;
    /// The previous point, `None` at `MIN`.
    fn pred(self) -> Option<Self>;
}

macro_rules! point {
    ($($t:ty),*) => {$(
        impl Point for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn pred(self) -> Option<Self> {
                self.checked_sub(1)
            }
        }
    )*};
}
point!(u8, u16, u32, u128);

/// A binary set operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Union,
    Intersection,
    Difference,
}

impl Op {
    /// Whether a point in `a` (or not) and in `b` (or not) is in the result.
    fn keeps(self, a: bool, b: bool) -> bool {
        match self {
            Op::Union => a || b,
            Op::Intersection => a && b,
            Op::Difference => a && !b,
        }
    }
}

/// A value that can sit over an interval: a (non-empty) set of the remaining axes.
pub(crate) trait Lattice: Clone + Eq + Hash + Debug {
    /// `a op b`, where `None` is the empty set; `None` again when the result is empty.
    fn combine(op: Op, a: Option<&Self>, b: Option<&Self>) -> Option<Self>;
    /// The whole of the remaining axes.
    fn full() -> Self;
    /// Whether the two sets have a point in common (stops at the first).
    fn meets(&self, other: &Self) -> bool;
    /// Whether this value is the empty set (never true in canonical form).
    fn is_nothing(&self) -> bool {
        false
    }
    /// Whether this value, and everything below it, is in canonical form.
    #[cfg(test)]
    fn canonical(&self) -> bool {
        true
    }
}

/// A set type that can also be empty at the top (where `None` is not available).
pub(crate) trait TopSet: Lattice {
    fn nothing() -> Self;
}

/// Applies `op` at the top level, where the empty set is a value.
pub(crate) fn apply<T: TopSet>(op: Op, a: &T, b: &T) -> T {
    let a = (!a.is_nothing()).then_some(a);
    let b = (!b.is_nothing()).then_some(b);
    T::combine(op, a, b).unwrap_or_else(T::nothing)
}

/// The cases of `a op b` that need no look inside: `Err` when both sides are sets.
pub(crate) fn one_sided<'a, T: Clone>(
    op: Op,
    a: Option<&'a T>,
    b: Option<&'a T>,
) -> Result<Option<T>, (&'a T, &'a T)> {
    match (a, b) {
        (None, None) => Ok(None),
        (Some(a), None) => Ok(match op {
            Op::Union | Op::Difference => Some(a.clone()),
            Op::Intersection => None,
        }),
        (None, Some(b)) => Ok(match op {
            Op::Union => Some(b.clone()),
            Op::Intersection | Op::Difference => None,
        }),
        (Some(a), Some(b)) => Err((a, b)),
    }
}

/// The last axis: "everything beyond this point", i.e. nothing more to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) struct Full;

impl Lattice for Full {
    fn combine(op: Op, a: Option<&Self>, b: Option<&Self>) -> Option<Self> {
        op.keeps(a.is_some(), b.is_some()).then_some(Full)
    }
    fn full() -> Self {
        Full
    }
    fn meets(&self, _: &Self) -> bool {
        true
    }
}

/// An interval `[lo, hi]` and what lies over it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Seg<K, V> {
    pub lo: K,
    pub hi: K,
    pub val: V,
}

/// Disjoint intervals of one axis, each with a non-empty value, in canonical form.
///
/// The segments are shared (`Arc`): a set is never changed once built, so a
/// copy costs a reference count, a product puts one port set under every
/// address range without copying it, and two sets built from one value are
/// found equal by address before their contents are compared. `None` is the
/// empty set, which needs no allocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IMap<K, V> {
    segs: Option<Arc<Vec<Seg<K, V>>>>,
}

/// Segments being appended in order, merged as they touch (see [`Builder::push`]).
struct Builder<K, V> {
    segs: Vec<Seg<K, V>>,
}

impl<K: Point, V: Lattice> Builder<K, V> {
    fn with_capacity(n: usize) -> Self {
        Builder {
            segs: Vec::with_capacity(n),
        }
    }

    /// Appends a segment that starts after every segment so far, merging it with
    /// the last one when they touch and carry equal values.
    fn push(&mut self, lo: K, hi: K, val: V) {
        if let Some(last) = self.segs.last_mut()
            && last.hi.succ() == Some(lo)
            && last.val == val
        {
            last.hi = hi;
            return;
        }
        self.segs.push(Seg { lo, hi, val });
    }

    fn finish(self) -> IMap<K, V> {
        IMap::from_segs(self.segs)
    }
}

impl<K: Point, V: Lattice> IMap<K, V> {
    pub fn empty() -> Self {
        IMap { segs: None }
    }

    fn from_segs(segs: Vec<Seg<K, V>>) -> Self {
        IMap {
            segs: (!segs.is_empty()).then(|| Arc::new(segs)),
        }
    }

    /// The whole axis with `val` over it.
    pub fn whole(val: V) -> Self {
        IMap::from_segs(vec![Seg {
            lo: K::MIN,
            hi: K::MAX,
            val,
        }])
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_none()
    }

    pub fn segs(&self) -> &[Seg<K, V>] {
        self.segs.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Whether the two sets share their segments (and so are equal).
    fn same(&self, other: &Self) -> bool {
        match (&self.segs, &other.segs) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// The value over `k`, if any.
    pub fn get(&self, k: K) -> Option<&V> {
        let segs = self.segs();
        let i = segs.partition_point(|s| s.hi < k);
        segs.get(i).filter(|s| s.lo <= k).map(|s| &s.val)
    }

    /// `val` over each of the given intervals, which may overlap and come in any
    /// order; overlapping or touching intervals are merged (they carry the same value).
    pub fn from_intervals(mut ivs: Vec<(K, K)>, val: &V) -> Self {
        ivs.retain(|(lo, hi)| lo <= hi);
        ivs.sort_unstable();
        let mut segs: Vec<Seg<K, V>> = Vec::with_capacity(ivs.len());
        for (lo, hi) in ivs {
            if let Some(last) = segs.last_mut() {
                // Overlapping or touching: extend.
                if last.hi.succ().is_none_or(|n| n >= lo) {
                    if hi > last.hi {
                        last.hi = hi;
                    }
                    continue;
                }
            }
            segs.push(Seg {
                lo,
                hi,
                val: val.clone(),
            });
        }
        IMap::from_segs(segs)
    }

    /// The points that carry a value (touching segments merged).
    pub fn domain(&self) -> IMap<K, Full> {
        let mut out = Builder::with_capacity(self.segs().len());
        for s in self.segs() {
            out.push(s.lo, s.hi, Full);
        }
        out.finish()
    }

    /// The sweep: walks both segment lists once, cutting at every boundary of
    /// either, and combines the values over each piece. Where only one side
    /// is present and the operation keeps nothing of it (intersection, or
    /// difference where only the subtrahend is), the walk jumps to the other
    /// side's next segment by binary search, so a small set against a large
    /// one costs little more than the small one.
    fn sweep(op: Op, a: &[Seg<K, V>], b: &[Seg<K, V>]) -> Self {
        let mut out = Builder::with_capacity(match op {
            Op::Union => a.len().max(b.len()),
            Op::Intersection => a.len().min(b.len()),
            Op::Difference => a.len(),
        });
        let (mut i, mut j) = (0usize, 0usize);
        // Every point below `pos` has been handled.
        let mut pos = K::MIN;
        loop {
            i = skip_before(a, i, pos);
            j = skip_before(b, j, pos);
            let sa = a.get(i);
            let sb = b.get(j);
            // Fast paths: once one side is exhausted the rest is copied or dropped.
            let (sa, sb) = match (sa, sb) {
                (None, None) => break,
                (Some(_), None) => {
                    if op != Op::Intersection {
                        Self::copy_rest(&mut out, a, i, pos);
                    }
                    break;
                }
                (None, Some(_)) => {
                    if op == Op::Union {
                        Self::copy_rest(&mut out, b, j, pos);
                    }
                    break;
                }
                (Some(sa), Some(sb)) => (sa, sb),
            };
            let lo_a = sa.lo.max(pos);
            let lo_b = sb.lo.max(pos);
            let start = lo_a.min(lo_b);
            let a_in = lo_a == start;
            let b_in = lo_b == start;
            // Nothing is kept until the other side begins.
            if a_in != b_in && !op.keeps(a_in, b_in) {
                pos = if a_in { lo_b } else { lo_a };
                continue;
            }
            // The piece ends where the covering segment(s) end or where the
            // other segment begins, whichever comes first.
            let end_a = if a_in {
                sa.hi
            } else {
                lo_a.pred().unwrap_or(K::MIN)
            };
            let end_b = if b_in {
                sb.hi
            } else {
                lo_b.pred().unwrap_or(K::MIN)
            };
            let end = end_a.min(end_b);
            let va = a_in.then_some(&sa.val);
            let vb = b_in.then_some(&sb.val);
            if let Some(v) = V::combine(op, va, vb) {
                out.push(start, end, v);
            }
            match end.succ() {
                Some(n) => pos = n,
                None => break,
            }
        }
        out.finish()
    }

    /// Copies `segs[from..]` to `out`, the first one clipped to start at `pos`.
    fn copy_rest(out: &mut Builder<K, V>, segs: &[Seg<K, V>], from: usize, pos: K) {
        for s in segs.iter().skip(from) {
            out.push(s.lo.max(pos), s.hi, s.val.clone());
        }
    }
}

/// The first index at or after `from` whose segment does not end before
/// `pos`: a step or two when it is near, a binary search when it is far.
fn skip_before<K: Point, V>(segs: &[Seg<K, V>], from: usize, pos: K) -> usize {
    let ends_before = |s: &Seg<K, V>| s.hi < pos;
    for k in 0..4 {
        match segs.get(from + k) {
            Some(s) if ends_before(s) => {}
            _ => return from + k,
        }
    }
    let rest = segs.get(from..).unwrap_or(&[]);
    from + rest.partition_point(ends_before)
}

impl<K: Point> IMap<K, Full> {
    /// The same intervals, each carrying `val`. Canonical because a canonical
    /// set of plain intervals has no two touching segments.
    pub fn with_value<W: Lattice>(&self, val: &W) -> IMap<K, W> {
        IMap::from_segs(
            self.segs()
                .iter()
                .map(|s| Seg {
                    lo: s.lo,
                    hi: s.hi,
                    val: val.clone(),
                })
                .collect(),
        )
    }
}

impl<K: Point, V: Lattice> TopSet for IMap<K, V> {
    fn nothing() -> Self {
        Self::empty()
    }
}

impl<K: Point, V: Lattice> Lattice for IMap<K, V> {
    fn combine(op: Op, a: Option<&Self>, b: Option<&Self>) -> Option<Self> {
        match one_sided(op, a, b) {
            Ok(done) => done,
            // Equal by construction: no need to look inside.
            Err((a, b)) if a.same(b) => match op {
                Op::Union | Op::Intersection => Some(a.clone()),
                Op::Difference => None,
            },
            Err((a, b)) => {
                let out = Self::sweep(op, a.segs(), b.segs());
                (!out.is_empty()).then_some(out)
            }
        }
    }

    fn full() -> Self {
        Self::whole(V::full())
    }

    fn meets(&self, other: &Self) -> bool {
        self.same(other) && !self.is_empty()
            || overlaps(self.segs(), other.segs()).any(|(_, a, b)| a.meets(b))
    }

    fn is_nothing(&self) -> bool {
        self.is_empty()
    }

    #[cfg(test)]
    fn canonical(&self) -> bool {
        self.segs.as_ref().is_none_or(|v| !v.is_empty())
            && self
                .segs()
                .iter()
                .all(|s| s.lo <= s.hi && !s.val.is_nothing() && s.val.canonical())
            && self.segs().windows(2).all(|w| match w {
                [x, y] => x.hi < y.lo && !(x.hi.succ() == Some(y.lo) && x.val == y.val),
                _ => true,
            })
    }
}

// ---------------------------------------------------------------------------
// First match wins, by one sweep per axis.

/// One rule of a piece's list, for remembering results: (allows, identity
/// of what it matches there).
type ListKey = (bool, (usize, usize));

/// Values over which "the first rule that matches decides" can be computed:
/// given rules `(allow, what the rule matches)` in order, the part of the
/// remaining axes whose first matching rule allows it.
pub(crate) trait FirstMatch: Lattice {
    /// Axes below this one (0 for [`Full`], whose results are not worth
    /// remembering).
    const DEPTH: usize;
    /// Whether this value is the whole of the remaining axes (a rule with
    /// it hides every later rule).
    fn is_whole(&self) -> bool;
    /// The allowed part; `None` when nothing is allowed.
    fn first_match(rules: &[(bool, &Self)]) -> Option<Self>;
    /// A number that only equal values share (the address of shared
    /// segments), for remembering results cheaply; `None` when the type
    /// has none. Unequal numbers say nothing.
    fn ident(&self) -> Option<(usize, usize)>;
}

impl FirstMatch for Full {
    const DEPTH: usize = 0;
    fn is_whole(&self) -> bool {
        true
    }
    fn first_match(rules: &[(bool, &Self)]) -> Option<Self> {
        rules.first().and_then(|(allow, _)| allow.then_some(Full))
    }
    fn ident(&self) -> Option<(usize, usize)> {
        Some((0, 0))
    }
}

impl<K: Point, V: FirstMatch> FirstMatch for IMap<K, V> {
    const DEPTH: usize = V::DEPTH + 1;

    fn ident(&self) -> Option<(usize, usize)> {
        // Segments are shared and never changed: while both values are
        // alive, one address means one value (0: the empty set).
        Some((self.segs.as_ref().map_or(0, |a| Arc::as_ptr(a) as usize), 0))
    }

    fn is_whole(&self) -> bool {
        matches!(self.segs(), [s] if s.lo == K::MIN && s.hi == K::MAX && s.val.is_whole())
    }

    /// Sweeps the axis once: between two consecutive segment boundaries of
    /// any rule, the same rules cover every point with the same values, so
    /// the values below are decided once per such piece (and once per
    /// distinct list of small values). The work grows with the number of
    /// pieces times the rules covering each, not with the product of the
    /// rules' sizes.
    fn first_match(rules: &[(bool, &Self)]) -> Option<Self> {
        // Rules after one that matches everything never decide.
        let cut = rules
            .iter()
            .position(|(_, m)| m.is_whole())
            .map_or(rules.len(), |i| i + 1);
        let rules = rules.get(..cut).unwrap_or(rules);
        match rules {
            [] => return None,
            [(allow, m)] => return allow.then(|| (*m).clone()).filter(|m| !m.is_empty()),
            _ => {}
        }
        // Rules whose segments have the same bounds (products over one
        // address set, e.g. several rules naming one service tag) share
        // their boundary events: groups of rule indices, in order.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut by_shape: foldhash::HashMap<(usize, K, K, K), Vec<usize>> =
            foldhash::HashMap::default();
        for (r, (_, m)) in rules.iter().enumerate() {
            let segs = m.segs();
            let (Some(first), Some(mid), Some(last)) =
                (segs.first(), segs.get(segs.len() / 2), segs.last())
            else {
                continue;
            };
            let shape = by_shape
                .entry((segs.len(), first.lo, mid.lo, last.hi))
                .or_default();
            let same = shape.iter().copied().find(|&g| {
                groups
                    .get(g)
                    .and_then(|members| members.first())
                    .and_then(|&l| rules.get(l))
                    .is_some_and(|(_, lm)| {
                        lm.segs()
                            .iter()
                            .zip(segs)
                            .all(|(x, y)| x.lo == y.lo && x.hi == y.hi)
                    })
            });
            match same.and_then(|g| groups.get_mut(g)) {
                Some(members) => members.push(r),
                None => {
                    shape.push(groups.len());
                    groups.push(vec![r]);
                }
            }
        }
        // Boundaries: (point, starts, group, segment). Ends sort before
        // starts at the same point; both are applied before the piece at it.
        let mut events: Vec<(K, bool, usize, usize)> = Vec::new();
        for (g, members) in groups.iter().enumerate() {
            let Some((_, m)) = members.first().and_then(|&r| rules.get(r)) else {
                continue;
            };
            for (j, s) in m.segs().iter().enumerate() {
                events.push((s.lo, true, g, j));
                if let Some(after) = s.hi.succ() {
                    events.push((after, false, g, j));
                }
            }
        }
        events.sort_unstable_by_key(|a| (a.0, a.1));
        // Rules covering the current piece, in rule order: (rule, segment).
        let mut active: Vec<(usize, usize)> = Vec::new();
        // Results by the list of (allow, value identity) over a piece.
        let mut memo: foldhash::HashMap<Vec<ListKey>, Option<V>> = foldhash::HashMap::default();
        // Buffers reused from piece to piece.
        let mut list: Vec<(bool, &V)> = Vec::new();
        let mut key: Vec<ListKey> = Vec::new();
        let mut out = Builder::with_capacity(events.len() / 2);
        let mut i = 0;
        while let Some(&(point, _, _, _)) = events.get(i) {
            while let Some(&(p, starts, g, j)) = events.get(i) {
                if p != point {
                    break;
                }
                for &r in groups.get(g).map_or(&[][..], Vec::as_slice) {
                    match active.binary_search_by_key(&r, |a| a.0) {
                        Ok(k) if !starts => {
                            active.remove(k);
                        }
                        Err(k) if starts => active.insert(k, (r, j)),
                        // A rule's segments are disjoint: never two at once.
                        _ => {}
                    }
                }
                i += 1;
            }
            if active.is_empty() {
                continue;
            }
            let hi = match events.get(i) {
                Some(next) => next.0.pred().unwrap_or(K::MIN),
                None => K::MAX,
            };
            list.clear();
            for &(r, j) in &active {
                let Some((allow, s)) = rules.get(r).and_then(|(a, m)| Some((*a, m.segs().get(j)?)))
                else {
                    continue;
                };
                list.push((allow, &s.val));
                if s.val.is_whole() {
                    break;
                }
            }
            key.clear();
            let keyed = V::DEPTH >= 1
                && list.iter().all(|(a, v)| match v.ident() {
                    Some(id) => {
                        key.push((*a, id));
                        true
                    }
                    None => false,
                });
            let val = if keyed {
                match memo.get(key.as_slice()) {
                    Some(v) => v.clone(),
                    None => {
                        let v = V::first_match(&list);
                        memo.insert(key.clone(), v.clone());
                        v
                    }
                }
            } else {
                V::first_match(&list)
            };
            if let Some(v) = val {
                out.push(point, hi, v);
            }
        }
        let out = out.finish();
        (!out.is_empty()).then_some(out)
    }
}

/// The pieces where both segment lists carry a value, in order: the start of
/// each piece with the two values over it. Stops being computed as soon as
/// the caller stops asking (for "first point in common" questions), and
/// jumps over long stretches of one side by binary search.
pub(crate) fn overlaps<'a, K: Point, V>(
    a: &'a [Seg<K, V>],
    b: &'a [Seg<K, V>],
) -> impl Iterator<Item = (K, &'a V, &'a V)> + 'a {
    overlap_pieces(a, b).map(|(lo, _, va, vb)| (lo, va, vb))
}

/// The first point common to three segment lists whose values `inner`
/// accepts (`inner` says where inside, as `P`), in order.
pub(crate) fn first_of_three<K: Point, V, P>(
    a: &[Seg<K, V>],
    b: &[Seg<K, V>],
    c: &[Seg<K, V>],
    mut inner: impl FnMut(&V, &V, &V) -> Option<P>,
) -> Option<(K, P)> {
    let mut k = 0usize;
    for (lo, hi, va, vb) in overlap_pieces(a, b) {
        k = skip_before(c, k, lo);
        let mut m = k;
        while let Some(sc) = c.get(m) {
            if sc.lo > hi {
                break;
            }
            if let Some(p) = inner(va, vb, &sc.val) {
                return Some((lo.max(sc.lo), p));
            }
            m += 1;
        }
    }
    None
}

/// [`overlaps`] with the end of each piece.
fn overlap_pieces<'a, K: Point, V>(
    a: &'a [Seg<K, V>],
    b: &'a [Seg<K, V>],
) -> impl Iterator<Item = (K, K, &'a V, &'a V)> + 'a {
    let (mut i, mut j) = (0usize, 0usize);
    std::iter::from_fn(move || {
        loop {
            let (sa, sb) = (a.get(i)?, b.get(j)?);
            if sa.hi < sb.lo {
                i = skip_before(a, i, sb.lo);
                continue;
            }
            if sb.hi < sa.lo {
                j = skip_before(b, j, sa.lo);
                continue;
            }
            // They overlap from the later start to the earlier end.
            let start = sa.lo.max(sb.lo);
            let end = sa.hi.min(sb.hi);
            if sa.hi <= sb.hi {
                i += 1;
            } else {
                j += 1;
            }
            return Some((start, end, &sa.val, &sb.val));
        }
    })
}
