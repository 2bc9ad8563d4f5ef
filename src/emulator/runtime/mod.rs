//! The function's side of the emulator: the Runtime API it polls and answers, the relay of a
//! streamed answer, and the state every front shares with it (queue, invocations, slots).

mod answer;
pub(crate) mod api;
mod deadline;
mod instances;
mod relay;
mod reply;
pub(crate) mod state;
