//! Which releases a viewer may see: operators every one; a customer the releases its
//! entitlements allow now ([`crate::entitlement::CustomerAccess`]).

use crate::Timestamp;
use crate::entitlement::{CustomerAccess, ProductVisibility, ReleaseFacts};
use crate::pagination::{Offset, PageLimit, PageRequest};
use crate::ports::{ReleaseRepository, RepoError};
use crate::release::{Release, ReleaseFilter, ReleasePosition, ReleaseService, ReleaseViewer};

/// What one viewer may see, read once per request.
#[derive(Debug)]
pub(super) enum Sight {
    /// An operator: every release.
    Everything,
    /// A customer: the products its entitlements show, whole or narrowed.
    Customer {
        access: CustomerAccess,
        visibility: ProductVisibility,
        now: Timestamp,
    },
}

impl Sight {
    /// The database's product filter: `None` (any) for operators.
    pub(super) fn products_in(&self) -> Option<Vec<String>> {
        match self {
            Sight::Everything => None,
            Sight::Customer { visibility, .. } => Some(visibility.products()),
        }
    }

    /// Whether the product filter is the whole rule for a listing of `filter` (no
    /// release needs a look of its own): nothing is narrowed, or the listing is of one
    /// product that is not.
    pub(super) fn is_whole_for(&self, filter: &ReleaseFilter) -> bool {
        match self {
            Sight::Everything => true,
            Sight::Customer { visibility, .. } => {
                visibility.is_whole()
                    || filter
                        .product
                        .as_ref()
                        .is_some_and(|p| !visibility.narrowed.contains(p))
            }
        }
    }

    /// Whether `release` (of a product in [`Self::products_in`]) may be seen.
    pub(super) fn shows(&self, release: &Release) -> bool {
        match self {
            Sight::Everything => true,
            Sight::Customer {
                access,
                visibility,
                now,
            } => {
                let product = release.product.as_str();
                visibility.whole.iter().any(|p| p == product)
                    || access.allows(product, ReleaseFacts::from(release), *now)
            }
        }
    }
}

/// How many releases one read brings when some must be judged one by one.
const JUDGED_PER_READ: u32 = PageLimit::MAX;

impl ReleaseService {
    /// What `viewer` may see now.
    pub(super) async fn sight(&self, viewer: ReleaseViewer) -> Result<Sight, RepoError> {
        match viewer {
            ReleaseViewer::Operator => Ok(Sight::Everything),
            ReleaseViewer::Customer(customer) => {
                let access = self.entitlements.customer_access(customer).await?;
                let now = self.clock.now();
                Ok(Sight::Customer {
                    visibility: access.visible_at(now),
                    access,
                    now,
                })
            }
        }
    }

    /// One page of the releases `filter` matches and `sight` shows. When the product
    /// filter is the whole rule this is one read; otherwise releases are read in
    /// `filter`'s order from the start and judged one by one until the page is full,
    /// so a page deep into a narrowed listing costs the reads before it.
    pub(super) async fn list_seen(
        &self,
        sight: &Sight,
        filter: &ReleaseFilter,
        page: PageRequest,
    ) -> Result<Vec<Release>, RepoError> {
        if sight.is_whole_for(filter) {
            return self.releases.list(filter, page).await;
        }
        list_judged(self.releases.as_ref(), filter, page, |r| sight.shows(r)).await
    }
}

/// The page of releases matching `filter` and `keep`, reading `filter`'s matches in
/// order until it is full. Each read goes on after the last release of the one before
/// (not at an offset), so a release published or withdrawn between two reads neither
/// shows twice nor hides another.
async fn list_judged(
    releases: &dyn ReleaseRepository,
    filter: &ReleaseFilter,
    page: PageRequest,
    keep: impl Fn(&Release) -> bool,
) -> Result<Vec<Release>, RepoError> {
    let wanted = page.limit.get() as usize;
    let mut to_skip = page.offset.get();
    let mut found = Vec::with_capacity(wanted);
    let mut filter = filter.clone();
    let read = PageRequest {
        limit: PageLimit::clamped(JUDGED_PER_READ),
        offset: Offset::new(0),
    };
    loop {
        let chunk = releases.list(&filter, read).await?;
        let exhausted = chunk.len() < JUDGED_PER_READ as usize;
        for release in chunk {
            // Each release must come after the one before in the order the next read
            // starts from. One that does not (in the version order, a row an older
            // server left without an order key, until startup fills it in, stands
            // where its version does not put it) would start the next read over
            // releases already judged: the listing ends before it.
            if filter
                .after
                .as_ref()
                .is_some_and(|previous| !previous.precedes(filter.order, &release))
            {
                return Ok(found);
            }
            filter.after = Some(ReleasePosition::of(&release));
            if !keep(&release) {
                continue;
            }
            if to_skip > 0 {
                to_skip -= 1;
            } else {
                found.push(release);
                if found.len() == wanted {
                    return Ok(found);
                }
            }
        }
        if exhausted {
            return Ok(found);
        }
    }
}
