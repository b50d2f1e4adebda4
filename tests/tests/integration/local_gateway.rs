//! The local API Gateway of `make dev`: JWT checks as API Gateway's authorizer makes them, then
//! the same event into the same router; and the demo account it seeds.

use std::time::Duration;

use axum::body::Body;
use devstack::{gateway, seed, token};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use integration_tests::Stack;
use serde_json::Value;
use tower::ServiceExt;

const SECRET: &[u8] = b"test-secret";

async fn send(app: &axum::Router, path: &str, auth: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_gateway_checks_tokens_and_serves_the_seeded_demo_account() {
    let s = Stack::new().await;
    assert!(seed::seed(&s.store()).await.unwrap(), "seeded");
    assert!(!seed::seed(&s.store()).await.unwrap(), "seeding twice is a no-op");
    let app = gateway::app(gateway::Gateway {
        portal: s.router.clone(),
        ops: None,
        webhook: None,
        jwt_secret: SECRET.to_vec(),
        template: devstack::apigw::template(),
    });
    let demo = format!("/v1/accounts/{}", seed::DEMO_ACCOUNT);
    let hour = Duration::from_secs(3600);

    for (sub, email, role) in seed::DEMO_USERS {
        let t = token::mint(SECRET, sub, email, true, hour).unwrap();
        let (status, body) = send(&app, &demo, Some(&format!("Bearer {t}"))).await;
        assert_eq!(status, StatusCode::OK, "{sub}: {body}");
        assert_eq!(body["name"], "Demo Hosting Customer Ltd");
        let (_, me) = send(&app, "/v1/me", Some(&format!("Bearer {t}"))).await;
        assert_eq!(me["memberships"][0]["role"], role.as_str());
    }

    let stranger = token::mint(SECRET, "stranger", "s@example.com", true, hour).unwrap();
    assert_eq!(send(&app, &demo, Some(&format!("Bearer {stranger}"))).await.0, StatusCode::NOT_FOUND);

    let forged = token::mint(b"another-secret", "demo-admin", "admin@demo.example", true, hour).unwrap();
    for auth in [None, Some("Bearer".to_owned()), Some("Bearer not.a.jwt".to_owned()), Some(format!("Bearer {forged}"))]
    {
        let (status, body) = send(&app, &demo, auth.as_deref()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body, serde_json::json!({"message": "Unauthorized"}));
    }
}

/// The seller's routes take IAM authorization, not tokens: unsigned or token-bearing requests are
/// refused as API Gateway refuses them; a SigV4-signed one reaches the ops API as that principal.
#[tokio::test]
async fn the_gateway_plays_iam_authorization_on_the_ops_routes() {
    let s = Stack::new().await;
    let app = gateway::app(gateway::Gateway {
        portal: s.router.clone(),
        ops: Some(s.ops_router()),
        webhook: None,
        jwt_secret: SECRET.to_vec(),
        template: devstack::apigw::template(),
    });
    let admin = token::mint(SECRET, "demo-admin", "admin@demo.example", true, Duration::from_secs(3600)).unwrap();
    for auth in [None, Some(format!("Bearer {admin}")), Some("AWS4-HMAC-SHA256 Credential=/x".to_owned())] {
        let (status, body) = send(&app, "/v1/ops/prices", auth.as_deref()).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, serde_json::json!({"message": "Forbidden"})), "{auth:?}");
    }
    let signed = "AWS4-HMAC-SHA256 Credential=ops-ann/20261124/us-east-1/execute-api/aws4_request, \
                  SignedHeaders=host;x-amz-date, Signature=0123abcd";
    let (status, body) = send(&app, "/v1/ops/prices", Some(signed)).await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::json!([])));
    assert_eq!(gateway::sigv4_access_key(signed), Some("ops-ann"));
    assert_eq!(gateway::sigv4_access_key("AWS4-HMAC-SHA256 Credential=k/20261124/us-east-1/s3/aws4_request"), None);
}
