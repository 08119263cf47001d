//! `ecommerce.v1.ProductService` on top of [`ProductStore`].
//!
//! Handlers only unpack requests and shape streams; the store decides what
//! is valid. Streaming responses are fed from spawned tasks through bounded
//! channels so each answer leaves as soon as it is ready.

use std::pin::Pin;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::pb::ecommerce::v1::product_service_server::ProductService;
use crate::pb::ecommerce::v1::{
    BulkCreateProductsResponse, Category, CreateProductRequest, DeleteProductRequest,
    GetProductRequest, ListProductsRequest, Product, UpdateProductRequest, WatchProductsRequest,
};
use crate::store::ProductStore;

/// A boxed stream of products, the response type of the streaming methods.
pub type ProductStream = Pin<Box<dyn Stream<Item = Result<Product, Status>> + Send + 'static>>;

/// Serves `ProductService` from a shared [`ProductStore`].
///
/// `Default` uses a freshly seeded store.
#[derive(Clone, Debug, Default)]
pub struct ProductServiceImpl {
    store: ProductStore,
}

impl ProductServiceImpl {
    /// Serves `store`; keep a clone of it to inspect or change the data.
    pub fn new(store: ProductStore) -> Self {
        Self { store }
    }

    /// The store this service reads and writes.
    pub fn store(&self) -> &ProductStore {
        &self.store
    }
}

#[tonic::async_trait]
impl ProductService for ProductServiceImpl {
    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<Product>, Status> {
        let id = request.into_inner().id;
        self.store.get(&id).await.map(Response::new)
    }

    async fn create_product(
        &self,
        request: Request<CreateProductRequest>,
    ) -> Result<Response<Product>, Status> {
        let product = request
            .into_inner()
            .product
            .ok_or_else(|| Status::invalid_argument("product is required"))?;
        self.store.create(product).await.map(Response::new)
    }

    async fn update_product(
        &self,
        request: Request<UpdateProductRequest>,
    ) -> Result<Response<Product>, Status> {
        let UpdateProductRequest {
            product,
            update_mask,
        } = request.into_inner();
        let product = product.ok_or_else(|| Status::invalid_argument("product is required"))?;
        self.store
            .update(product, update_mask)
            .await
            .map(Response::new)
    }

    async fn delete_product(
        &self,
        request: Request<DeleteProductRequest>,
    ) -> Result<Response<()>, Status> {
        let id = request.into_inner().id;
        self.store.delete(&id).await.map(|_| Response::new(()))
    }

    type ListProductsStream = ProductStream;

    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<Self::ListProductsStream>, Status> {
        let request = request.into_inner();
        let category = Category::try_from(request.category).map_err(|_| {
            Status::invalid_argument(format!(
                "category {} is not a known Category",
                request.category
            ))
        })?;
        let products = self.store.list(request.page_size, category).await;
        let stream = tokio_stream::iter(products.into_iter().map(Ok));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn bulk_create_products(
        &self,
        request: Request<Streaming<CreateProductRequest>>,
    ) -> Result<Response<BulkCreateProductsResponse>, Status> {
        let mut incoming = request.into_inner();
        let mut products = Vec::new();
        while let Some(message) = incoming.message().await? {
            let index = products.len() + 1;
            let product = message.product.ok_or_else(|| {
                Status::invalid_argument(format!("message {index}: product is required"))
            })?;
            products.push(product);
        }
        let created = self.store.create_all(products).await?;
        let created_count = i32::try_from(created.len())
            .map_err(|_| Status::invalid_argument("too many products in one bulk create"))?;
        Ok(Response::new(BulkCreateProductsResponse {
            created_count,
            ids: created.into_iter().map(|p| p.id).collect(),
        }))
    }

    type WatchProductsStream = ProductStream;

    async fn watch_products(
        &self,
        request: Request<Streaming<WatchProductsRequest>>,
    ) -> Result<Response<Self::WatchProductsStream>, Status> {
        let mut incoming = request.into_inner();
        let store = self.store.clone();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let answer = match incoming.message().await {
                    Ok(Some(req)) => store.get(&req.id).await,
                    Ok(None) => break,
                    Err(status) => Err(status),
                };
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
