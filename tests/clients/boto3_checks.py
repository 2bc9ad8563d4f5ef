"""The AWS SDK for Python (boto3 / botocore) against the local emulator, as against AWS.

Usage: boto3_checks.py <endpoint>  (the emulator's URL, such as http://127.0.0.1:9000)
with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set to a key the emulator accepts and the
function served by tests/functions/python_runtime.py. Prints one line per check; exits
non-zero at the first failed one.
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions

ENDPOINT = sys.argv[1].rstrip("/")
REGION = "us-east-1"
KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
SECRET = os.environ["AWS_SECRET_ACCESS_KEY"]
NO_RETRIES = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30)


def client(key_id=KEY_ID, secret=SECRET):
    return boto3.client(
        "lambda",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=NO_RETRIES,
    )


def payload(path):
    return json.dumps({"rawPath": path}).encode()


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def stream_events(path, **kwargs):
    """(seconds since the call, event) for each event of an InvokeWithResponseStream."""
    started = time.monotonic()
    response = client().invoke_with_response_stream(FunctionName="local", Payload=payload(path), **kwargs)
    check(f"stream {path}: status 200", response["StatusCode"] == 200, response["StatusCode"])
    return [(time.monotonic() - started, event) for event in response["EventStream"]]


PRELUDE = b'{"statusCode": 200, "headers": {"content-type": "text/plain"}}' + b"\0" * 8


def split_prelude(payload):
    """The head and body of a streaming function's payload: AWS passes the runtime's bytes
    as written on Invoke and InvokeWithResponseStream, prelude and 8 NULs included."""
    head, delimiter, body = payload.partition(b"\0" * 8)
    check("the payload starts with its prelude", delimiter == b"\0" * 8, payload[:80])
    return json.loads(head), body


def chunks_and_complete(events):
    chunks = [e["PayloadChunk"]["Payload"] for _, e in events if "PayloadChunk" in e]
    completes = [e["InvokeComplete"] for _, e in events if "InvokeComplete" in e]
    return chunks, completes


# Invoke (RequestResponse): the streamed body, collected.
response = client().invoke(FunctionName="local", Payload=payload("/hello"))
body = response["Payload"].read()
check("invoke: 200", response["StatusCode"] == 200, response)
check("invoke: the function's bytes as written", body == PRELUDE + b"python streams /hello", body)
check("invoke: the prelude parses", split_prelude(body) == ({"statusCode": 200, "headers": {"content-type": "text/plain"}}, b"python streams /hello"), body)
check("invoke: no FunctionError", "FunctionError" not in response, response.get("FunctionError"))

# LogType="Tail": the invocation's log, base64, framed by START / END / REPORT.
response = client().invoke(FunctionName="local", Payload=payload("/log"), LogType="Tail")
log = base64.b64decode(response["LogResult"]).decode()
check("invoke Tail: the function's log lines", "log line to stdout\nlog line to stderr\n" in log or "log line to stderr\nlog line to stdout\n" in log, log)
check("invoke Tail: START, END, REPORT", log.startswith("START RequestId: ") and "\nEND RequestId: " in log and "\nREPORT RequestId: " in log, log)

# InvokeWithResponseStream: PayloadChunk events as the bytes arrive, then InvokeComplete.
events = stream_events("/slow", Qualifier="$LATEST")
chunks, completes = chunks_and_complete(events)
check("stream /slow: the bytes as written", b"".join(chunks) == PRELUDE + b"python streams /slow", chunks)
timed = [(at, e["PayloadChunk"]["Payload"]) for at, e in events if "PayloadChunk" in e]
received, first_part_at = b"", None
for at, chunk in timed:
    received += chunk
    if first_part_at is None and received.endswith(b"python streams "):
        first_part_at = at
# The function pauses 1.5 s between its chunks: the first arrives before the second exists.
check("stream /slow: the first part arrived before the pause", first_part_at is not None and timed[-1][0] - first_part_at > 1.0, timed)
check("stream /slow: InvokeComplete without an error", completes and not completes[0].get("ErrorCode"), completes)

# A mid-stream failure: the error trailers become InvokeComplete's ErrorCode / ErrorDetails.
chunks, completes = chunks_and_complete(stream_events("/fail-mid"))
check("stream /fail-mid: the bytes before the error", b"".join(chunks) == PRELUDE + b"python streams ", chunks)
check("stream /fail-mid: ErrorCode", completes[0].get("ErrorCode") == "Function.StreamError", completes)
check("stream /fail-mid: ErrorDetails", completes[0].get("ErrorDetails") == "the database went away", completes)

# A truncated stream (the runtime's connection closed without its last chunk).
chunks, completes = chunks_and_complete(stream_events("/truncate"))
check("stream /truncate: the bytes before the cut", b"".join(chunks) == PRELUDE + b"python streams ", chunks)
check("stream /truncate: Runtime.TruncatedResponse", completes[0].get("ErrorCode") == "Runtime.TruncatedResponse", completes)

# Signatures the Invoke API must refuse, on both routes.
for key_id, secret, code in [
    (KEY_ID, "not-the-secret", "InvalidSignatureException"),
    ("AKIDUNKNOWN", SECRET, "UnrecognizedClientException"),
]:
    for call in ["invoke", "invoke_with_response_stream"]:
        try:
            getattr(client(key_id, secret), call)(FunctionName="local", Payload=payload("/x"))
            check(f"{call} with a bad key: refused", False, "it was accepted")
        except botocore.exceptions.ClientError as error:
            found = error.response["Error"]["Code"]
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            check(f"{call} signed with a bad key: {code}", (found, status) == (code, 403), (found, status))


# The Function URL with AWS_IAM: a botocore-signed request is accepted, a tampered one refused.
def url_request(body_signed, body_sent):
    url = f"{ENDPOINT}/orders?id=7"
    request = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body_signed,
                                             headers={"content-type": "application/json"})
    credentials = botocore.credentials.Credentials(KEY_ID, SECRET)
    botocore.auth.SigV4Auth(credentials, "lambda", REGION).add_auth(request)
    headers = dict(request.headers.items())
    sent = urllib.request.Request(url, data=body_sent, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(sent, timeout=30) as answer:
            return answer.status, answer.headers.get("x-amzn-ErrorType"), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-amzn-ErrorType"), error.read()


status, _, body = url_request(b'{"a":1}', b'{"a":1}')
check("URL signed by botocore: 200", (status, body) == (200, b"python streams /orders"), (status, body))
status, error_type, _ = url_request(b'{"a":1}', b'{"a":2}')
check("URL with a tampered body: 403", (status, error_type) == (403, "AccessDeniedException"), (status, error_type))
print("all boto3 checks passed")
