//! API Gateway, HTTP API flavour: an HTTP request becomes the payload-2.0 event Lambda receives,
//! and `lambda_http` turns that event into the request the function's router handles, exactly as
//! in AWS. The local gateway and the integration tests both go through here.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use base64::Engine;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

/// The sample event every generated event starts from (`events/apigw/portal-request.json`).
pub const PORTAL_REQUEST: &str = include_str!("../../../events/apigw/portal-request.json");

/// One HTTP request as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct HttpCall {
    pub method: String,
    /// Path with optional `?query`, e.g. `/v1/accounts/acct_demo/audit?limit=5`.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The sample event, parsed.
pub fn template() -> Value {
    serde_json::from_str(PORTAL_REQUEST).expect("events/apigw/portal-request.json is valid JSON")
}

/// The API Gateway event for `call` on the route `ANY /v1/{proxy+}`. `claims` are the verified
/// token's claims as the JWT authorizer passes them (all strings); `None` drops the authorizer
/// context, as for a route without one.
pub fn event(template: &Value, call: &HttpCall, claims: Option<&BTreeMap<String, String>>) -> Value {
    let mut ev = template.clone();
    let (path, query) = call.path_and_query.split_once('?').unwrap_or((&call.path_and_query, ""));

    // API Gateway lower-cases header names, joins repeated headers with commas, and moves cookies
    // to their own list.
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in &call.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(value.split("; ").map(|c| Value::String(c.to_owned())));
            continue;
        }
        headers
            .entry(name)
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    headers.insert("content-length".into(), call.body.len().to_string());
    let base_headers = ev["headers"].as_object().cloned().unwrap_or_default();
    let mut merged: Map<String, Value> = base_headers
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "authorization" | "content-length" | "content-type" | "accept"))
        .collect();
    for (k, v) in headers {
        merged.insert(k, Value::String(v));
    }

    let mut qs: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default() {
        qs.entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }

    let now = chrono::Utc::now();
    ev["rawPath"] = json!(path);
    ev["rawQueryString"] = json!(query);
    ev["headers"] = Value::Object(merged);
    if cookies.is_empty() {
        ev.as_object_mut().map(|o| o.remove("cookies"));
    } else {
        ev["cookies"] = Value::Array(cookies);
    }
    if qs.is_empty() {
        ev.as_object_mut().map(|o| o.remove("queryStringParameters"));
    } else {
        ev["queryStringParameters"] = json!(qs);
    }
    // The template's routes: `POST /v1/usage` and `ANY /v1/ops/{proxy+}` (the ops API, IAM), the
    // portal's `ANY /v1/{proxy+}`, and explicit routes such as `POST /webhooks/stripe`, which have
    // no path parameters.
    let method = call.method.to_ascii_uppercase();
    let proxy_route = if path == "/v1/usage" {
        None
    } else if let Some(proxy) = path.strip_prefix("/v1/ops/") {
        Some((proxy, "ANY /v1/ops/{proxy+}"))
    } else {
        path.strip_prefix("/v1/").map(|proxy| (proxy, "ANY /v1/{proxy+}"))
    };
    let route_key = match proxy_route {
        Some((proxy, route)) => {
            ev["pathParameters"] = json!({ "proxy": proxy });
            route.to_owned()
        }
        None => {
            ev.as_object_mut().map(|o| o.remove("pathParameters"));
            format!("{method} {path}")
        }
    };
    ev["routeKey"] = json!(route_key);
    let ctx = &mut ev["requestContext"];
    ctx["routeKey"] = json!(route_key);
    ctx["http"]["method"] = json!(method);
    ctx["http"]["path"] = json!(path);
    ctx["requestId"] = json!(uuid::Uuid::new_v4().simple().to_string());
    ctx["time"] = json!(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    ctx["timeEpoch"] = json!(now.timestamp_millis());
    match claims {
        Some(claims) => ctx["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } }),
        None => {
            ctx.as_object_mut().map(|o| o.remove("authorizer"));
        }
    }
    match std::str::from_utf8(&call.body) {
        Ok("") => {
            ev.as_object_mut().map(|o| o.remove("body"));
            ev["isBase64Encoded"] = json!(false);
        }
        Ok(text) => {
            ev["body"] = json!(text);
            ev["isBase64Encoded"] = json!(false);
        }
        Err(_) => {
            ev["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&call.body));
            ev["isBase64Encoded"] = json!(true);
        }
    }
    ev
}

/// The event API Gateway sends for a route authorized with IAM (`POST /v1/usage`,
/// `ANY /v1/ops/{proxy+}`): the caller's principal in `requestContext.authorizer.iam`.
pub fn event_iam(template: &Value, call: &HttpCall, user_arn: &str, access_key: &str) -> Value {
    let mut ev = event(template, call, None);
    let ctx = &mut ev["requestContext"];
    let account = user_arn.split(':').nth(4).unwrap_or_default();
    ctx["authorizer"] = json!({ "iam": {
        "accessKey": access_key,
        "accountId": account,
        "callerId": access_key,
        "principalOrgId": null,
        "userArn": user_arn,
        "userId": access_key,
    }});
    ev
}

/// Runs `event` through `lambda_http`'s conversion and into `router`, as the Lambda runtime does.
pub async fn invoke(router: Router, event: &Value) -> Result<http::Response<Body>> {
    let request = lambda_http::request::from_str(&event.to_string()).context("lambda_http rejected the event")?;
    let response = router.oneshot(request).await.context("router")?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_lambda_http_reads() {
        let claims = BTreeMap::from([("sub".to_owned(), "u1".to_owned())]);
        let call = HttpCall {
            method: "post".into(),
            path_and_query: "/v1/accounts/acct_x/audit?limit=5&limit=6".into(),
            headers: vec![("Content-Type".into(), "application/json".into()), ("Cookie".into(), "a=1; b=2".into())],
            body: br#"{"a":1}"#.to_vec(),
        };
        let ev = event(&template(), &call, Some(&claims));
        assert_eq!(ev["rawPath"], "/v1/accounts/acct_x/audit");
        assert_eq!(ev["queryStringParameters"]["limit"], "5,6");
        assert_eq!(ev["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(ev["headers"]["content-type"], "application/json");
        assert!(ev["headers"].get("authorization").is_none(), "the sample's token is not forwarded");
        assert_eq!(ev["pathParameters"]["proxy"], "accounts/acct_x/audit");
        let req = lambda_http::request::from_str(&ev.to_string()).unwrap();
        assert_eq!(req.method(), "POST");
        assert_eq!(req.uri().path(), "/v1/accounts/acct_x/audit");
        assert_eq!(req.uri().query(), Some("limit=5&limit=6"));
    }

    #[test]
    fn binary_bodies_are_base64_encoded() {
        let call = HttpCall {
            method: "PUT".into(),
            path_and_query: "/v1/x".into(),
            body: vec![0xff, 0x00],
            ..Default::default()
        };
        let ev = event(&template(), &call, None);
        assert_eq!(ev["isBase64Encoded"], true);
        assert!(ev["requestContext"].get("authorizer").is_none());
    }
}
