//! Who may call: SigV4 (`AWS_IAM`) checked against configured keys, and the CORS rules a
//! browser's request meets.

pub(crate) mod cors;
pub(crate) mod iam;
// Public only to the fuzz crate (built with `--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod sigv4;
#[cfg(not(fuzzing))]
mod sigv4;
