//! Building responses: JSON, problem+json, plain text.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use xoev_core::{Problem, ProblemType};

pub type Body = Full<Bytes>;
pub type Resp = Response<Body>;

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Resp {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => with_type(status, "application/json", body),
        Err(e) => problem(&Problem::new(
            ProblemType::Internal,
            format!("cannot encode response: {e}"),
        )),
    }
}

pub fn problem(p: &Problem) -> Resp {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = with_type(status, "application/problem+json", p.to_json());
    if let Some(s) = p.retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    with_type(status, "text/plain; charset=utf-8", body)
}

pub fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn not_found(path: &str) -> Resp {
    problem(&Problem::new(
        ProblemType::NotFound,
        format!("no resource at {path}"),
    ))
}

pub fn method_not_allowed(method: &http::Method, path: &str, allow: &'static str) -> Resp {
    let mut r = problem(&Problem::new(
        ProblemType::MethodNotAllowed,
        format!("{method} is not allowed on {path}; allowed: {allow}"),
    ));
    r.headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static(allow));
    r
}
