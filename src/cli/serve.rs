//! `neuralnet serve MODEL`: a page to draw digits on, with a view of every layer, and its JSON API.
//!
//! Routes: `GET /` (the page; `web/` is embedded in the binary, nothing is fetched from elsewhere),
//! `POST /api/predict` (JSON pixels, or a PNG/JPEG upload preprocessed exactly as `predict` does),
//! `GET /api/model` (architecture and metadata), `GET /healthz`, and the playground under
//! `/playground/` (see `neuralnet playground`). Every error is a JSON object
//! `{"error": …, "status": …}` with a 4xx status (5xx only for a bug); no input can stop the server.
//!
//! Memory is bounded whatever clients send: request bodies held at once share a budget
//! ([`BODY_BUDGET`]), each body must arrive within `--body-timeout` seconds, at most [`work_slots`]
//! decodes and predictions run at once, and one image may cost at most what the photo reader states
//! (`MAX_DECODED_BYTES`). A request that cannot get its share within
//! [`QUEUE_WAIT`] is answered 503 with `Retry-After`; nothing queues without limit.

use super::common::asset;
use anyhow::Result;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use neuralnet::data::DataError;
use neuralnet::data::photo::{self, SIDE};
use neuralnet::model_file::{self, Model};
use neuralnet::predictor::probabilities;
use neuralnet::{Predictor, Workspace};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const STYLE_CSS: &str = include_str!("../../web/style.css");

/// Largest JSON body accepted (1 MiB).
const JSON_LIMIT: usize = 1 << 20;
/// Largest image upload accepted (16 MiB), raw or multipart.
const IMAGE_LIMIT: usize = 16 << 20;
/// Request bodies held in memory at once, all requests together (64 MiB). A request reserves its
/// announced length (the largest allowed when it announces none) before its body is read.
const BODY_BUDGET: usize = 64 << 20;
/// The budget's unit: one permit per KiB.
const BODY_UNIT: usize = 1 << 10;
/// A body must arrive whole within this many seconds by default (`--body-timeout`): slow senders
/// must not hold the budget.
const BODY_TIMEOUT_SECS: u64 = 20;
/// How long a request waits for its share of the body budget or for a work slot before it is
/// answered 503.
const QUEUE_WAIT: Duration = Duration::from_secs(2);
/// What a 503 tells the client to wait before trying again (seconds).
const RETRY_AFTER: &str = "1";

/// Decodes and predictions that run at once: the machine's cores (at least 2).
pub fn work_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).max(2)
}

/// Arguments of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The model file (trained on 28×28 MNIST-style images).
    model: PathBuf,
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind; the default serves this machine only. Use 0.0.0.0 to serve the network.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Seconds a request's body may take to arrive before it is refused (408).
    #[arg(long, default_value_t = BODY_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
}

/// What every request shares: the model and its description.
struct Served {
    model: Model,
    /// The network prepared for one image at a time (first layer from the ink only).
    predictor: Predictor<f32>,
    description: Value,
    /// One permit per [`BODY_UNIT`] of [`BODY_BUDGET`].
    bodies: Arc<Semaphore>,
    /// One permit per decode or prediction running.
    work: Arc<Semaphore>,
    /// How long a body may take to arrive.
    body_timeout: Duration,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let model = model_file::load(&args.model)?;
    model.require_photos(&args.model, "predict", SIDE)?;
    let name = args.model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let description = describe(&model, &name);
    let predictor = Predictor::new(model.network.clone(), model.info.normalization.apply(0.0) as f32);
    let slots = work_slots();
    let state = Arc::new(Served {
        model,
        predictor,
        description,
        bodies: Arc::new(Semaphore::new(BODY_BUDGET / BODY_UNIT)),
        work: Arc::new(Semaphore::new(slots)),
        body_timeout: Duration::from_secs(args.body_timeout),
    });
    // Blocking threads only ever run the work slots' jobs.
    let model_path = args.model.display().to_string();
    super::common::serve_http(
        &args.host,
        args.port,
        slots,
        |addr| format!("serving {model_path} on http://{addr}/ (Ctrl-C to stop)"),
        || app(state),
    )
}

fn app(state: Arc<Served>) -> Router {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }))
        .route("/healthz", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route("/api/model", get(|State(s): State<Arc<Served>>| async move { axum::Json(s.description.clone()) }))
        .route("/api/predict", post(predict).layer(DefaultBodyLimit::max(IMAGE_LIMIT)))
        .merge(super::playground::routes("/playground", Arc::default()))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such page or endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this method is not allowed here")
        })
        .with_state(state)
}

/// `GET /api/model`: the model file's metadata, its parameter count and file name.
fn describe(model: &Model, name: &str) -> Value {
    let mut v = serde_json::to_value(&model.info).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("file".into(), json!(name));
        o.insert("parameters".into(), json!(model.network.parameter_count()));
    }
    v
}

/// A JSON error response.
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 503: the server is at its limits; the client may retry after [`RETRY_AFTER`] seconds.
    fn busy(what: &str) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, format!("the server is busy ({what}); retry after {RETRY_AFTER} s"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response =
            (status, axum::Json(json!({"error": self.message, "status": status.as_u16()}))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
        }
        response
    }
}

/// Waits at most [`QUEUE_WAIT`] for `n` permits of `semaphore`, else a 503 naming `what`. The
/// permits are owned: they go with the work into its thread, so a client that hangs up does not
/// free a slot that is still busy.
async fn admit(semaphore: &Arc<Semaphore>, n: usize, what: &str) -> Result<OwnedSemaphorePermit, ApiError> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    match tokio::time::timeout(QUEUE_WAIT, Arc::clone(semaphore).acquire_many_owned(n)).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::busy(what)),
    }
}

/// The share of the body budget a request reserves: its announced length, else `limit`.
fn body_share(headers: &HeaderMap, limit: usize) -> usize {
    let announced = announced_length(headers).map_or(limit, |n| usize::try_from(n).unwrap_or(limit).min(limit));
    announced.div_ceil(BODY_UNIT).max(1)
}

/// The body of a JSON request.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PixelsRequest {
    pixels: Vec<f64>,
}

/// `POST /api/predict`.
async fn predict(State(s): State<Arc<Served>>, req: Request) -> Result<Response, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let limit = match content_type.as_str() {
        "application/json" => JSON_LIMIT,
        "image/png" | "image/jpeg" | "multipart/form-data" => IMAGE_LIMIT,
        _ => 0,
    };
    if limit > 0 {
        check_length(req.headers(), limit)?;
    }
    let result = match content_type.as_str() {
        "application/json" => {
            let share = admit(&s.bodies, body_share(req.headers(), limit), "too many requests at once").await?;
            let body = within(s.body_timeout, read_body(req, JSON_LIMIT)).await?;
            let pixels = parse_pixels(&body)?;
            drop((body, share));
            let slot = admit(&s.work, 1, "all prediction slots are taken").await?;
            blocking(move || {
                let _slot = slot;
                evaluate(&s, &pixels, None)
            })
            .await?
        }
        "image/png" | "image/jpeg" => {
            let share = admit(&s.bodies, body_share(req.headers(), limit), "too many uploads at once").await?;
            let body = within(s.body_timeout, read_body(req, IMAGE_LIMIT)).await?;
            let slot = admit(&s.work, 1, "all decoding slots are taken").await?;
            blocking(move || {
                let _held = (share, slot);
                from_image(&s, &body)
            })
            .await??
        }
        "multipart/form-data" => {
            let share = admit(&s.bodies, body_share(req.headers(), limit), "too many uploads at once").await?;
            let body = within(s.body_timeout, upload(req)).await?;
            let slot = admit(&s.work, 1, "all decoding slots are taken").await?;
            blocking(move || {
                let _held = (share, slot);
                from_image(&s, &body)
            })
            .await??
        }
        "" => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "no Content-Type: send application/json, image/png, image/jpeg or multipart/form-data",
            ));
        }
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Content-Type {other} is not accepted: send application/json, image/png, image/jpeg or multipart/form-data"
                ),
            ));
        }
    };
    Ok(result)
}

/// Runs CPU work off the I/O threads; a panic in it (a bug) becomes a 500, not a dead server.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (a bug in neuralnet)"))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than the {} MiB limit", limit >> 20))
}

/// The body length the request announces (`Content-Length`), if any.
fn announced_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

/// Refuses a body whose announced length is over `limit` before reading it.
fn check_length(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    if announced_length(headers).is_some_and(|n| n > limit as u64) { Err(too_large(limit)) } else { Ok(()) }
}

/// A body read that must finish within `limit` (408 otherwise).
async fn within<T>(limit: Duration, read: impl Future<Output = Result<T, ApiError>>) -> Result<T, ApiError> {
    tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {} s (--body-timeout)", limit.as_secs()),
        ))
    })
}

/// The whole body, at most `limit` bytes.
async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    check_length(req.headers(), limit)?;
    let body: Body = req.into_body();
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.to_string().contains("length limit") {
                return too_large(limit);
            }
            source = s.source();
        }
        ApiError::new(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}"))
    })
}

/// The first file field of a multipart upload (any name; `image` or `file` by convention).
async fn upload(req: Request) -> Result<Bytes, ApiError> {
    let mut multipart =
        Multipart::from_request(req, &()).await.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    loop {
        let field = multipart.next_field().await.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        let Some(field) = field else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the multipart form has no file field (send the image as a file)",
            ));
        };
        if field.file_name().is_some() || matches!(field.name(), Some("image" | "file")) {
            return field.bytes().await.map_err(|e| {
                let status = e.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large(IMAGE_LIMIT)
                } else {
                    ApiError::new(status, e.body_text())
                }
            });
        }
    }
}

/// Checks JSON pixels: 784 numbers in 0..1.
fn parse_pixels(body: &[u8]) -> Result<Vec<f32>, ApiError> {
    let request: PixelsRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("not a valid request: {e} (expected {{\"pixels\": [784 numbers in 0..1]}})"),
        )
    })?;
    let n = SIDE * SIDE;
    if request.pixels.len() != n {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("\"pixels\" has {} numbers; expected {n} ({SIDE}×{SIDE}, row-major)", request.pixels.len()),
        ));
    }
    if let Some(i) = request.pixels.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("pixel {i} is {}; pixels must be in 0..1 (ink = 1)", request.pixels[i]),
        ));
    }
    Ok(request.pixels.iter().map(|&p| p as f32).collect())
}

/// Decodes and preprocesses an upload exactly as `predict` does a file.
fn from_image(s: &Served, bytes: &[u8]) -> Result<Response, ApiError> {
    let grey = photo::decode_grey_bytes(bytes, Path::new("the upload")).map_err(|e| {
        let status = match e {
            DataError::NotAnImage { .. } | DataError::ImageUnsupported { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            DataError::ImageTooLarge { .. } | DataError::ImageTooCostly { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    })?;
    let p = photo::preprocess_grey(&grey);
    let pixels: Vec<f32> = p.pixels.iter().map(|&v| f32::from(v) / 255.0).collect();
    Ok(evaluate(s, &pixels, Some(&p)))
}

/// The answer to `POST /api/predict` (f32 values written as f32, in their shortest form).
#[derive(serde::Serialize)]
struct Answer<'a> {
    prediction: usize,
    probabilities: Vec<f64>,
    input: &'a [f32],
    /// Every layer's output in order: each convolution's and pooling's maps (flat, channels ×
    /// rows × columns), then each dense layer's `a`.
    activations: Vec<&'a [f32]>,
    /// The shape of each entry of `activations`: `[C, H, W]` for maps, `[n]` for a dense layer.
    shapes: Vec<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ink: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inverted: Option<bool>,
}

/// One forward pass keeping every layer's activations, as a JSON response.
fn evaluate(s: &Served, pixels: &[f32], found: Option<&photo::Preprocessed>) -> Response {
    let net = &s.model.network;
    let norm = &s.model.info.normalization;
    // Raw pixels are 0–255 as `predict` feeds them; the JSON's 0..1 are scaled back.
    let x: Vec<f32> = pixels.iter().map(|&p| norm.apply(f64::from(p) * 255.0) as f32).collect();
    let mut ws = Workspace::new(net, 1, 1);
    let out = s.predictor.forward(&x, 1, &mut ws).to_vec();
    let probabilities = probabilities(net, &out);
    let prediction = (0..probabilities.len())
        .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    let answer = Answer {
        prediction,
        probabilities,
        input: pixels,
        activations: (0..net.features.len())
            .map(|k| &ws.feature_a(k)[..net.features[k].output().len()])
            .chain((0..net.layers.len()).map(|l| &ws.a(l)[..net.layers[l].outputs]))
            .collect(),
        shapes: net
            .features
            .iter()
            .map(|f| {
                let m = f.output();
                vec![m.channels, m.height, m.width]
            })
            .chain(net.layers.iter().map(|l| vec![l.outputs]))
            .collect(),
        ink: found.map(|p| p.ink),
        inverted: found.map(|p| p.inverted),
    };
    match serde_json::to_vec(&answer) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write the answer: {e}")).into_response()
        }
    }
}
