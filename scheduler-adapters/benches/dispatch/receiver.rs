//! The HTTP receiver of the delivery scenario: an async server on 127.0.0.1 (its own
//! runtime) that answers every delivery after a fixed delay and counts deliveries per
//! (job, fire), recording when each first arrived.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use poem::web::{Data, Json};
use poem::{EndpointExt, Route, Server, handler, post};
use serde_json::Value;

/// What the receiver saw.
#[derive(Default)]
pub(crate) struct Seen {
    /// (job id, fire) → deliveries received.
    pub(crate) per_fire: HashMap<(i64, String), u32>,
    /// Arrival − fire, in ms, one per delivery.
    pub(crate) lateness_ms: Vec<f64>,
}

/// State of the receiver's handler.
#[derive(Clone)]
struct State {
    /// What arrived.
    seen: Arc<Mutex<Seen>>,
    /// How long each answer waits.
    delay: Duration,
}

#[handler]
async fn hook(body: Json<Value>, state: Data<&State>) -> &'static str {
    let arrived = Utc::now();
    let job = body["job_id"].as_i64().unwrap_or(-1);
    let fire = body["scheduled_for"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let late = fire
        .parse::<DateTime<Utc>>()
        .map(|due| (arrived - due).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        .unwrap_or(f64::NAN);
    {
        let mut seen = state.seen.lock().expect("seen");
        *seen.per_fire.entry((job, fire)).or_default() += 1;
        seen.lateness_ms.push(late);
    }
    tokio::time::sleep(state.delay).await;
    "ok"
}

/// A running receiver.
pub(crate) struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub(crate) url: String,
    /// What it saw so far.
    pub(crate) seen: Arc<Mutex<Seen>>,
    /// Its runtime (two threads of its own, as a separate service would have).
    runtime: tokio::runtime::Runtime,
}

impl Receiver {
    /// Starts a receiver answering after `delay`, listening with a backlog large enough for
    /// thousands of simultaneous connections.
    pub(crate) fn start(delay: Duration) -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("receiver runtime");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = State {
            seen: seen.clone(),
            delay,
        };
        let addr = runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket.set_reuseaddr(true).expect("reuseaddr");
            socket
                .bind("127.0.0.1:0".parse().expect("address"))
                .expect("bind");
            let listener = socket.listen(8192).expect("listen");
            let addr = listener.local_addr().expect("address");
            let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
            let app = Route::new().at("/hook", post(hook)).data(state);
            tokio::spawn(async move { Server::new_with_acceptor(acceptor).run(app).await });
            addr
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            seen,
            runtime,
        }
    }

    /// Forgets what it saw.
    pub(crate) fn reset(&self) {
        *self.seen.lock().expect("seen") = Seen::default();
    }

    /// Deliveries received so far.
    pub(crate) fn received(&self) -> usize {
        self.seen.lock().expect("seen").lateness_ms.len()
    }

    /// Stops it.
    pub(crate) fn stop(self) {
        self.runtime.shutdown_background();
    }
}
