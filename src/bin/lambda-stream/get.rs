//! `lambda-stream get <url>`: downloads an export whole, following each page's link, and writes
//! its records (without the links) to stdout or a file.

use std::path::PathBuf;

use futures_util::StreamExt;
use http::{HeaderName, HeaderValue};
use lambda_stream::client::{Client, Error, Event, Format};

use crate::join::ArrayJoin;
use crate::output::Output;
use crate::progress::Progress;

pub(crate) const USAGE: &str = "\
usage: lambda-stream get [options] <url>

Downloads the export at <url> page after page: each page's records are written as they arrive,
and the link that ends a page ({\"next\":..} in NDJSON, #next=.. in CSV, event: next in SSE,
a last element {\"next\":..} in a JSON array) is followed until a page ends without one; a
JSON array's pages are written as one array. A page that fails (an HTTP status, an error trailer,
a page cut without a link, a truncated page) stops it with a non-zero exit status. On a
terminal, stderr shows the bytes, records, pages and rate as they arrive (unless the records
are written to that terminal too).

options:
  -o, --output <file>     write the records there instead of stdout; after each complete page
                          the download's state is kept beside it (<file>.get-state)
  --resume                continue an interrupted download to <file> from its last complete
                          page (the file ends as an uninterrupted download would have written it)
  --format <format>       auto (default: from the content-type), ndjson, csv, sse, json (an
                          array) or raw
  --max-pages <n>         stop after n pages
  -H, --header <k: v>     send this header with every request (repeatable)
  --sign                  sign each request with SigV4 (service lambda) for a Function URL
                          with AuthType AWS_IAM, with credentials from the standard AWS chain
                          (environment, shared profile, SSO, container and instance roles)
  --region <name>         the region to sign for (default: the Function URL's, else AWS_REGION
                          or the profile's)
  -h, --help              this text";

/// What `get` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GetArgs {
    pub(crate) url: String,
    pub(crate) output: Option<PathBuf>,
    pub(crate) format: Format,
    pub(crate) max_pages: Option<u64>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) resume: bool,
    /// `Some` with `--sign`: the region asked for, if any.
    pub(crate) sign: Option<Option<String>>,
}

/// Parses the arguments after `get`; `None` for `--help`.
pub(crate) fn parse(args: &[String]) -> Result<Option<GetArgs>, String> {
    let mut rest = args.iter();
    let mut url = None;
    let mut parsed = GetArgs {
        url: String::new(),
        output: None,
        format: Format::Auto,
        max_pages: None,
        headers: Vec::new(),
        resume: false,
        sign: None,
    };
    let mut region = None;
    while let Some(arg) = rest.next() {
        let mut value = |flag: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let invalid = |flag: &str, v: &str| format!("invalid value {v:?} for {flag}");
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "-o" | "--output" => parsed.output = Some(value(arg)?.into()),
            "--resume" => parsed.resume = true,
            "--sign" => parsed.sign = Some(None),
            "--region" => region = Some(value(arg)?),
            "--format" => parsed.format = value(arg)?.parse()?,
            "--max-pages" => {
                let v = value(arg)?;
                let pages = v.parse().ok().filter(|n| *n > 0);
                parsed.max_pages = Some(pages.ok_or_else(|| invalid(arg, &v))?);
            }
            "-H" | "--header" => {
                let v = value(arg)?;
                parsed
                    .headers
                    .push(header(&v).ok_or_else(|| invalid(arg, &v))?);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag:?}")),
            given if url.is_none() => url = Some(given.to_owned()),
            extra => return Err(format!("one URL only, not also {extra:?}")),
        }
    }
    parsed.url = url.ok_or("get needs a URL")?;
    match (&mut parsed.sign, region) {
        (Some(signing), region) => *signing = region,
        (None, Some(_)) => return Err("--region goes with --sign".into()),
        (None, None) => {}
    }
    if parsed.resume && parsed.output.is_none() {
        return Err("--resume needs --output: the download's state is kept beside the file".into());
    }
    Ok(Some(parsed))
}

/// `name: value`, as curl takes it.
fn header(text: &str) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = text.split_once(':')?;
    Some((name.trim().parse().ok()?, value.trim().parse().ok()?))
}

/// Downloads and writes; the error says which page failed and how.
pub(crate) async fn run(args: GetArgs) -> Result<(), String> {
    let mut client = Client::new().with_format(args.format);
    if let Some(pages) = args.max_pages {
        client = client.with_max_pages(pages);
    }
    if let Some(region) = args.sign {
        client = client.with_aws_signing(region);
    }
    for (name, value) in args.headers {
        client = client.with_header(name, value);
    }
    let (mut out, checkpoint) = Output::open(args.output.as_deref(), &args.url, args.resume)?;
    let events = match &checkpoint {
        Some(checkpoint) => client.resume(checkpoint).boxed(),
        None => client.events(&args.url).boxed(),
    };
    // Not over records written to the terminal itself.
    let records_on_terminal =
        args.output.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut progress = Progress::on_stderr(!records_on_terminal);
    let result = write(events, &mut out, &mut progress).await;
    progress.finish();
    result
}

/// Writes the download's records as they arrive, each page flushed (and its state kept) as it
/// ends; a JSON array's pages joined into one array.
async fn write(
    mut events: futures_util::stream::BoxStream<'static, Result<Event, Error>>,
    out: &mut Output,
    progress: &mut Progress,
) -> Result<(), String> {
    let mut join = ArrayJoin::new(out.resumed_with_data());
    loop {
        // What arrived is written out before waiting for more (a pipe's reader sees records
        // as they come), not after each record.
        let event = match futures_util::FutureExt::now_or_never(events.next()) {
            Some(event) => event,
            None => {
                out.flush().map_err(write_error)?;
                events.next().await
            }
        };
        let Some(event) = event else {
            break;
        };
        match event.map_err(describe)? {
            Event::PageStart { format, .. } => join.page_start(format),
            Event::Record(record) => {
                out.record(join.before_record()).map_err(write_error)?;
                out.record(&record).map_err(write_error)?;
                progress.record(record.len());
            }
            // Each page is on disk (or in the pipe) when it ends, then its state; the last
            // one closes a JSON array before its state is removed.
            Event::PageEnd { checkpoint, .. } => {
                if checkpoint.is_none() {
                    out.record(join.end()).map_err(write_error)?;
                }
                out.page_end(checkpoint.as_deref()).map_err(write_error)?;
                progress.page_end();
            }
            _ => {}
        }
    }
    // After `--max-pages`: closed after the state, which `--resume` cuts back to.
    out.record(join.end()).map_err(write_error)?;
    out.flush().map_err(write_error)
}

fn write_error(error: std::io::Error) -> String {
    format!("writing the records: {error}")
}

/// The error as one line, its kind first.
fn describe(error: Error) -> String {
    let kind = match &error {
        Error::Url { .. } => "bad URL",
        Error::Http { .. } => "request failed",
        Error::Signing { .. } => "cannot sign",
        Error::Status { .. } => "HTTP error",
        Error::Function { .. } => "the function failed",
        Error::CutWithoutContinuation { .. } => "page cut without a link",
        Error::Truncated { .. } => "page truncated",
        Error::LinkRepeated { .. } => "link loop",
        Error::Malformed { .. } => "page not in its format",
        _ => "error",
    };
    format!("{kind}: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_every_option() {
        let parsed = parse(&args(
            "-o out.csv --format csv --max-pages 3 -H x-api-key:abc http://h/?a=1",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(parsed.url, "http://h/?a=1");
        assert_eq!(parsed.output, Some(PathBuf::from("out.csv")));
        assert_eq!((parsed.format, parsed.max_pages), (Format::Csv, Some(3)));
        assert_eq!(parsed.headers[0].0, "x-api-key");
        assert_eq!(parsed.headers[0].1, "abc");
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert_eq!(parse(&args("")).unwrap_err(), "get needs a URL");
        assert_eq!(
            parse(&args("a b")).unwrap_err(),
            "one URL only, not also \"b\""
        );
        assert!(
            parse(&args("--format xml u"))
                .unwrap_err()
                .contains("unknown format")
        );
        assert!(
            parse(&args("--max-pages 0 u"))
                .unwrap_err()
                .contains("--max-pages")
        );
        assert!(parse(&args("-H novalue u")).unwrap_err().contains("-H"));
        assert_eq!(
            parse(&args("--what u")).unwrap_err(),
            "unknown option \"--what\""
        );
        assert_eq!(parse(&args("--help")).unwrap(), None);
        assert!(
            parse(&args("--resume u"))
                .unwrap_err()
                .contains("--resume needs --output")
        );
    }
}
