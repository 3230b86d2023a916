//! gRPC, as HTTP/2 carries it: a call is a stream whose content-type is
//! `application/grpc`, its path `/package.Service/Method`, its status the
//! `grpc-status` of its trailers (or of a trailers-only response).

/// One gRPC call's service, method and status code (None: no grpc-status came).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcCall {
    pub service: String,
    pub method: String,
    pub status: Option<u32>,
}

impl GrpcCall {
    /// The call a request with this content-type and path makes, if it is gRPC.
    pub fn of(content_type: &str, path: &str) -> Option<GrpcCall> {
        if !is_grpc(content_type) {
            return None;
        }
        let (service, method) = path.strip_prefix('/').and_then(|p| p.split_once('/')).unwrap_or((path, ""));
        Some(GrpcCall { service: service.to_string(), method: method.to_string(), status: None })
    }

    /// Whether the call failed: any status but OK, or none at all.
    pub fn failed(&self) -> bool {
        self.status != Some(0)
    }
}

/// `application/grpc`, alone or with a subtype (`+proto`, `+json`) or parameters.
pub fn is_grpc(content_type: &str) -> bool {
    content_type
        .strip_prefix("application/grpc")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('+') || rest.starts_with(';'))
}

/// A status code's name, as gRPC's own code names it (statuscodes.md).
pub fn status_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES.get(code as usize).copied().unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_named_by_its_path() {
        let call = GrpcCall::of("application/grpc", "/demo.v1.Echo/Say").unwrap();
        assert_eq!((call.service.as_str(), call.method.as_str(), call.status), ("demo.v1.Echo", "Say", None));
        assert!(GrpcCall::of("application/grpc+proto", "/a.B/C").is_some());
        assert!(GrpcCall::of("application/grpc-web", "/a.B/C").is_none(), "grpc-web is HTTP/1's");
        assert!(GrpcCall::of("application/json", "/a.B/C").is_none());
        let odd = GrpcCall::of("application/grpc", "nopath").unwrap();
        assert_eq!((odd.service.as_str(), odd.method.as_str()), ("nopath", ""));
    }

    #[test]
    fn statuses_by_name() {
        assert_eq!((status_name(0), status_name(4), status_name(5), status_name(16), status_name(99)), ("OK", "DEADLINE_EXCEEDED", "NOT_FOUND", "UNAUTHENTICATED", "UNKNOWN"));
        assert!(!GrpcCall { service: String::new(), method: String::new(), status: Some(0) }.failed());
        assert!(GrpcCall { service: String::new(), method: String::new(), status: None }.failed());
    }
}
