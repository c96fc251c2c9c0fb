//! Operator commands: thin clients of the admin API.

use std::process::ExitCode;

use http::Method;
use serde_json::Value;

use super::admin_client::call;
use super::{DeadAction, QuarantineAction, RoutesAction, fail};

/// Calls the admin API; prints problems as one line and maps them to exit status 1.
fn request(method: Method, base: &str, path: &str) -> Result<Value, ExitCode> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let (status, body) = call(method, &url).map_err(|e| fail(&e))?;
    let value: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).trim().to_owned()));
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        let detail = value
            .get("detail")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        eprintln!("xoev-router: {status}: {detail}");
        Err(ExitCode::from(1))
    }
}

fn pretty(v: &Value) -> ExitCode {
    say!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    ExitCode::SUCCESS
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("-")
}

fn n(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn print_queues(v: &Value) {
    say!(
        "{:<28} {:<8} {:>10} {:>10} {:>8} {:>14}",
        "DESTINATION",
        "ADAPTER",
        "QUEUED",
        "DELIVERING",
        "DEAD",
        "PENDING BYTES"
    );
    for q in v.as_array().into_iter().flatten() {
        say!(
            "{:<28} {:<8} {:>10} {:>10} {:>8} {:>14}",
            s(q, "destination"),
            s(q, "adapter"),
            n(q, "queued"),
            n(q, "delivering"),
            n(q, "dead"),
            n(q, "pending_bytes")
        );
    }
}

pub fn status(base: &str) -> ExitCode {
    let url = format!("{}/readyz", base.trim_end_matches('/'));
    // A health check can use the exit status: 0 ready, 1 not ready, 2 no answer.
    let (ready, verdict) = match call(Method::GET, &url) {
        Ok((200, _)) => (true, "ready".to_owned()),
        // The body says why ("not ready: the queue failed ..."): the operator needs the cause.
        Ok((_, body)) => {
            let why = String::from_utf8_lossy(&body).trim().to_owned();
            let why = if why.starts_with("not ready") {
                why
            } else {
                "not ready".to_owned()
            };
            (false, why)
        }
        Err(e) => return fail(&e),
    };
    say!("router at {base}: {verdict}");
    // The queue listing is information; the exit status is the readiness alone.
    if let Ok(v) = request(Method::GET, base, "/admin/queues") {
        print_queues(&v);
    }
    if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn queue(base: &str) -> ExitCode {
    match request(Method::GET, base, "/admin/queues") {
        Ok(v) => {
            print_queues(&v);
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

pub fn dead(base: &str, action: DeadAction) -> ExitCode {
    let result = match action {
        DeadAction::List { limit } => {
            request(Method::GET, base, &format!("/admin/dead?limit={limit}")).map(|v| {
                say!(
                    "{:<36}  {:<20}  {:<25}  {:>8}  REASON",
                    "ID",
                    "DESTINATION",
                    "DIED",
                    "ATTEMPTS"
                );
                for m in v
                    .get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    say!(
                        "{:<36}  {:<20}  {:<25}  {:>8}  {}",
                        s(m, "id"),
                        s(m, "destination"),
                        s(m, "updated_at"),
                        n(m, "attempts"),
                        s(m, "last_error")
                    );
                }
                ExitCode::SUCCESS
            })
        }
        DeadAction::Show { id } => {
            request(Method::GET, base, &format!("/admin/messages/{id}")).map(|v| pretty(&v))
        }
        DeadAction::Replay { id } => {
            request(Method::POST, base, &format!("/admin/messages/{id}/replay")).map(|v| {
                say!(
                    "{id}: {} (destination {})",
                    s(&v, "state"),
                    s(&v, "destination")
                );
                ExitCode::SUCCESS
            })
        }
        DeadAction::Purge { id } => request(Method::DELETE, base, &format!("/admin/messages/{id}"))
            .map(|_| {
                say!("{id}: purged");
                ExitCode::SUCCESS
            }),
    };
    result.unwrap_or_else(|code| code)
}

pub fn routes(base: &str, action: RoutesAction) -> ExitCode {
    let result = match action {
        RoutesAction::Resolve {
            leser,
            nachrichtentyp,
        } => {
            let mut path = format!("/admin/routes?leser={leser}");
            if let Some(t) = nachrichtentyp {
                path.push_str(&format!("&nachrichtentyp={t}"));
            }
            request(Method::GET, base, &path).map(|v| {
                match v.get("destination").and_then(Value::as_str) {
                    Some(d) => {
                        say!("{d}");
                        ExitCode::SUCCESS
                    }
                    None => {
                        eprintln!("xoev-router: unroutable: no directory entry for {leser}");
                        ExitCode::from(1)
                    }
                }
            })
        }
        RoutesAction::Reload => request(Method::POST, base, "/admin/reload").map(|v| {
            say!(
                "reloaded: {} routes, {} senders",
                n(&v, "routes"),
                n(&v, "senders")
            );
            ExitCode::SUCCESS
        }),
    };
    result.unwrap_or_else(|code| code)
}

pub fn quarantine(base: &str, action: QuarantineAction) -> ExitCode {
    match action {
        QuarantineAction::List { limit } => list_quarantine(base, limit),
        QuarantineAction::Forget { tree, key } => request(
            Method::DELETE,
            base,
            &format!("/admin/quarantine/{tree}/{key}"),
        )
        .map(|_| {
            say!("forgotten: {tree} {key}");
            ExitCode::SUCCESS
        })
        .unwrap_or_else(|code| code),
    }
}

fn list_quarantine(base: &str, limit: usize) -> ExitCode {
    request(
        Method::GET,
        base,
        &format!("/admin/quarantine?limit={limit}"),
    )
    .map(|v| {
        let total = n(&v, "total");
        say!("{total} value(s) in quarantine");
        if total > 0 {
            say!("{:<12} {:<36} {:>8}  KEY", "TREE", "MESSAGE", "BYTES");
        }
        for e in v["items"].as_array().into_iter().flatten() {
            say!(
                "{:<12} {:<36} {:>8}  {}",
                s(e, "tree"),
                s(e, "message_id"),
                n(e, "bytes"),
                s(e, "key")
            );
        }
        ExitCode::SUCCESS
    })
    .unwrap_or_else(|code| code)
}

pub fn message(base: &str, id: &str) -> ExitCode {
    request(Method::GET, base, &format!("/admin/messages/{id}"))
        .map(|v| pretty(&v))
        .unwrap_or_else(|code| code)
}
