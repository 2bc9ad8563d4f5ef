//! The port's router: the Lambda API's invoke paths go to the invoke routes, every other path to
//! the configured front; each through the one lifecycle.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;

use super::front::function_url::FunctionUrl;
use super::front::invoke_api::{self, InvokeApi};
use super::front::rest_api::RestApi;
use super::front_kind::Front;
use super::lifecycle::client_body::ClientBody;
use super::lifecycle::serve;
use super::runtime::state::State;

/// One request on the URL's port.
pub(crate) async fn route(
    state: Arc<State>,
    remote: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<ClientBody>, Infallible> {
    if let Some((name, route)) = invoke_api::route(request.uri().path()) {
        let name = name.to_owned();
        let front = InvokeApi { name, route };
        return Ok(serve(&front, &state, remote, request).await);
    }
    let response = match state.config.front() {
        Front::FunctionUrl => serve(&FunctionUrl, &state, remote, request).await,
        Front::RestApi(endpoint) => serve(&RestApi(endpoint), &state, remote, request).await,
    };
    Ok(response)
}
