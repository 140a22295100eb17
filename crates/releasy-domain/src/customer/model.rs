//! The customer record and the checked values it is made of.

use crate::text::bounded_text_type;
use crate::{CustomerId, Timestamp, ValidationError};

bounded_text_type!(
    /// A customer's display name: trimmed, 1 to 200 characters.
    CustomerName,
    field = "name",
    max = 200
);

bounded_text_type!(
    /// A plan identifier such as `core` or `enterprise`: trimmed, 1 to 64 characters.
    Plan,
    field = "plan",
    max = 64
);

impl Plan {
    /// A plan from a client's text, where a blank one means no plan (as the reference
    /// server reads it: a client may send `""` for none, or to remove the plan).
    ///
    /// # Errors
    /// [`ValidationError`] as [`Plan::parse`], for a text that is not blank.
    ///
    /// ```
    /// use releasy_domain::customer::Plan;
    ///
    /// assert_eq!(Plan::parse_or_none("  ").unwrap(), None);
    /// assert_eq!(Plan::parse_or_none(" core ").unwrap().unwrap().as_str(), "core");
    /// assert!(Plan::parse_or_none(&"p".repeat(65)).is_err());
    /// ```
    pub fn parse_or_none(text: &str) -> Result<Option<Self>, ValidationError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        Self::parse(text).map(Some)
    }
}

/// A customer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Its id.
    pub id: CustomerId,
    /// Its display name.
    pub name: CustomerName,
    /// Its plan, if any.
    pub plan: Option<Plan>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was suspended; `None` while active.
    pub suspended_at: Option<Timestamp>,
}

impl Customer {
    /// Whether the customer is suspended: its keys and download tokens stop working.
    pub fn is_suspended(&self) -> bool {
        self.suspended_at.is_some()
    }
}

/// `text` as the customer filters compare it without regard to case: each character
/// lower-cased on its own, as PostgreSQL's `lower` does under a UTF-8 libc collation
/// (a `C` one folds ASCII only; an ICU one follows the final-sigma rule), so that a
/// `Σ` is `σ` whatever follows it (Rust's `str::to_lowercase` makes a word's last one `ς`, and a filter
/// ending in it would then miss the longer name it is part of).
///
/// ```
/// use releasy_domain::customer::fold_case;
///
/// assert_eq!(fold_case("ÖBB Århus"), "öbb århus");
/// assert_eq!(fold_case("ΟΔΥΣ"), "οδυσ");
/// assert!(fold_case("ΟΔΥΣΣΕΑΣ").contains(&fold_case("ΟΔΥΣ")));
/// ```
pub fn fold_case(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Filters of a customer listing; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CustomerFilter {
    /// Exactly this customer.
    pub customer_id: Option<CustomerId>,
    /// Names containing this text, ignoring case.
    pub name_contains: Option<String>,
    /// Plans equal to this text, ignoring case.
    pub plan: Option<String>,
}

/// What a caller asked to change. At least one field is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerChanges {
    name: Option<CustomerName>,
    plan: Option<Option<Plan>>,
    suspended: Option<bool>,
}

impl CustomerChanges {
    /// Checks a change request. `plan: Some(None)` removes the plan.
    ///
    /// # Errors
    /// [`ValidationError`] when no field is set.
    pub fn new(
        name: Option<CustomerName>,
        plan: Option<Option<Plan>>,
        suspended: Option<bool>,
    ) -> Result<Self, ValidationError> {
        if name.is_none() && plan.is_none() && suspended.is_none() {
            return Err(ValidationError::new(
                "body",
                "must set at least one of name, plan, suspended",
            ));
        }
        Ok(Self {
            name,
            plan,
            suspended,
        })
    }

    /// The update to store, given the current time: suspending records `now`,
    /// unsuspending clears the timestamp.
    pub fn at(self, now: Timestamp) -> CustomerUpdate {
        CustomerUpdate {
            name: self.name,
            plan: self.plan,
            suspended_at: self.suspended.map(|s| s.then_some(now)),
        }
    }
}

/// A column-level update of one customer; `None` leaves a column as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerUpdate {
    /// New name.
    pub name: Option<CustomerName>,
    /// New plan; `Some(None)` clears it.
    pub plan: Option<Option<Plan>>,
    /// New suspension time; `Some(None)` clears it.
    pub suspended_at: Option<Option<Timestamp>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_change_is_rejected() {
        assert!(CustomerChanges::new(None, None, None).is_err());
    }

    #[test]
    fn suspending_records_now_and_unsuspending_clears() {
        let now = Timestamp::from_unix_seconds(42);
        let suspend = CustomerChanges::new(None, None, Some(true))
            .unwrap()
            .at(now);
        assert_eq!(suspend.suspended_at, Some(Some(now)));
        let resume = CustomerChanges::new(None, None, Some(false))
            .unwrap()
            .at(now);
        assert_eq!(resume.suspended_at, Some(None));
    }

    #[test]
    fn names_are_trimmed_and_must_not_be_empty() {
        assert_eq!(CustomerName::parse(" Acme ").unwrap().as_str(), "Acme");
        assert_eq!(
            CustomerName::parse("").unwrap_err().to_string(),
            "name must not be empty"
        );
        assert_eq!(Plan::parse(" ").unwrap_err().field, "plan");
    }
}
