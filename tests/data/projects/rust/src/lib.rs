pub mod model;
mod util;

use crate::model::Item;

pub fn cheapest(items: &[Item]) -> Option<&Item> {
    items.iter().min_by(|a, b| a.price.partial_cmp(&b.price).unwrap())
}
