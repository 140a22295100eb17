//! Customer use cases: create, list, get, change.

use std::sync::Arc;

use crate::CustomerId;
use crate::audit::{AuditEvent, Origin};
use crate::customer::{Customer, CustomerChanges, CustomerFilter, CustomerName, Plan};
use crate::pagination::{CursorPage, PageLimit, PageStart};
use crate::ports::{Clock, CustomerRepository, RepoError};

/// Why a use case on one customer failed.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// No customer has that id.
    #[error("customer not found")]
    NotFound,
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Creates, lists, reads and changes customers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use releasy_domain::memory::FixedClock;
/// use releasy_domain::{Ports, Services, Timestamp};
/// use releasy_domain::audit::{Actor, Origin};
/// use releasy_domain::customer::{CustomerFilter, CustomerName, Plan};
/// use releasy_domain::pagination::{Offset, PageLimit, PageStart};
///
/// let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
/// let releasy = Services::new(Ports::in_memory(clock));
///
/// let acme = releasy
///     .customers
///     .create(
///         &Origin::new(Actor::AdminKey),
///         CustomerName::parse("Acme").unwrap(),
///         Some(Plan::parse("core").unwrap()),
///     )
///     .await
///     .unwrap();
/// assert_eq!(releasy.customers.get(acme.id).await.unwrap(), acme);
/// let page = releasy
///     .customers
///     .list(
///         &CustomerFilter::default(),
///         PageLimit::DEFAULT,
///         &PageStart::Offset(Offset::parse(None).unwrap()),
///     )
///     .await
///     .unwrap();
/// assert_eq!(page.items, [acme]);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CustomerService {
    customers: Arc<dyn CustomerRepository>,
    clock: Arc<dyn Clock>,
}

impl CustomerService {
    /// A service over the given ports.
    pub fn new(customers: Arc<dyn CustomerRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { customers, clock }
    }

    /// Creates an active customer, recording `customer.created`.
    ///
    /// # Errors
    /// [`RepoError`] when it could not be stored.
    pub async fn create(
        &self,
        origin: &Origin,
        name: CustomerName,
        plan: Option<Plan>,
    ) -> Result<Customer, RepoError> {
        let customer = Customer {
            id: origin.new_id(),
            name,
            plan,
            created_at: self.clock.now(),
            suspended_at: None,
        };
        let event = AuditEvent::customer_created(origin, &customer);
        self.customers.insert(&customer, &event).await?;
        Ok(customer)
    }

    /// One page of customers, newest first.
    ///
    /// # Errors
    /// [`RepoError`] when the repository failed.
    pub async fn list(
        &self,
        filter: &CustomerFilter,
        limit: PageLimit,
        start: &PageStart,
    ) -> Result<CursorPage<Customer>, RepoError> {
        self.customers.list(filter, limit, start).await
    }

    /// The customer with this id.
    ///
    /// # Errors
    /// [`CustomerError::NotFound`] for an unknown id.
    pub async fn get(&self, id: CustomerId) -> Result<Customer, CustomerError> {
        self.customers.get(id).await?.ok_or(CustomerError::NotFound)
    }

    /// The customer `id`, or `None`.
    ///
    /// # Errors
    /// [`RepoError`] when the repository failed.
    pub async fn find(&self, id: CustomerId) -> Result<Option<Customer>, RepoError> {
        self.customers.get(id).await
    }

    /// Applies `changes` in one write and returns the customer as stored afterwards,
    /// recording what changed ([`AuditEvent::customer_changes`]).
    ///
    /// # Errors
    /// [`CustomerError::NotFound`] for an unknown id.
    pub async fn update(
        &self,
        origin: &Origin,
        id: CustomerId,
        changes: CustomerChanges,
    ) -> Result<Customer, CustomerError> {
        let now = self.clock.now();
        let update = changes.at(now);
        let events = |before: &Customer, after: &Customer| {
            AuditEvent::customer_changes(origin, before, after, now)
        };
        self.customers
            .update(id, &update, &events)
            .await?
            .ok_or(CustomerError::NotFound)
    }
}
