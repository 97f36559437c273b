//! What the OpenAPI document says once for every route behind a key, by path prefix, as the
//! routes share it through one extractor each ([`crate::auth::KeyedUser`] under `/v2/`,
//! [`crate::admin_api::AdminCaller`] under `/admin/`): the security scheme, the 401 for a
//! missing or wrong key and, for the admin API, the 404 while it is off. A route that says more
//! about one of those statuses (revoking a user that does not exist is also a 404) keeps its own.

use crate::errors::ErrorBody;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, PathItem, Ref, ResponseBuilder};
use utoipa::{Modify, ToSchema};

/// The refusals of the key check guarding every path under `prefix`.
struct Guard {
    prefix: &'static str,
    scheme: &'static str,
    /// (status, description) answered with an [`ErrorBody`].
    refusals: &'static [(&'static str, &'static str)],
}

const GUARDS: [Guard; 2] = [
    Guard {
        prefix: "/v2/",
        scheme: "api_key",
        refusals: &[("401", "Missing, invalid or revoked API key")],
    },
    Guard {
        prefix: "/admin/",
        scheme: "admin_key",
        refusals: &[
            ("401", "Missing or wrong admin key"),
            ("404", "The admin API is off (no admin key configured)"),
        ],
    },
];

pub struct KeyGuards;

impl Modify for KeyGuards {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin key paintshop was started with (--admin-key-file or PAINTSHOP_ADMIN_KEY)",
                    ))
                    .build(),
            ),
        );
        for (path, item) in &mut openapi.paths.paths {
            if let Some(guard) = GUARDS.iter().find(|guard| path.starts_with(guard.prefix)) {
                guard.apply(item);
            }
        }
    }
}

impl Guard {
    fn apply(&self, item: &mut PathItem) {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            operation
                .security
                .get_or_insert_with(Vec::new)
                .push(SecurityRequirement::new(self.scheme, Vec::<String>::new()));
            for (status, description) in self.refusals {
                let refusal = ResponseBuilder::new()
                    .description(*description)
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
                    )
                    .build();
                operation
                    .responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert(refusal.into());
            }
        }
    }
}
