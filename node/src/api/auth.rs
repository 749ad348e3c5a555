//! Bearer-token access control (see the module docs of [`super`]).

use super::Shared;
use super::error::ApiError;
use crate::config::{Role, TokenGrant};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

/// A caller with any valid token.
#[derive(Debug, Clone)]
pub struct ReadAuth(pub TokenGrant);

/// A caller allowed to manage this node's named queries and subscriptions: a `write` or
/// `admin` token of any org (also on a read-only node: these are node-local, not ledger
/// writes).
#[derive(Debug, Clone)]
pub struct ManageAuth(pub TokenGrant);

/// A caller allowed to submit to the ledger through this node: a `write` or `admin`
/// token of any org, on a node that is not read-only. `POST /capture` then requires the
/// node's own org for documents the node signs ([`SubmitAuth::require_node_org`]) and
/// the token's org as signer of client-signed transactions.
#[derive(Debug, Clone)]
pub struct SubmitAuth(pub TokenGrant);

impl SubmitAuth {
    /// 403 unless the token belongs to the node's org (the node signs as that org).
    pub fn require_node_org(&self, state: &Shared) -> Result<(), ApiError> {
        let node_org = state.ledger.info().org_id;
        if self.0.org != node_org {
            return Err(ApiError::forbidden(format!(
                "token of org `{}` cannot write through the node of org `{node_org}`",
                self.0.org
            )));
        }
        Ok(())
    }
}

/// A caller allowed to write: a `write`/`admin` token of the node's own org, on a
/// node that is not read-only.
#[derive(Debug, Clone)]
pub struct WriteAuth(pub TokenGrant);

fn grant(parts: &Parts, state: &Shared) -> Result<TokenGrant, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <token>` header"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| ApiError::unauthorized("`Authorization` must be `Bearer <token>`"))?;
    state
        .config
        .tokens
        .get(token)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("unknown API token"))
}

impl FromRequestParts<Shared> for ReadAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        grant(parts, state).map(ReadAuth)
    }
}

impl FromRequestParts<Shared> for SubmitAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let grant = grant(parts, state)?;
        if state.ledger.info().role.is_read_only() {
            return Err(ApiError::forbidden(
                "this node is read-only (learner); writes are refused",
            ));
        }
        if grant.role < Role::Write {
            return Err(ApiError::forbidden(format!(
                "token role `{}` cannot write; `write` or `admin` is required",
                grant.role
            )));
        }
        Ok(SubmitAuth(grant))
    }
}

impl FromRequestParts<Shared> for WriteAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let submit = SubmitAuth::from_request_parts(parts, state).await?;
        submit.require_node_org(state)?;
        Ok(WriteAuth(submit.0))
    }
}

impl FromRequestParts<Shared> for ManageAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let grant = grant(parts, state)?;
        if grant.role < Role::Write {
            return Err(ApiError::forbidden(format!(
                "token role `{}` cannot manage named queries; `write` or `admin` is required",
                grant.role
            )));
        }
        Ok(ManageAuth(grant))
    }
}
