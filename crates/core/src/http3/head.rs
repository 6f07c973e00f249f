use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use serde::{Deserialize, Serialize};

use crate::config::from_json;
use crate::error::{Error, Result};

/// Header fields in order, as `[name, value]` pairs (names lower-case on
/// the wire, as HTTP/3 requires).
pub type Headers = Vec<[String; 2]>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestHead {
    pub method: String,
    #[serde(default = "https")]
    pub scheme: String,
    pub authority: String,
    pub path: String,
    #[serde(default)]
    pub headers: Headers,
}

fn https() -> String {
    "https".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResponseHead {
    pub status: u16,
    #[serde(default)]
    pub headers: Headers,
}

pub(crate) fn header_map(headers: &Headers, what: &str) -> Result<HeaderMap> {
    // `http` caps a map at 2^15 slots and its non-`try_` methods panic past it.
    let too_many = |_| {
        Error::invalid_arg(format!(
            "{what}: {} header fields are more than a header map holds",
            headers.len()
        ))
    };
    let mut map = HeaderMap::try_with_capacity(headers.len()).map_err(too_many)?;
    for [name, value] in headers {
        if name.starts_with(':') {
            return Err(Error::invalid_arg(format!(
                "{what}: pseudo-header {name} is set from the head's own fields"
            )));
        }
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::invalid_arg(format!("{what}: {name:?} is not a valid header name"))
        })?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid_arg(format!("{what}: the value of {name} is not valid")))?;
        map.try_append(name, value).map_err(too_many)?;
    }
    Ok(map)
}

pub(crate) fn headers_of(map: &HeaderMap) -> Headers {
    map.iter()
        .map(|(name, value)| {
            [
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ]
        })
        .collect()
}

impl RequestHead {
    pub fn from_json(json: &str) -> Result<Self> {
        from_json(json, "request head")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("request head serializes")
    }

    pub(crate) fn to_http(&self) -> Result<Request<()>> {
        let method = Method::from_bytes(self.method.as_bytes()).map_err(|_| {
            Error::invalid_arg(format!("method: {:?} is not a method", self.method))
        })?;
        let uri = Uri::builder()
            .scheme(self.scheme.as_str())
            .authority(self.authority.as_str())
            .path_and_query(self.path.as_str())
            .build()
            .map_err(|e| Error::invalid_arg(format!("scheme/authority/path: {e}")))?;
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .map_err(|e| Error::invalid_arg(e.to_string()))?;
        *request.headers_mut() = header_map(&self.headers, "headers")?;
        Ok(request)
    }

    pub(crate) fn from_http(request: &Request<()>) -> Self {
        let uri = request.uri();
        RequestHead {
            method: request.method().as_str().to_string(),
            scheme: uri.scheme_str().unwrap_or("https").to_string(),
            authority: uri.authority().map(|a| a.to_string()).unwrap_or_default(),
            path: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".to_string()),
            headers: headers_of(request.headers()),
        }
    }
}

impl ResponseHead {
    pub fn from_json(json: &str) -> Result<Self> {
        from_json(json, "response head")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("response head serializes")
    }

    pub(crate) fn to_http(&self) -> Result<Response<()>> {
        let status = StatusCode::from_u16(self.status).map_err(|_| {
            Error::invalid_arg(format!("status: {} is not a status code", self.status))
        })?;
        let mut response = Response::builder()
            .status(status)
            .body(())
            .map_err(|e| Error::invalid_arg(e.to_string()))?;
        *response.headers_mut() = header_map(&self.headers, "headers")?;
        Ok(response)
    }

    pub(crate) fn from_http(response: &Response<()>) -> Self {
        ResponseHead {
            status: response.status().as_u16(),
            headers: headers_of(response.headers()),
        }
    }
}

/// Header fields as JSON `[[name, value], …]`.
pub fn headers_to_json(headers: &Headers) -> String {
    serde_json::to_string(headers).expect("headers serialize")
}

pub fn headers_from_json(json: &str) -> Result<Headers> {
    from_json(json, "trailers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_round_trip_through_http_types() {
        let head = RequestHead::from_json(
            r#"{"method":"POST","authority":"example.com:4433","path":"/upload?x=1","headers":[["content-type","text/plain"],["x-a","1"],["x-a","2"]]}"#,
        )
        .unwrap();
        let request = head.to_http().unwrap();
        assert_eq!(RequestHead::from_http(&request), head);
    }

    #[test]
    fn bad_heads_are_invalid_arguments_naming_the_field() {
        for (json, field) in [
            (r#"{"method":"GE T","authority":"a","path":"/"}"#, "method"),
            (
                r#"{"method":"GET","authority":"a","path":"/","headers":[["bad name","x"]]}"#,
                "headers",
            ),
            (
                r#"{"method":"GET","authority":"a","path":"/","headers":[[":path","/x"]]}"#,
                "pseudo-header",
            ),
        ] {
            let err = RequestHead::from_json(json).unwrap().to_http().unwrap_err();
            assert!(err.message().contains(field), "{}", err.message());
        }
        let many: Headers = (0..30_000)
            .map(|i| [format!("x-{i}"), "v".into()])
            .collect();
        let err = header_map(&many, "trailers").unwrap_err();
        assert!(
            err.message().starts_with("trailers: 30000 header fields"),
            "{}",
            err.message()
        );
        let err = ResponseHead {
            status: 1000,
            headers: vec![],
        }
        .to_http()
        .unwrap_err();
        assert!(err.message().contains("status"));
    }
}
