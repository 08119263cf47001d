//! Which protocol the caller speaks, decided once from its `content-type`.

use protogate_grpc::content_type::{classify, Protocol};

/// The caller's protocol. Decides route eligibility (gRPC match keys only
/// match gRPC callers) and the shape of every answer the gateway writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CallerProtocol {
    /// `application/grpc*` over HTTP/2.
    Grpc,
    /// `application/grpc-web` (binary).
    GrpcWeb,
    /// `application/grpc-web-text` (base64).
    GrpcWebText,
    /// Anything else: REST, browsers, curl.
    #[default]
    Http,
}

impl CallerProtocol {
    /// Classifies a request by its `content-type` header value.
    pub fn from_content_type(content_type: Option<&[u8]>) -> Self {
        match content_type.and_then(classify) {
            Some(Protocol::Grpc) => Self::Grpc,
            Some(Protocol::GrpcWeb) => Self::GrpcWeb,
            Some(Protocol::GrpcWebText) => Self::GrpcWebText,
            None => Self::Http,
        }
    }

    /// True for every gRPC flavour, gRPC-Web included: such callers are
    /// answered with `grpc-status`, never with a JSON body.
    pub fn is_grpc(self) -> bool {
        !matches!(self, Self::Http)
    }

    /// The `content-type` the gateway answers with for its own responses.
    pub fn response_content_type(self) -> &'static str {
        match self {
            Self::Grpc => "application/grpc",
            Self::GrpcWeb => "application/grpc-web+proto",
            Self::GrpcWebText => "application/grpc-web-text+proto",
            Self::Http => "application/json",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_flavour() {
        let c = |v: &str| CallerProtocol::from_content_type(Some(v.as_bytes()));
        assert_eq!(c("application/grpc"), CallerProtocol::Grpc);
        assert_eq!(c("application/grpc+proto"), CallerProtocol::Grpc);
        assert_eq!(c("application/grpc-web"), CallerProtocol::GrpcWeb);
        assert_eq!(c("application/grpc-web-text"), CallerProtocol::GrpcWebText);
        assert_eq!(c("application/json"), CallerProtocol::Http);
        assert_eq!(
            CallerProtocol::from_content_type(None),
            CallerProtocol::Http
        );
        assert!(CallerProtocol::GrpcWeb.is_grpc());
        assert!(!CallerProtocol::Http.is_grpc());
    }
}
