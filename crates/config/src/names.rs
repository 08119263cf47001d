//! Shapes of names written in the config: identifiers, gRPC service and
//! method names, host names, upstream names.
//!
//! Each check returns `Err(message)` describing the problem, so decoders
//! can report it at the node that holds the name.

/// A protobuf identifier: a letter or `_`, then letters, digits or `_`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A fully qualified gRPC service name: dotted identifiers
/// (`ecommerce.v1.ProductService`).
pub fn check_grpc_service(s: &str) -> Result<(), String> {
    if let Some(stripped) = s.strip_prefix('/') {
        return Err(format!(
            "a service name has no leading `/`; write `{stripped}`"
        ));
    }
    if s.contains('/') {
        return Err(format!(
            "`{s}` names a method; use `grpc_method` for one method, or give only the service (`{}`)",
            s.split('/').next().unwrap_or_default()
        ));
    }
    if s.is_empty() || !s.split('.').all(is_identifier) {
        return Err(format!(
            "`{s}` is not a gRPC service name; expected dotted identifiers like `ecommerce.v1.ProductService`"
        ));
    }
    Ok(())
}

/// A gRPC method: `package.Service/Method`.
pub fn check_grpc_method(s: &str) -> Result<(), String> {
    if let Some(stripped) = s.strip_prefix('/') {
        return Err(format!(
            "a method name has no leading `/`; write `{stripped}`"
        ));
    }
    let Some((service, method)) = s.split_once('/') else {
        return Err(format!(
            "`{s}` is not a gRPC method; expected `package.Service/Method` (use `grpc_service` to match a whole service)"
        ));
    };
    let shape_ok =
        !service.is_empty() && service.split('.').all(is_identifier) && is_identifier(method);
    if !shape_ok {
        return Err(format!(
            "`{s}` is not a gRPC method; expected `package.Service/Method` with identifiers on both sides of one `/`"
        ));
    }
    Ok(())
}

/// A DNS host name or IPv4 address: dot-separated labels of letters,
/// digits, `-` and `_` (1 to 63 characters, not starting or ending with
/// `-`), at most 253 characters.
pub fn check_hostname(s: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{s}` is not a valid host name: {why}"));
    if s.is_empty() {
        return bad("it is empty");
    }
    if s.len() > 253 {
        return bad("it is longer than 253 characters");
    }
    for label in s.strip_suffix('.').unwrap_or(s).split('.') {
        if label.is_empty() {
            return bad("it has an empty label");
        }
        if label.len() > 63 {
            return bad("a label is longer than 63 characters");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label starts or ends with `-`");
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return bad(&format!("`{c}` is not allowed"));
        }
    }
    Ok(())
}

/// An upstream name: letters, digits, `_`, `.` and `-`, so it can be used
/// as a metric label and in log lines as is.
pub fn check_upstream_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("an upstream name must not be empty".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "upstream name `{s}` contains `{c}`; use only letters, digits, `_`, `.` and `-`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_identifier("ProductService"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a-b"));
    }

    #[test]
    fn grpc_services() {
        assert_eq!(check_grpc_service("ecommerce.v1.ProductService"), Ok(()));
        assert_eq!(check_grpc_service("Greeter"), Ok(()));
        assert!(check_grpc_service("ecommerce..Product").is_err());
        assert!(check_grpc_service("a.B/C").is_err());
        assert!(check_grpc_service("/a.B").is_err());
    }

    #[test]
    fn grpc_methods() {
        assert_eq!(
            check_grpc_method("ecommerce.v1.ProductService/GetProduct"),
            Ok(())
        );
        assert_eq!(check_grpc_method("Greeter/SayHello"), Ok(()));
        assert!(check_grpc_method("ecommerce.v1.ProductService").is_err());
        assert!(check_grpc_method("a.B/C/D").is_err());
        assert!(check_grpc_method("a.B/").is_err());
        assert_eq!(
            check_grpc_method("/a.B/C"),
            Err("a method name has no leading `/`; write `a.B/C`".to_owned())
        );
    }

    #[test]
    fn hostnames() {
        assert_eq!(check_hostname("legacy.example.com"), Ok(()));
        assert_eq!(check_hostname("inventory.internal"), Ok(()));
        assert_eq!(check_hostname("10.0.0.1"), Ok(()));
        assert_eq!(check_hostname("localhost"), Ok(()));
        assert!(check_hostname("-bad.example").is_err());
        assert!(check_hostname("a..b").is_err());
        assert!(check_hostname("a b").is_err());
        assert!(check_hostname("").is_err());
    }

    #[test]
    fn upstream_names() {
        assert_eq!(check_upstream_name("legacy-http"), Ok(()));
        assert_eq!(check_upstream_name("svc.v1_a"), Ok(()));
        assert!(check_upstream_name("my svc").is_err());
        assert!(check_upstream_name("").is_err());
    }
}
