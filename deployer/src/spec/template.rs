//! `${...}` placeholders in env values and local commands.

/// A placeholder found in a spec string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `${services.NAME.url}`: where another service is reachable (its load balancer / proxy).
    ServiceUrl(String),
    /// `${port}`: the port this local instance must listen on.
    Port,
    /// `${instance}`: this local instance's id, e.g. `portal-blue-1`.
    Instance,
    /// `${color}`: `blue` or `green`.
    Color,
    /// `${state_dir}`: the local state directory (absolute).
    StateDir,
    Unknown(String),
}

impl Placeholder {
    fn parse(inner: &str) -> Self {
        match inner {
            "port" => Self::Port,
            "instance" => Self::Instance,
            "color" => Self::Color,
            "state_dir" => Self::StateDir,
            other => match other
                .strip_prefix("services.")
                .and_then(|rest| rest.strip_suffix(".url"))
            {
                Some(name) if !name.is_empty() && !name.contains('.') => {
                    Self::ServiceUrl(name.to_owned())
                }
                _ => Self::Unknown(other.to_owned()),
            },
        }
    }

    /// Only service URLs make sense on every platform; the rest exist for local instances.
    pub fn is_local_only(&self) -> bool {
        matches!(
            self,
            Self::Port | Self::Instance | Self::Color | Self::StateDir
        )
    }
}

/// Every placeholder in `text`; an unterminated `${` is reported as unknown.
pub fn placeholders(text: &str) -> Vec<Placeholder> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                found.push(Placeholder::parse(&after[..end]));
                rest = &after[end + 1..];
            }
            None => {
                found.push(Placeholder::Unknown(after.to_owned()));
                break;
            }
        }
    }
    found
}

/// Replaces every placeholder with `resolve`'s answer; `None` leaves it as written.
pub fn expand(text: &str, resolve: &dyn Fn(&Placeholder) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        match resolve(&Placeholder::parse(inner)) {
            Some(value) => out.push_str(&value),
            None => {
                out.push_str("${");
                out.push_str(inner);
                out.push('}');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_expands() {
        let text = "http://x:${port}/${services.hardware.url}/${nope}";
        assert_eq!(
            placeholders(text),
            vec![
                Placeholder::Port,
                Placeholder::ServiceUrl("hardware".into()),
                Placeholder::Unknown("nope".into())
            ]
        );
        let expanded = expand(text, &|placeholder| match placeholder {
            Placeholder::Port => Some("8080".into()),
            Placeholder::ServiceUrl(name) => Some(format!("<{name}>")),
            _ => None,
        });
        assert_eq!(expanded, "http://x:8080/<hardware>/${nope}");
        assert_eq!(expand("a ${port", &|_| Some("1".into())), "a ${port");
    }
}
