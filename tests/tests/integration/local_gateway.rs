//! The local API Gateway of `make dev`: JWT checks as API Gateway's authorizer makes them, then
//! the same event into the same router; and the demo account it seeds.

use std::time::Duration;

use axum::body::Body;
use devstack::cognito::LocalPool;
use devstack::{gateway, seed, token};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use integration_tests::Stack;
use serde_json::Value;
use tower::ServiceExt;

const SECRET: &[u8] = b"test-secret";
const STAFF_SECRET: &[u8] = b"test-staff-secret";

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
        authorizer: gateway::Authorizer::Secret(SECRET.to_vec()),
        staff_authorizer: None,
        template: devstack::apigw::template(),
        web: None,
        cognito_endpoint: None,
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
/// The back office's take the staff pool's tokens, not a customer's.
#[tokio::test]
async fn the_gateway_plays_iam_authorization_on_the_ops_routes() {
    let s = Stack::new().await;
    let app = gateway::app(gateway::Gateway {
        portal: s.router.clone(),
        ops: Some(s.ops_router()),
        webhook: None,
        authorizer: gateway::Authorizer::Secret(SECRET.to_vec()),
        staff_authorizer: Some(gateway::Authorizer::Secret(STAFF_SECRET.to_vec())),
        template: devstack::apigw::template(),
        web: None,
        cognito_endpoint: None,
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

    // The back office's routes take the staff pool's tokens only: a customer's token (even an
    // admin's), a signed request or none is refused at the gateway, before the function.
    for auth in [None, Some(format!("Bearer {admin}")), Some(signed.to_owned())] {
        let (status, body) = send(&app, "/v1/staff/prices", auth.as_deref()).await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, serde_json::json!({"message": "Unauthorized"})),
            "{auth:?}"
        );
    }
    let hour = Duration::from_secs(3600);
    let clerk = token::mint_staff(STAFF_SECRET, "clerk-1", "clerk@seller.example", &["clerk"], hour).unwrap();
    let (status, body) = send(&app, "/v1/staff/prices", Some(&format!("Bearer {clerk}"))).await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::json!([])));
    let (status, me) = send(&app, "/v1/staff/me", Some(&format!("Bearer {clerk}"))).await;
    assert_eq!(
        (status, &me["roles"], &me["email"]),
        (StatusCode::OK, &serde_json::json!(["clerk"]), &serde_json::json!("clerk@seller.example"))
    );
    let outsider = token::mint_staff(STAFF_SECRET, "x-1", "x@seller.example", &["interns"], hour).unwrap();
    let (status, body) = send(&app, "/v1/staff/prices", Some(&format!("Bearer {outsider}"))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    // A staff token does not open the IAM routes either.
    assert_eq!(send(&app, "/v1/ops/prices", Some(&format!("Bearer {clerk}"))).await.0, StatusCode::FORBIDDEN);
}

async fn call(app: &axum::Router, req: http::Request<Body>) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// `make dev`'s gateway: Cognito's RS256 ID tokens checked against the stand-in pool's JWKS (a
/// token of another pool, or an HS256 one, is refused), the Cognito API passed on at `/cognito`,
/// and the web app served on the same origin with its SPA fallback and security headers.
#[tokio::test]
async fn the_gateway_verifies_cognito_tokens_passes_cognito_calls_and_serves_the_app() {
    let s = Stack::new().await;
    let endpoint = tokio::task::spawn_blocking(devstack::moto::Moto::shared).await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "gw-web-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>portal</title>").unwrap();
    std::fs::write(dir.join("assets/app-1.js"), "console.log(1)").unwrap();
    let (ours, other) = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            let users = [("ann@gw.example", "Ann-Password-2026")];
            (
                LocalPool::create(endpoint, &users, &dir.join("ours.json")).unwrap(),
                LocalPool::create(endpoint, &users, &dir.join("other.json")).unwrap(),
            )
        })
        .await
        .unwrap()
    };
    let app = gateway::app(gateway::Gateway {
        portal: s.router.clone(),
        ops: None,
        webhook: None,
        authorizer: gateway::Authorizer::Cognito(ours.verifier()),
        staff_authorizer: None,
        template: devstack::apigw::template(),
        web: Some(gateway::WebApp {
            dist: dir.clone(),
            config: serde_json::json!({"cognito": {"userPoolId": ours.user_pool_id}}),
        }),
        cognito_endpoint: Some(endpoint.to_owned()),
    });

    // Signing in through the gateway's /cognito, as the web app does.
    let sign_in = |password: &str| {
        Request::post("/cognito/")
            .header("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth")
            .header("content-type", "application/x-amz-json-1.1")
            .body(Body::from(
                serde_json::json!({"ClientId": ours.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": "ann@gw.example", "PASSWORD": password}})
                .to_string(),
            ))
            .unwrap()
    };
    let (status, _, body) = call(&app, sign_in("Ann-Password-2026")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let id_token = answer["AuthenticationResult"]["IdToken"].as_str().unwrap().to_owned();
    let (status, headers, _) = call(&app, sign_in("wrong-password")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["x-amzn-errortype"], "NotAuthorizedException");
    let (status, _, _) = call(&app, Request::post("/cognito/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only Cognito calls pass");

    let (status, me) = send(&app, "/v1/me", Some(&format!("Bearer {id_token}"))).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["id"], ours.sub("ann@gw.example").unwrap());
    assert_eq!(me["user"]["email"], "ann@gw.example");
    assert_eq!(me["user"]["email_verified"], true);
    let foreign = other.sign_in(endpoint, "ann@gw.example", "Ann-Password-2026").unwrap();
    let hs256 = token::mint(SECRET, "ann", "ann@gw.example", true, Duration::from_secs(600)).unwrap();
    for t in [foreign, hs256] {
        assert_eq!(send(&app, "/v1/me", Some(&format!("Bearer {t}"))).await.0, StatusCode::UNAUTHORIZED);
    }

    // The app: files, the SPA fallback for its pages, no way out of its folder, its settings.
    let get = |p: &str| Request::get(p).body(Body::empty()).unwrap();
    let (status, headers, body) = call(&app, get("/accounts/acct_x/bills")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"<!doctype html><title>portal</title>".as_slice()));
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (status, headers, _) = call(&app, get("/assets/app-1.js")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(headers["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(call(&app, get("/assets/missing.js")).await.0, StatusCode::NOT_FOUND);
    let (status, _, body) = call(&app, get("/assets/../../Cargo.toml")).await;
    assert!(status == StatusCode::NOT_FOUND || !String::from_utf8_lossy(&body).contains("[workspace]"));
    let (status, _, body) = call(&app, get("/config.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["cognito"]["userPoolId"], ours.user_pool_id);
    std::fs::remove_dir_all(&dir).unwrap();
}
