//! What a user name may be: one rule for `paintshop users add` and the admin API (at most
//! 64 bytes of UTF-8, no control characters).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a user name is 1 to 64 printable characters")]
pub struct InvalidUserName;

/// `raw` without surrounding whitespace, if it is a valid user name.
pub fn user_name(raw: &str) -> Result<&str, InvalidUserName> {
    let name = raw.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(InvalidUserName);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_printable_and_short() {
        assert_eq!(user_name("  alice \n"), Ok("alice"));
        assert_eq!(user_name("été"), Ok("été"));
        assert_eq!(user_name(&"x".repeat(64)), Ok("x".repeat(64).as_str()));
        for bad in ["", "   ", "a\u{7}b", "tab\there"] {
            assert_eq!(user_name(bad), Err(InvalidUserName), "{bad:?}");
        }
        assert_eq!(user_name(&"x".repeat(65)), Err(InvalidUserName));
    }
}
