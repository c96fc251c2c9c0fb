//! Plain HTTP/1.1 requests on loopback: the router's admin listener and the authority's
//! control listener. One connection per request (they are rare).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::LoadgenError;

/// Sends one request and returns status and body; errors name the address and path.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<(u16, Bytes), LoadgenError> {
    let what = || format!("{method} http://{addr}{path}");
    let fut = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::HOST, addr.to_string())
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))?;
        let resp = send.send_request(req).await.map_err(|e| format!("{e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(LoadgenError::Http(format!("{}: {e}", what()))),
        Err(_) => Err(LoadgenError::Http(format!(
            "{}: no answer in {timeout:?}",
            what()
        ))),
    }
}

/// GET returning the body of a 200 answer.
pub async fn get_ok(addr: SocketAddr, path: &str) -> Result<Bytes, LoadgenError> {
    let (status, body) = request(
        addr,
        Method::GET,
        path,
        Bytes::new(),
        Duration::from_secs(10),
    )
    .await?;
    if status == 200 {
        Ok(body)
    } else {
        Err(LoadgenError::Http(format!(
            "GET http://{addr}{path}: status {status}: {}",
            String::from_utf8_lossy(&body).trim()
        )))
    }
}

/// POST expecting a 200 answer.
pub async fn post_ok(addr: SocketAddr, path: &str, body: Bytes) -> Result<Bytes, LoadgenError> {
    let (status, answer) = request(addr, Method::POST, path, body, Duration::from_secs(30)).await?;
    if status == 200 {
        Ok(answer)
    } else {
        Err(LoadgenError::Http(format!(
            "POST http://{addr}{path}: status {status}: {}",
            String::from_utf8_lossy(&answer).trim()
        )))
    }
}
