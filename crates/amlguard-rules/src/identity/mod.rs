//! Rules of this category; registration is the list in `rules()`.

use crate::Rule;

/// The rules of this category.
pub fn rules() -> Vec<&'static dyn Rule> {
    vec![]
}
