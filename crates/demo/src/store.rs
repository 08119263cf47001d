//! The in-memory product catalogue behind `ProductService`.
//!
//! All validation lives here so the gRPC layer only translates messages.
//! Errors are `tonic::Status` values with messages meant for people reading
//! test failures: `NOT_FOUND`, `INVALID_ARGUMENT` or `ALREADY_EXISTS`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use prost_types::{FieldMask, Timestamp};
use tokio::sync::RwLock;
use tonic::Status;

use crate::pb::ecommerce::v1::{Category, Product};

/// Ids of the products every seeded store starts with, in id order.
pub const SEED_PRODUCT_IDS: [&str; 3] = ["prod-1", "prod-2", "prod-3"];

/// A shared, cloneable product catalogue; clones see the same data.
///
/// `Default` gives the seeded catalogue (see [`ProductStore::seeded`]).
#[derive(Clone, Debug)]
pub struct ProductStore {
    state: Arc<RwLock<State>>,
}

#[derive(Debug, Default)]
struct State {
    products: BTreeMap<String, Product>,
    /// Next number tried when the server has to invent an id.
    next_id: u64,
}

impl Default for ProductStore {
    fn default() -> Self {
        Self::seeded()
    }
}

impl ProductStore {
    /// A catalogue with no products.
    pub fn empty() -> Self {
        Self::from_products(Vec::new())
    }

    /// A catalogue holding the three fixed products of [`SEED_PRODUCT_IDS`]
    /// (a keyboard, a book and socks) with fixed timestamps, so tests can
    /// assert on them.
    pub fn seeded() -> Self {
        Self::from_products(seed_products())
    }

    fn from_products(products: Vec<Product>) -> Self {
        let next_id = products.len() as u64 + 1;
        let products = products.into_iter().map(|p| (p.id.clone(), p)).collect();
        Self {
            state: Arc::new(RwLock::new(State { products, next_id })),
        }
    }

    /// The product with `id`, or `NOT_FOUND`.
    pub async fn get(&self, id: &str) -> Result<Product, Status> {
        require_id(id, "id")?;
        let state = self.state.read().await;
        state.products.get(id).cloned().ok_or_else(|| not_found(id))
    }

    /// Stores a new product and returns it as stored (id and `created_at`
    /// filled in when empty, currency defaulting to "USD").
    pub async fn create(&self, product: Product) -> Result<Product, Status> {
        let mut created = self.create_all(vec![product]).await?;
        created
            .pop()
            .ok_or_else(|| Status::internal("create stored no product"))
    }

    /// Stores all products or none: every one is validated, and ids checked
    /// against the catalogue and each other, before any is inserted.
    pub async fn create_all(&self, products: Vec<Product>) -> Result<Vec<Product>, Status> {
        let now = Timestamp::from(SystemTime::now());
        let mut state = self.state.write().await;
        let mut batch: Vec<Product> = Vec::with_capacity(products.len());
        for mut product in products {
            validate(&product)?;
            if product.id.is_empty() {
                product.id = state.fresh_id(&batch);
            } else if state.products.contains_key(&product.id)
                || batch.iter().any(|p| p.id == product.id)
            {
                return Err(Status::already_exists(format!(
                    "product \"{}\" already exists",
                    product.id
                )));
            }
            if product.currency.is_empty() {
                product.currency = "USD".to_owned();
            }
            if product.created_at.is_none() {
                product.created_at = Some(now);
            }
            batch.push(product);
        }
        for product in &batch {
            state.products.insert(product.id.clone(), product.clone());
        }
        Ok(batch)
    }

    /// Copies the fields named in `mask` from `patch` onto the stored
    /// product with `patch.id` (every mutable field when the mask is absent
    /// or empty) and returns the result.
    pub async fn update(&self, patch: Product, mask: Option<FieldMask>) -> Result<Product, Status> {
        require_id(&patch.id, "product.id")?;
        let paths = mask.map(|m| m.paths).unwrap_or_default();
        let mut state = self.state.write().await;
        let current = state
            .products
            .get(&patch.id)
            .ok_or_else(|| not_found(&patch.id))?;
        let mut updated = current.clone();
        if paths.is_empty() {
            for field in MUTABLE_FIELDS {
                apply_field(&mut updated, &patch, field)?;
            }
        } else {
            for path in &paths {
                apply_field(&mut updated, &patch, path)?;
            }
        }
        validate(&updated)?;
        state.products.insert(updated.id.clone(), updated.clone());
        Ok(updated)
    }

    /// Removes and returns the product with `id`, or `NOT_FOUND`.
    pub async fn delete(&self, id: &str) -> Result<Product, Status> {
        require_id(id, "id")?;
        let mut state = self.state.write().await;
        state.products.remove(id).ok_or_else(|| not_found(id))
    }

    /// Products in id order, only of `category` unless it is unspecified,
    /// and at most `page_size` of them when that is positive.
    pub async fn list(&self, page_size: i32, category: Category) -> Vec<Product> {
        let limit = usize::try_from(page_size)
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(usize::MAX);
        let state = self.state.read().await;
        state
            .products
            .values()
            .filter(|p| category == Category::Unspecified || p.category == category as i32)
            .take(limit)
            .cloned()
            .collect()
    }

    /// How many products the catalogue holds.
    pub async fn len(&self) -> usize {
        self.state.read().await.products.len()
    }

    /// Whether the catalogue holds no product.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

impl State {
    /// The first free "prod-N" id, skipping ids taken in the catalogue or
    /// earlier in the batch being created.
    fn fresh_id(&mut self, batch: &[Product]) -> String {
        loop {
            let id = format!("prod-{}", self.next_id);
            self.next_id += 1;
            if !self.products.contains_key(&id) && batch.iter().all(|p| p.id != id) {
                return id;
            }
        }
    }
}

/// Field names `update` accepts in a mask, in proto (snake_case) form.
const MUTABLE_FIELDS: [&str; 7] = [
    "name",
    "description",
    "price_cents",
    "currency",
    "category",
    "tags",
    "attributes",
];

/// Copies one field from `patch` into `target`. JSON-style camelCase
/// names are accepted too, since REST clients often send those.
fn apply_field(target: &mut Product, patch: &Product, path: &str) -> Result<(), Status> {
    match path {
        "name" => target.name.clone_from(&patch.name),
        "description" => target.description.clone_from(&patch.description),
        "price_cents" | "priceCents" => target.price_cents = patch.price_cents,
        "currency" => target.currency.clone_from(&patch.currency),
        "category" => target.category = patch.category,
        "tags" => target.tags.clone_from(&patch.tags),
        "attributes" => target.attributes.clone_from(&patch.attributes),
        other => {
            return Err(Status::invalid_argument(format!(
                "update_mask: \"{other}\" is not a field that can be updated \
                 (allowed: {})",
                MUTABLE_FIELDS.join(", ")
            )))
        }
    }
    Ok(())
}

/// Rules every stored product satisfies.
fn validate(product: &Product) -> Result<(), Status> {
    if product.name.trim().is_empty() {
        return Err(Status::invalid_argument("product.name must not be empty"));
    }
    if product.price_cents < 0 {
        return Err(Status::invalid_argument(format!(
            "product.price_cents must not be negative, got {}",
            product.price_cents
        )));
    }
    let currency_ok = product.currency.is_empty()
        || (product.currency.len() == 3
            && product.currency.bytes().all(|b| b.is_ascii_uppercase()));
    if !currency_ok {
        return Err(Status::invalid_argument(format!(
            "product.currency must be a 3-letter ISO 4217 code such as \"USD\", got \"{}\"",
            product.currency
        )));
    }
    if Category::try_from(product.category).is_err() {
        return Err(Status::invalid_argument(format!(
            "product.category {} is not a known Category",
            product.category
        )));
    }
    Ok(())
}

fn require_id(id: &str, field: &str) -> Result<(), Status> {
    if id.is_empty() {
        Err(Status::invalid_argument(format!(
            "{field} must not be empty"
        )))
    } else {
        Ok(())
    }
}

fn not_found(id: &str) -> Status {
    Status::not_found(format!("product \"{id}\" not found"))
}

/// The fixed catalogue behind [`ProductStore::seeded`].
fn seed_products() -> Vec<Product> {
    let product = |id: &str,
                   name: &str,
                   description: &str,
                   price_cents: i64,
                   currency: &str,
                   category: Category,
                   tags: &[&str],
                   created_secs: i64,
                   attributes: &[(&str, &str)]| Product {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        price_cents,
        currency: currency.to_owned(),
        category: category as i32,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        created_at: Some(Timestamp {
            seconds: created_secs,
            nanos: 0,
        }),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>(),
    };
    vec![
        product(
            SEED_PRODUCT_IDS[0],
            "Mechanical Keyboard",
            "Tenkeyless keyboard with hot-swappable switches.",
            8999,
            "USD",
            Category::Electronics,
            &["keyboard", "peripherals"],
            1_705_311_000, // 2024-01-15T09:30:00Z
            &[("layout", "ANSI"), ("switch", "brown")],
        ),
        product(
            SEED_PRODUCT_IDS[1],
            "The Rust Programming Language",
            "The official book on the Rust language.",
            3995,
            "USD",
            Category::Books,
            &["rust", "programming"],
            1_706_788_800, // 2024-02-01T12:00:00Z
            &[("format", "paperback"), ("pages", "560")],
        ),
        product(
            SEED_PRODUCT_IDS[2],
            "Wool Socks",
            "Warm merino socks, one pair.",
            1250,
            "EUR",
            Category::Clothing,
            &["winter"],
            1_710_057_600, // 2024-03-10T08:00:00Z
            &[("color", "grey"), ("size", "M")],
        ),
    ]
}
