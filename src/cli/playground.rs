//! `neuralnet playground`: watch a small network learn a 2-D data set, neuron by neuron, with every
//! number. Training runs in the library on the server ([`neuralnet::playground::Session`]), one
//! session per open page; while playing, its state is streamed to the page as server-sent events.
//!
//! Routes (relative to where the playground is mounted: `/` here, `/playground/` under `serve`):
//! the page and its two files; `POST api/sessions` (a setup) → a session and its state;
//! `GET api/sessions/ID/state`, `POST …/step` (`{"steps": k}`), `POST …/reset`, `POST …/close`,
//! `POST …/pause` (ends the stream, answers the state with every step it took);
//! `GET …/stream?steps=k` (server-sent events, one state per frame, k steps each, while the page
//! listens); `GET …/point?set=train|test&i=N` (one point's z, a, δ: `explain`'s JSON);
//! `GET …/link?layer=L&to=J[&from=I]` (a weight or bias, its gradient on the next batch and the
//! next step's exact change).
//!
//! Bounds: at most [`MAX_SESSIONS`] sessions; one ends when its page closes (`close`), or after
//! [`IDLE`] without a request; setups are checked against the library's limits (6 layers of 8
//! neurons, 1,000 points); a request body is at most 16 KiB; a stream sends at most 30 frames a
//! second of at most [`MAX_STEPS`] steps each.

use super::common::asset;
use anyhow::Result;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use clap::Args;
use neuralnet::data::toy::Input;
use neuralnet::playground::{Session, Setup};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PAGE_HTML: &str = include_str!("../../web/playground.html");
const PAGE_JS: &str = include_str!("../../web/playground.js");
const PAGE_CSS: &str = include_str!("../../web/playground.css");

/// Sessions alive at once.
pub const MAX_SESSIONS: usize = 16;
/// A session without a request for this long ends.
pub const IDLE: Duration = Duration::from_secs(600);
/// Steps one request or one streamed frame may ask for.
pub const MAX_STEPS: usize = 500;
/// Side of the grid the output is drawn on, and of each neuron's small map.
const OUTPUT_GRID: usize = 48;
const NEURON_GRID: usize = 16;

/// Arguments of `playground`.
#[derive(Args, Debug)]
pub struct PlaygroundArgs {
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8090)]
    port: u16,
    /// Address to bind; the default serves this machine only. Use 0.0.0.0 to serve the network.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
}

/// One page's session, when it was last asked for, and which stream may step it (a new stream
/// ends the one before: at most one per session).
struct Entry {
    session: Arc<Mutex<Session>>,
    seen: Instant,
    stream: u64,
}

/// Every open page's session.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<u64, Entry>>,
}

type Shared = Arc<Sessions>;

impl Sessions {
    fn get(&self, id: u64) -> Result<Arc<Mutex<Session>>, ApiError> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.get_mut(&id).ok_or_else(|| {
            ApiError(StatusCode::NOT_FOUND, "no such session (it ended: the page was closed or left idle)".into())
        })?;
        e.seen = Instant::now();
        Ok(Arc::clone(&e.session))
    }

    /// Makes a new stream the session's only one; the number it must show each frame.
    fn new_stream(&self, id: u64) -> Result<u64, ApiError> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.get_mut(&id).ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no such session".into()))?;
        e.stream += 1;
        Ok(e.stream)
    }

    /// The session, while `stream` is still its stream.
    fn for_stream(&self, id: u64, stream: u64) -> Option<Arc<Mutex<Session>>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.get_mut(&id).filter(|e| e.stream == stream)?;
        e.seen = Instant::now();
        Some(Arc::clone(&e.session))
    }

    /// Whether `stream` is still the session's stream (asked with the session locked, so that a
    /// pause, which ends the stream before it locks the session, sees every step the stream took).
    fn is_stream(&self, id: u64, stream: u64) -> bool {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get(&id).is_some_and(|e| e.stream == stream)
    }

    /// Ends the sessions idle for longer than [`IDLE`].
    fn sweep(&self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, e| e.seen.elapsed() < IDLE);
    }
}

pub fn run(args: PlaygroundArgs) -> Result<()> {
    super::common::serve_http(
        &args.host,
        args.port,
        4,
        |addr| format!("playground on http://{addr}/ (Ctrl-C to stop)"),
        || routes("", Arc::default()),
    )
}

/// The playground's routes under `prefix` (`""` or `/playground`), with their own sessions and a
/// task that ends idle ones.
pub fn routes<S: Clone + Send + Sync + 'static>(prefix: &str, sessions: Shared) -> Router<S> {
    let sweeper = Arc::clone(&sessions);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            sweeper.sweep();
        }
    });
    let p = |path: &str| format!("{prefix}{path}");
    let mut r = Router::new();
    if !prefix.is_empty() {
        let to = format!("{prefix}/");
        r = r.route(
            prefix,
            get(move || {
                let to = to.clone();
                async move { Redirect::permanent(&to) }
            }),
        );
    }
    r.route(&p("/"), get(|| async { asset("text/html; charset=utf-8", PAGE_HTML) }))
        .route(&p("/playground.js"), get(|| async { asset("text/javascript; charset=utf-8", PAGE_JS) }))
        .route(&p("/playground.css"), get(|| async { asset("text/css; charset=utf-8", PAGE_CSS) }))
        .route(&p("/api/sessions"), post(create))
        .route(&p("/api/sessions/{id}/state"), get(state))
        .route(&p("/api/sessions/{id}/step"), post(step))
        .route(&p("/api/sessions/{id}/reset"), post(reset))
        .route(&p("/api/sessions/{id}/close"), post(close))
        .route(&p("/api/sessions/{id}/pause"), post(pause))
        .route(&p("/api/sessions/{id}/stream"), get(stream))
        .route(&p("/api/sessions/{id}/point"), get(point))
        .route(&p("/api/sessions/{id}/link"), get(link))
        .layer(DefaultBodyLimit::max(16 << 10))
        .with_state(sessions)
}

/// A JSON error `{"error", "status"}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"error": self.1, "status": self.0.as_u16()}))).into_response()
    }
}

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
}

/// The session id of the path, or a JSON error naming what is wrong with it.
fn id_of(path: Result<Path<u64>, PathRejection>) -> Result<u64, ApiError> {
    path.map(|Path(id)| id).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("bad session id: {}", e.body_text())))
}

/// The query's fields, or a JSON error naming what is wrong with them.
fn query_of<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))
}

/// A number kept to 4 decimals: enough for a picture, a third of the bytes.
fn short(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

fn rounded(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| short(x)).collect()
}

/// What the page draws: progress, losses, weights, and the maps over the plane; with `points`,
/// the setup and the points too (sent when a session starts or is reset).
fn state_json(s: &Session, points: bool) -> Value {
    let net = s.network();
    let (steps, epochs) = s.progress();
    let maps = s.maps(NEURON_GRID);
    let output = s.maps(OUTPUT_GRID);
    let last = net.layers.len() - 1;
    let mut v = json!({
        "step": steps,
        "epoch": epochs,
        "diverged": s.diverged(),
        "history": s.history(),
        "layers": net.layers.iter().map(|l| json!({
            "W": l.weights.chunks(l.inputs).map(|r| r.to_vec()).collect::<Vec<_>>(),
            "b": l.bias,
            "activation": l.activation.to_string(),
        })).collect::<Vec<_>>(),
        "maps": {
            "n": maps.n,
            "inputs": maps.inputs.iter().map(|m| rounded(m)).collect::<Vec<_>>(),
            "neurons": maps.neurons.iter().map(|l| l.iter().map(|m| rounded(m)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        },
        "output": { "n": output.n, "values": rounded(&output.neurons[last][0]) },
    });
    if points {
        let (train, test) = s.points();
        let rows = |p: &neuralnet::playground::Points| {
            p.xy.iter().zip(&p.y).map(|(xy, y)| [short(xy[0]), short(xy[1]), *y]).collect::<Vec<_>>()
        };
        let inputs: &[Input] = if s.setup().is_article() { &[Input::X1, Input::X2] } else { &s.setup().inputs };
        v["setup"] = json!(s.setup());
        v["inputs"] = json!(inputs.iter().map(|i| i.label()).collect::<Vec<_>>());
        v["loss"] = json!(net.loss.to_string());
        v["regression"] = json!(s.setup().data == "surface");
        v["train"] = json!(rows(train));
        v["test"] = json!(rows(test));
    }
    v
}

/// Runs `f` on the session off the async threads and answers its JSON.
async fn with_session(
    sessions: &Shared,
    id: u64,
    f: impl FnOnce(&mut Session) -> Result<Value, ApiError> + Send + 'static,
) -> Result<axum::Json<Value>, ApiError> {
    let session = sessions.get(id)?;
    let v = tokio::task::spawn_blocking(move || {
        let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the session's work failed: {e}")))??;
    Ok(axum::Json(v))
}

async fn create(State(sessions): State<Shared>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let setup: Setup = if body.is_empty() {
        Setup::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| bad(format!("not a valid setup: {e}")))?
    };
    let session = tokio::task::spawn_blocking(move || Session::new(setup))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(bad)?;
    let mut state = state_json(&session, true);
    let id = {
        let mut map = sessions.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, e| e.seen.elapsed() < IDLE);
        if map.len() >= MAX_SESSIONS {
            return Err(ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{MAX_SESSIONS} playground sessions are open; close a page or wait for one to time out"),
            ));
        }
        let mut id = rand::random::<u64>() >> 11;
        while map.contains_key(&id) {
            id = rand::random::<u64>() >> 11;
        }
        map.insert(id, Entry { session: Arc::new(Mutex::new(session)), seen: Instant::now(), stream: 0 });
        id
    };
    state["id"] = json!(id);
    Ok((StatusCode::CREATED, axum::Json(state)).into_response())
}

async fn state(
    State(sessions): State<Shared>,
    path: Result<Path<u64>, PathRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = id_of(path)?;
    with_session(&sessions, id, |s| Ok(state_json(s, true))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Steps {
    #[serde(default = "one")]
    steps: usize,
}

fn one() -> usize {
    1
}

fn check_steps(steps: usize) -> Result<usize, ApiError> {
    if (1..=MAX_STEPS).contains(&steps) {
        Ok(steps)
    } else {
        Err(bad(format!("\"steps\" must be 1 to {MAX_STEPS}, got {steps}")))
    }
}

async fn step(
    State(sessions): State<Shared>,
    path: Result<Path<u64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    let id = id_of(path)?;
    let n = if body.is_empty() {
        1
    } else {
        serde_json::from_slice::<Steps>(&body).map_err(|e| bad(format!("expected {{\"steps\": k}}: {e}")))?.steps
    };
    let n = check_steps(n)?;
    // A step by hand pauses: the stream, if any, ends before the session is stepped.
    sessions.new_stream(id)?;
    with_session(&sessions, id, move |s| {
        for _ in 0..n {
            s.step();
        }
        Ok(state_json(s, false))
    })
    .await
}

async fn reset(
    State(sessions): State<Shared>,
    path: Result<Path<u64>, PathRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = id_of(path)?;
    sessions.new_stream(id)?;
    with_session(&sessions, id, |s| {
        *s = Session::new(s.setup().clone()).map_err(bad)?;
        Ok(state_json(s, true))
    })
    .await
}

/// Ends the session's stream and answers its state, every step the stream took included.
async fn pause(
    State(sessions): State<Shared>,
    path: Result<Path<u64>, PathRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = id_of(path)?;
    sessions.new_stream(id)?;
    with_session(&sessions, id, |s| Ok(state_json(s, true))).await
}

async fn close(State(sessions): State<Shared>, path: Result<Path<u64>, PathRejection>) -> StatusCode {
    let Ok(id) = id_of(path) else { return StatusCode::BAD_REQUEST };
    let removed = sessions.map.lock().unwrap_or_else(|e| e.into_inner()).remove(&id).is_some();
    if removed { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    #[serde(default = "one")]
    steps: usize,
}

/// Server-sent events: every frame (at most 30 a second) `steps` more steps and the new state,
/// until the page stops listening, the session ends or another stream of it starts.
async fn stream(
    State(sessions): State<Shared>,
    path: Result<Path<u64>, PathRejection>,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = id_of(path)?;
    let q = query_of(query)?;
    let n = check_steps(q.steps)?;
    let stream = sessions.new_stream(id)?;
    let frames = futures_util::stream::unfold(
        (sessions, tokio::time::interval(Duration::from_millis(33))),
        move |(sessions, mut tick)| async move {
            tick.tick().await;
            let session = sessions.for_stream(id, stream)?;
            let shared = Arc::clone(&sessions);
            let v = tokio::task::spawn_blocking(move || {
                let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
                if !shared.is_stream(id, stream) {
                    return None;
                }
                for _ in 0..n {
                    s.step();
                }
                Some(state_json(&s, false))
            })
            .await
            .ok()??;
            Some((Ok(Event::default().event("state").data(v.to_string())), (sessions, tick)))
        },
    );
    Ok(Sse::new(frames).keep_alive(KeepAlive::default()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointQuery {
    #[serde(default)]
    set: Option<String>,
    i: usize,
}

async fn point(
    State(sessions): State<Shared>,
    path: Result<Path<u64>, PathRejection>,
    query: Result<Query<PointQuery>, QueryRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = id_of(path)?;
    let q = query_of(query)?;
    let test = match q.set.as_deref() {
        None | Some("train") => false,
        Some("test") => true,
        Some(other) => return Err(bad(format!("set must be train or test, got '{other}'"))),
    };
    with_session(&sessions, id, move |s| {
        let t = s.point(test, q.i).map_err(bad)?;
        let mut v = neuralnet::explain::to_json(s.network(), &t);
        v["x"] = json!(t.samples[0].x);
        v["y"] = json!(t.samples[0].y);
        Ok(v)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkQuery {
    layer: usize,
    to: usize,
    #[serde(default)]
    from: Option<usize>,
}

async fn link(
    State(sessions): State<Shared>,
    path: Result<Path<u64>, PathRejection>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = id_of(path)?;
    let q = query_of(query)?;
    with_session(&sessions, id, move |s| Ok(json!(s.link(q.layer, q.to, q.from).map_err(bad)?))).await
}
