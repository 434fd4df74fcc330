//! The session's routes: the login page and its post, logout, and the static assets every
//! page loads (open without a key).

use std::sync::Arc;

use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};

use super::assets;
use super::form::FormFields;
use super::layout;
use super::session;
use super::visit::Ui;
use crate::config::AuthMode;

#[handler]
pub(crate) async fn login_page(request: &Request, ui: Data<&Arc<Ui>>) -> Response {
    let mut response = session::login_page(request, ui.auth.mode == AuthMode::Off);
    layout::secure_headers(&mut response);
    response
}

#[handler]
pub(crate) async fn login(request: &Request, ui: Data<&Arc<Ui>>, body: Body) -> Response {
    let text = body.into_string().await.unwrap_or_default();
    let fields = FormFields::parse(&text);
    let mut response = session::login(request, &fields, &ui.auth).await;
    layout::secure_headers(&mut response);
    response
}

#[handler]
pub(crate) async fn logout(request: &Request, body: Body) -> Response {
    let text = body.into_string().await.unwrap_or_default();
    session::logout(request, &FormFields::parse(&text))
}

#[handler]
pub(crate) fn static_asset(Path(name): Path<String>) -> Response {
    assets::serve(&name)
}
