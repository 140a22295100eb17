//! Type-level names for the role-matrix actions and customer scopes that handlers
//! require. Each is a zero-sized marker that names one domain value.

use releasy_domain::access::Action;
use releasy_domain::api_key::Scope;

use super::{Permission, RequiredScope};

macro_rules! permissions {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        $(
            #[doc = concat!("Requires the role-matrix action [`Action::", stringify!($name), "`].")]
            #[derive(Debug)]
            pub struct $name;
            impl Permission for $name {
                const ACTION: Action = Action::$name;
            }
        )*
    };
}

// One marker per action of the domain's list.
releasy_domain::with_each_action!(permissions);

macro_rules! scopes {
    ($($name:ident),* $(,)?) => {
        $(
            #[doc = concat!("Requires the customer-key scope `", stringify!($name), "`.")]
            #[derive(Debug)]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*
    };
}

scopes!(ReleasesRead, DownloadsRead, DownloadsToken, KeysRead);
