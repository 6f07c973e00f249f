/// Core errors reach JavaScript as their JSON envelope; `lib/` decodes it.
pub(crate) fn to_napi(e: quicbridge_core::Error) -> napi::Error {
    napi::Error::from_reason(e.to_envelope())
}

pub(crate) trait OrThrow<T> {
    fn or_throw(self) -> napi::Result<T>;
}

impl<T> OrThrow<T> for quicbridge_core::Result<T> {
    fn or_throw(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}
