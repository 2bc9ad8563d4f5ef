//! `examples/hello.rs`, built as the binary `sam build` deploys.

#[path = "../../examples/hello.rs"]
mod hello;

fn main() -> Result<(), lambda_stream::Error> {
    hello::main()
}
