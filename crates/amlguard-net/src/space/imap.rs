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
}

/// An interval `[lo, hi]` and what lies over it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Seg<K, V> {
    pub lo: K,
    pub hi: K,
    pub val: V,
}

/// Disjoint intervals of one axis, each with a non-empty value, in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IMap<K, V> {
    segs: Vec<Seg<K, V>>,
}

impl<K: Point, V: Lattice> IMap<K, V> {
    pub fn empty() -> Self {
        IMap { segs: Vec::new() }
    }

    /// The whole axis with `val` over it.
    pub fn whole(val: V) -> Self {
        IMap {
            segs: vec![Seg {
                lo: K::MIN,
                hi: K::MAX,
                val,
            }],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    pub fn segs(&self) -> &[Seg<K, V>] {
        &self.segs
    }

    /// The value over `k`, if any.
    pub fn get(&self, k: K) -> Option<&V> {
        let i = self.segs.partition_point(|s| s.hi < k);
        self.segs.get(i).filter(|s| s.lo <= k).map(|s| &s.val)
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
        IMap { segs }
    }

    /// The points that carry a value (touching segments merged).
    pub fn domain(&self) -> IMap<K, Full> {
        let mut out = IMap {
            segs: Vec::with_capacity(self.segs.len()),
        };
        for s in &self.segs {
            out.push(s.lo, s.hi, Full);
        }
        out
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

    /// The sweep: walks both segment lists once, cutting at every boundary of
    /// either, and combines the values over each piece.
    fn sweep(op: Op, a: &[Seg<K, V>], b: &[Seg<K, V>]) -> Self {
        let mut out = IMap {
            segs: Vec::with_capacity(a.len().max(b.len())),
        };
        let (mut i, mut j) = (0usize, 0usize);
        // Every point below `pos` has been handled.
        let mut pos = K::MIN;
        loop {
            while a.get(i).is_some_and(|s| s.hi < pos) {
                i += 1;
            }
            while b.get(j).is_some_and(|s| s.hi < pos) {
                j += 1;
            }
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
        out
    }

    /// Copies `segs[from..]` to `out`, the first one clipped to start at `pos`.
    fn copy_rest(out: &mut Self, segs: &[Seg<K, V>], from: usize, pos: K) {
        for s in segs.iter().skip(from) {
            out.push(s.lo.max(pos), s.hi, s.val.clone());
        }
    }
}

impl<K: Point> IMap<K, Full> {
    /// The same intervals, each carrying `val`. Canonical because a canonical
    /// set of plain intervals has no two touching segments.
    pub fn with_value<W: Lattice>(&self, val: &W) -> IMap<K, W> {
        IMap {
            segs: self
                .segs
                .iter()
                .map(|s| Seg {
                    lo: s.lo,
                    hi: s.hi,
                    val: val.clone(),
                })
                .collect(),
        }
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
            Err((a, b)) => {
                let out = Self::sweep(op, &a.segs, &b.segs);
                (!out.is_empty()).then_some(out)
            }
        }
    }

    fn full() -> Self {
        Self::whole(V::full())
    }

    fn is_nothing(&self) -> bool {
        self.is_empty()
    }

    #[cfg(test)]
    fn canonical(&self) -> bool {
        self.segs
            .iter()
            .all(|s| s.lo <= s.hi && !s.val.is_nothing() && s.val.canonical())
            && self.segs.windows(2).all(|w| match w {
                [x, y] => x.hi < y.lo && !(x.hi.succ() == Some(y.lo) && x.val == y.val),
                _ => true,
            })
    }
}
