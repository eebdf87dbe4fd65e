use super::Item;
use crate::util::round_cents;

pub struct Store {
    items: Vec<Item>,
}

impl Store {
    pub fn total(&self) -> f64 {
        round_cents(self.items.iter().map(|i| i.gross()).sum())
    }
}
