//! From a REST request to the gRPC request message.
//!
//! The body is read first (so its JSON errors carry line and column), then
//! path variables and query parameters fill the fields the body left unset:
//! where the body and a path or query value name the same field, the body
//! wins. A query parameter naming a field the path binds, a field the body
//! carries on this binding, or no field at all is refused with a 400 that
//! names it (unless `unknown_fields: ignore`).

use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, ReflectMessage, Value,
};
use protogate_core::GatewayError;

use crate::bindings::{is_http_body, Binding, BodyRule};
use crate::config::UnknownFields;
use crate::fields::{describe_kind, resolve_field_path, value_from_text};
use crate::query::parse_query;
use crate::template::Captures;

/// What the caller sent.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The path variables' values, from the binding's template.
    pub captures: &'a Captures,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The whole request body.
    pub body: &'a [u8],
    /// The request's `content-type`, for `google.api.HttpBody` fields.
    pub content_type: Option<&'a str>,
}

/// Builds the request message for `binding`.
pub fn build_message(
    binding: &Binding,
    incoming: Incoming<'_>,
    unknown: UnknownFields,
) -> Result<DynamicMessage, GatewayError> {
    let mut message = read_body(binding, incoming, unknown)?;
    for (index, text) in incoming.captures {
        let Some(chain) = binding.path_fields.get(*index) else {
            continue;
        };
        if is_set(&message, chain) {
            continue; // the body wins
        }
        let leaf = leaf(chain)?;
        let value = value_from_text(leaf, text)
            .map_err(|e| bad(format!("path variable `{}`: {e}", field_path_text(chain))))?;
        set(&mut message, chain, value)?;
    }
    if let Some(query) = incoming.query.filter(|q| !q.is_empty()) {
        apply_query(binding, &mut message, query, unknown)?;
    }
    Ok(message)
}

fn read_body(
    binding: &Binding,
    incoming: Incoming<'_>,
    unknown: UnknownFields,
) -> Result<DynamicMessage, GatewayError> {
    let input = binding.method.input();
    let body = incoming.body;
    let options = DeserializeOptions::new().deny_unknown_fields(unknown == UnknownFields::Reject);
    match &binding.body {
        BodyRule::None => {
            if !body.is_empty() {
                return Err(bad(format!(
                    "{} {} takes no request body",
                    binding.http_method, binding.template.text
                )));
            }
            Ok(DynamicMessage::new(input))
        }
        BodyRule::Whole if is_http_body(&input) => Ok(http_body(&input, incoming)),
        BodyRule::Whole => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(DynamicMessage::new(input));
            }
            from_json(input, body, &options)
        }
        BodyRule::Field(field) => {
            let mut message = DynamicMessage::new(input);
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(message);
            }
            match field.kind() {
                Kind::Message(m) if !field.is_list() && !field.is_map() => {
                    let value = if is_http_body(&m) {
                        http_body(&m, incoming)
                    } else {
                        from_json(m, body, &options)?
                    };
                    message.set_field(field, Value::Message(value));
                }
                _ => {
                    // A repeated, map or scalar field: parse the JSON value
                    // and let the proto3 JSON rules place it.
                    let value: serde_json::Value = serde_json::from_slice(body)
                        .map_err(|e| bad(format!("invalid JSON body: {e}")))?;
                    let wrapped = serde_json::json!({ field.json_name(): value });
                    message = DynamicMessage::deserialize_with_options(
                        message.descriptor(),
                        wrapped,
                        &options,
                    )
                    .map_err(|e| bad(format!("invalid JSON body: {e}")))?;
                }
            }
            Ok(message)
        }
    }
}

/// Parses a JSON document into a message, with the parser's line and
/// column in the error.
fn from_json(
    descriptor: prost_reflect::MessageDescriptor,
    body: &[u8],
    options: &DeserializeOptions,
) -> Result<DynamicMessage, GatewayError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let message = DynamicMessage::deserialize_with_options(descriptor, &mut deserializer, options)
        .map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    deserializer
        .end()
        .map_err(|e| bad(format!("invalid JSON body: {e}")))?;
    Ok(message)
}

/// A `google.api.HttpBody`: the raw bytes and their content type.
fn http_body(
    descriptor: &prost_reflect::MessageDescriptor,
    incoming: Incoming<'_>,
) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if let Some(content_type) = incoming.content_type {
        message.set_field_by_name("content_type", Value::String(content_type.to_owned()));
    }
    message.set_field_by_name(
        "data",
        Value::Bytes(bytes::Bytes::copy_from_slice(incoming.body)),
    );
    message
}

fn apply_query(
    binding: &Binding,
    message: &mut DynamicMessage,
    query: &str,
    unknown: UnknownFields,
) -> Result<(), GatewayError> {
    let refuse = unknown == UnknownFields::Reject;
    let pairs = parse_query(query).map_err(bad)?;
    let input = binding.method.input();
    // Fields set from the query so far, and whether the body had set them.
    let mut seen: Vec<(Vec<FieldDescriptor>, bool)> = Vec::new();
    for (name, text) in pairs {
        if !binding.query_params {
            if refuse {
                return Err(bad(format!(
                    "query parameter `{name}`: {} {} takes no query parameters",
                    binding.http_method, binding.template.text
                )));
            }
            continue;
        }
        let chain = match binding
            .input_mapping
            .iter()
            .find(|(param, _)| *param == name)
        {
            Some((_, chain)) => chain.clone(),
            None => {
                let parts: Vec<String> = name.split('.').map(str::to_owned).collect();
                match resolve_field_path(&input, &parts) {
                    Ok(chain) => chain,
                    Err(why) if refuse => {
                        return Err(bad(format!("unknown query parameter `{name}`: {why}")))
                    }
                    Err(_) => continue,
                }
            }
        };
        if let Some(why) = not_for_query(binding, &chain) {
            if refuse {
                return Err(bad(format!("query parameter `{name}`: {why}")));
            }
            continue;
        }
        let leaf = leaf(&chain)?;
        if leaf.is_map() {
            return Err(bad(format!(
                "query parameter `{name}`: map fields cannot be set from the query"
            )));
        }
        let body_set = match seen.iter().find(|(c, _)| *c == chain) {
            Some((_, _)) if !leaf.is_list() => {
                return Err(bad(format!(
                    "query parameter `{name}` is given more than once"
                )))
            }
            Some((_, body_set)) => *body_set,
            None => {
                let body_set = is_set(message, &chain);
                seen.push((chain.clone(), body_set));
                body_set
            }
        };
        if body_set {
            continue; // the body wins
        }
        let value = value_from_text(leaf, &text)
            .map_err(|e| bad(format!("query parameter `{name}`: {e}")))?;
        if leaf.is_list() {
            push(message, &chain, value)?;
        } else {
            set(message, &chain, value)?;
        }
    }
    Ok(())
}

/// Why a field cannot come from the query on this binding, if it cannot.
fn not_for_query(binding: &Binding, chain: &[FieldDescriptor]) -> Option<String> {
    if binding.path_fields.iter().any(|p| p.as_slice() == chain) {
        return Some("the path already binds this field".to_owned());
    }
    match &binding.body {
        BodyRule::Whole => Some("on this binding every field comes from the body".to_owned()),
        BodyRule::Field(f) if chain.first() == Some(f) => Some(format!(
            "field `{}` comes from the body on this binding",
            f.name()
        )),
        _ => {
            let leaf = chain.last()?;
            match leaf.kind() {
                Kind::Message(m) if !crate::fields::is_scalar_like(&Kind::Message(m.clone())) => {
                    Some(format!(
                        "`{}` is {}; set its fields with dots",
                        leaf.name(),
                        describe_kind(leaf)
                    ))
                }
                _ => None,
            }
        }
    }
}

fn leaf(chain: &[FieldDescriptor]) -> Result<&FieldDescriptor, GatewayError> {
    chain
        .last()
        .ok_or_else(|| GatewayError::internal("empty field path"))
}

fn field_path_text(chain: &[FieldDescriptor]) -> String {
    chain
        .iter()
        .map(FieldDescriptor::name)
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether the field at `chain` holds a value (messages on the way must be
/// present).
fn is_set(message: &DynamicMessage, chain: &[FieldDescriptor]) -> bool {
    let Some((last, parents)) = chain.split_last() else {
        return false;
    };
    let mut current = std::borrow::Cow::Borrowed(message);
    for field in parents {
        if !current.has_field(field) {
            return false;
        }
        let next = match current.get_field(field).as_ref() {
            Value::Message(m) => m.clone(),
            _ => return false,
        };
        current = std::borrow::Cow::Owned(next);
    }
    current.has_field(last)
}

/// The message that holds the last field of `chain`, created on the way.
fn parent_mut<'m>(
    message: &'m mut DynamicMessage,
    chain: &[FieldDescriptor],
) -> Result<&'m mut DynamicMessage, GatewayError> {
    let mut current = message;
    for field in &chain[..chain.len().saturating_sub(1)] {
        current = current
            .get_field_mut(field)
            .as_message_mut()
            .ok_or_else(|| GatewayError::internal("a field path goes through a non-message"))?;
    }
    Ok(current)
}

fn set(
    message: &mut DynamicMessage,
    chain: &[FieldDescriptor],
    value: Value,
) -> Result<(), GatewayError> {
    let field = leaf(chain)?.clone();
    parent_mut(message, chain)?.set_field(&field, value);
    Ok(())
}

fn push(
    message: &mut DynamicMessage,
    chain: &[FieldDescriptor],
    value: Value,
) -> Result<(), GatewayError> {
    let field = leaf(chain)?.clone();
    let parent = parent_mut(message, chain)?;
    match parent.get_field_mut(&field).as_list_mut() {
        Some(list) => {
            list.push(value);
            Ok(())
        }
        None => Err(GatewayError::internal("a repeated field is not a list")),
    }
}

fn bad(message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_argument(message.into())
}
