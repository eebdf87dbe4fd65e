pub mod store;

/// One product.
#[derive(Debug, Clone)]
pub struct Item {
    pub sku: String,
    pub price: f64,
}

impl Item {
    /// Price including tax.
    pub fn gross(&self) -> f64 {
        self.price * 1.2
    }
}
