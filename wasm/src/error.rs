use wasm_bindgen::JsValue;

/// Core errors reach JavaScript as their JSON envelope; `lib/` decodes it.
pub(crate) fn to_js(e: quicbridge_core::Error) -> JsValue {
    js_sys::Error::new(&e.to_envelope()).into()
}

pub(crate) trait OrThrow<T> {
    fn or_throw(self) -> Result<T, JsValue>;
}

impl<T> OrThrow<T> for quicbridge_core::Result<T> {
    fn or_throw(self) -> Result<T, JsValue> {
        self.map_err(to_js)
    }
}
