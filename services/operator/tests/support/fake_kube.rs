//! A Kubernetes API server in memory, behind kube's `Client` through a
//! `tower_test` mock: enough of the API's behaviour (get, create, merge,
//! JSON and server-side-apply patches, status, delete, finalizers) for the
//! controller's requests to be answered as a cluster would, and every
//! request recorded so tests can assert what the controller asked for.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use kefu_operator::Tenant;
use kube::{Client, client::Body};
use serde_json::{Value, json};

/// One request the controller made.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// The path without the query.
    pub path: String,
    /// The `content-type` of a write.
    pub content_type: String,
    pub body: Value,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    resource_version: u64,
}

/// The fake API server.
#[derive(Clone, Default)]
pub struct FakeKube {
    state: Arc<Mutex<State>>,
}

/// The path of a Tenant resource.
pub fn tenant_path(namespace: &str, name: &str) -> String {
    format!("/apis/kefu.io/v1alpha1/namespaces/{namespace}/tenants/{name}")
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

impl FakeKube {
    /// A client of a new fake server, and the server.
    pub fn start() -> (Client, Self) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = Self::default();
        let server = fake.clone();
        tokio::spawn(async move {
            while let Some((request, respond)) = handle.next_request().await {
                let response = server.answer(request).await;
                respond.send_response(response);
            }
        });
        (Client::new(service, "default"), fake)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake state")
    }

    /// Stores `object` at `path` as if created by a person.
    pub fn put(&self, path: &str, mut object: Value) {
        let mut state = self.state();
        state.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(state.resource_version.to_string());
        state.objects.insert(path.to_owned(), object);
    }

    /// The object at `path`.
    pub fn get(&self, path: &str) -> Option<Value> {
        self.state().objects.get(path).cloned()
    }

    /// Paths of every stored object under `prefix`.
    pub fn paths(&self, prefix: &str) -> Vec<String> {
        self.state()
            .objects
            .keys()
            .filter(|path| path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Changes the object at `path` as a person (or the cluster) would.
    pub fn edit(&self, path: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.state();
        state.resource_version += 1;
        let version = state.resource_version.to_string();
        let object = state.objects.get_mut(path).expect("object to edit");
        change(object);
        object["metadata"]["resourceVersion"] = json!(version);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// Requests whose method is `method` and path starts with `prefix`.
    pub fn requests_to(&self, method: &Method, prefix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.method == *method && request.path.starts_with(prefix))
            .collect()
    }

    /// The reasons of the events published about anything, in order (a
    /// repeat of an event within minutes is a PATCH of its series).
    pub fn event_reasons(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|request| {
                (request.method == Method::POST && request.path.ends_with("/events"))
                    || (request.method == Method::PATCH && request.path.contains("/events/"))
            })
            .filter_map(|request| request.body["reason"].as_str().map(str::to_owned))
            .collect()
    }

    /// The Tenant at `namespace/name`, as the controller's cache would hand it.
    pub fn tenant(&self, namespace: &str, name: &str) -> Option<Tenant> {
        self.get(&tenant_path(namespace, name))
            .map(|object| serde_json::from_value(object).expect("a Tenant"))
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let path = parts.uri.path().to_owned();
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.state().requests.push(Recorded {
            method: parts.method.clone(),
            path: path.clone(),
            content_type: content_type.clone(),
            body: body.clone(),
        });
        let (code, answer) = self.handle(&parts.method, &path, &content_type, body);
        Response::builder()
            .status(code)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(Bytes::from(answer.to_string())))
            .expect("response")
    }

    fn handle(
        &self,
        method: &Method,
        path: &str,
        content_type: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut state = self.state();
        state.resource_version += 1;
        let version = state.resource_version.to_string();
        match *method {
            Method::GET => match state.objects.get(path) {
                Some(object) => (StatusCode::OK, object.clone()),
                None => (
                    StatusCode::NOT_FOUND,
                    status_body(404, "NotFound", "not found"),
                ),
            },
            Method::POST => {
                let name = body["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let target = format!("{path}/{name}");
                if state.objects.contains_key(&target) {
                    return (
                        StatusCode::CONFLICT,
                        status_body(409, "AlreadyExists", "exists"),
                    );
                }
                let mut object = body;
                object["metadata"]["resourceVersion"] = json!(version);
                state.objects.insert(target, object.clone());
                (StatusCode::CREATED, object)
            }
            Method::PATCH => {
                let (target, is_status) = match path.strip_suffix("/status") {
                    Some(parent) => (parent.to_owned(), true),
                    None => (path.to_owned(), false),
                };
                let existing = state.objects.get(&target).cloned();
                let patched = if content_type.starts_with("application/apply-patch") {
                    // Server-side apply: create, or merge into what is there
                    // (the status a controller or person wrote is kept).
                    let mut object = existing.unwrap_or(json!({}));
                    json_patch::merge(&mut object, &body);
                    object
                } else {
                    let Some(mut object) = existing else {
                        return (
                            StatusCode::NOT_FOUND,
                            status_body(404, "NotFound", "not found"),
                        );
                    };
                    if content_type.starts_with("application/json-patch") {
                        // As the API server's JSON patch does, a `test` for
                        // null passes on a path that does not exist.
                        let operations: Vec<Value> = body
                            .as_array()
                            .expect("json patch is a list")
                            .iter()
                            .filter(|operation| {
                                !(operation["op"] == "test"
                                    && operation["value"].is_null()
                                    && operation["path"]
                                        .as_str()
                                        .is_some_and(|path| object.pointer(path).is_none()))
                            })
                            .cloned()
                            .collect();
                        let patch: json_patch::Patch =
                            serde_json::from_value(Value::Array(operations)).expect("json patch");
                        if json_patch::patch(&mut object, &patch).is_err() {
                            return (
                                StatusCode::UNPROCESSABLE_ENTITY,
                                status_body(422, "Invalid", "the patch's test failed"),
                            );
                        }
                    } else {
                        let patch = if is_status {
                            json!({"status": body["status"]})
                        } else {
                            body
                        };
                        json_patch::merge(&mut object, &patch);
                    }
                    object
                };
                let mut object = patched;
                object["metadata"]["resourceVersion"] = json!(version);
                // The API server deletes an object being deleted once its
                // last finalizer is gone.
                let released = object["metadata"]["deletionTimestamp"].is_string()
                    && object["metadata"]["finalizers"]
                        .as_array()
                        .is_none_or(|finalizers| finalizers.is_empty());
                if released {
                    state.objects.remove(&target);
                } else {
                    state.objects.insert(target, object.clone());
                }
                (StatusCode::OK, object)
            }
            Method::DELETE => match state.objects.remove(path) {
                Some(object) => {
                    // A namespace takes everything in it along.
                    if let Some(namespace) = path.strip_prefix("/api/v1/namespaces/") {
                        let inside = format!("/namespaces/{namespace}/");
                        state.objects.retain(|key, _| !key.contains(&inside));
                    }
                    (StatusCode::OK, object)
                }
                None => (
                    StatusCode::NOT_FOUND,
                    status_body(404, "NotFound", "not found"),
                ),
            },
            _ => (
                StatusCode::METHOD_NOT_ALLOWED,
                status_body(405, "MethodNotAllowed", "not supported by the fake"),
            ),
        }
    }
}
