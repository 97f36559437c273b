//! Database URLs as they may appear in logs and errors: without their password.

const HIDDEN: &str = "***";

/// `url` with the password of its user information and any `password=` query parameter
/// replaced by `***`. Anything that is not a URL is returned as it is (it holds no
/// recognisable password).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:{HIDDEN}@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}={HIDDEN}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_wherever_a_url_carries_them() {
        assert_eq!(
            redact_url("postgres://app:s3cr@t@db.example:5432/main?sslmode=require"),
            "postgres://app:***@db.example:5432/main?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/main?user=app&password=s3cret&sslmode=require"),
            "postgresql://db/main?user=app&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://app@db/main"),
            "postgres://app@db/main"
        );
        assert_eq!(redact_url("sqlite://paintshop.db"), "sqlite://paintshop.db");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
