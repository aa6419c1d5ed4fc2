//! The requests that change one resource read at an etag: the methods
//! built on a shared load-change-save step read the resource's name and
//! etag through [`EtagTarget`].

/// A request naming the resource it changes and the etag it was read at.
pub(super) trait EtagTarget {
    /// The resource's name.
    fn name(&self) -> &str;
    /// The etag the caller read (empty: no check).
    fn etag(&self) -> &str;
}

/// Implements [`EtagTarget`] for requests with `name` and `etag` fields.
macro_rules! etag_targets {
    ($($request:ty),* $(,)?) => {$(
        impl $crate::api::target::EtagTarget for $request {
            fn name(&self) -> &str {
                &self.name
            }
            fn etag(&self) -> &str {
                &self.etag
            }
        }
    )*};
}
pub(super) use etag_targets;
