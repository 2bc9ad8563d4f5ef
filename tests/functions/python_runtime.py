"""A Lambda runtime in another language (Python, standard library only) that streams its answer.

It speaks the Runtime API directly, as AWS's Node and .NET clients do: prelude JSON chunk, eight
NUL bytes, body chunks, last chunk. The path (`rawPath` of a URL event, or of an Invoke payload
such as `{"rawPath": "/slow"}`) chooses how it behaves, good or hostile:

- `/crash`: exits mid-invocation (to test restarts);
- `/slow`: pauses 1.5 s between its two body chunks;
- `/hang`: never answers (to test timeouts);
- `/fail-mid`: sends a chunk, then error trailers (`Function.StreamError`);
- `/big-error`: the same with a 12,500-byte message (over hyper's 16 KiB trailer limit in
  base64);
- `/truncate`: sends a chunk, then closes the connection without the last chunk;
- `/break-after-prelude`: sends the prelude, then a malformed trailer line;
- `/status-100`: a prelude with statusCode 100;
- `/pid`: answers with its process id (to tell whether the process was restarted);
- `/ticks`: 60 chunks, 50 ms apart;
- `/prelude-with-body`: the prelude, its NULs and 8,000 body bytes in one chunk;
- `/huge-error`: a chunk, then error trailers over the Runtime API's 64 KiB limit;
- `/stall-buffered`: starts a buffered answer of 100 bytes, sends 10 and stalls (the
  connection stays open while the runtime goes on to its next invocation);
- `/tenant`: answers `<Lambda-Runtime-Aws-Tenant-Id> <process id>`;
- `/metadata`: answers what the Lambda metadata endpoint (`AWS_LAMBDA_METADATA_API`, with
  `AWS_LAMBDA_METADATA_TOKEN`) answered: `<status> <body>`;
- `/buffered`: a buffered (not streamed) answer, a JSON document naming the path; with a
  `"size": n` field in the event, a JSON string of exactly n bytes instead;
- `/stream-size`: a streamed answer of the prelude, its NULs and `"size": n` body bytes;
- `/error`: reports a handler error (`/invocation/{id}/error`) before any answer;
- `/log`: writes `log line to stdout` and `log line to stderr` (and, with `"size": n`, a
  line of n `l`s to stdout), then answers.

With `AWS_LAMBDA_MAX_CONCURRENCY=n` it runs n loops, each on its own `/next`, as a Lambda
Managed Instances runtime does. With `PYTHON_RUNTIME_INIT=crash` it exits at start-up, with
`PYTHON_RUNTIME_INIT=error` it first posts `/runtime/init/error`.
"""
import base64
import http.client
import json
import os
import sys
import threading
import time

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
base = "/2018-06-01/runtime/invocation"


def error_trailers(message):
    body = json.dumps({"errorType": "Function.StreamError", "errorMessage": message})
    return (
        b"0\r\nLambda-Runtime-Function-Error-Type: Function.StreamError\r\n"
        + b"Lambda-Runtime-Function-Error-Body: "
        + base64.b64encode(body.encode())
        + b"\r\n\r\n"
    )


def metadata():
    endpoint = http.client.HTTPConnection(os.environ["AWS_LAMBDA_METADATA_API"])
    token = os.environ["AWS_LAMBDA_METADATA_TOKEN"]
    endpoint.request("GET", "/2026-01-15/metadata/execution-environment",
                     headers={"Authorization": f"Bearer {token}"})
    response = endpoint.getresponse()
    return f"{response.status} {response.read().decode()}"


def answer(conn, request_id, path, reply=None):
    conn.putrequest("POST", f"{base}/{request_id}/response")
    conn.putheader("Content-Type", "application/vnd.awslambda.http-integration-response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    conn.endheaders()

    def chunk(data):
        conn.send(b"%x\r\n" % len(data) + data + b"\r\n")

    status = 100 if path == "/status-100" else 200
    prelude = json.dumps({"statusCode": status, "headers": {"content-type": "text/plain"}})
    if path == "/prelude-with-body":
        chunk(prelude.encode() + b"\0" * 8 + b"b" * 8000)
        conn.send(b"0\r\n\r\n")
        return
    chunk(prelude.encode())
    chunk(b"\0" * 8)
    if path == "/break-after-prelude":
        conn.send(b"0\r\nthis is not a trailer line\r\n\r\n")
        return
    chunk(b"python streams ")
    if path == "/truncate":
        conn.sock.close()
        return
    if path == "/fail-mid":
        conn.send(error_trailers("the database went away"))
        return
    if path == "/big-error":
        conn.send(error_trailers("x" * 12_500))
        return
    if path == "/huge-error":
        conn.send(error_trailers("x" * 60_000))
        return
    if path == "/pid":
        chunk(str(os.getpid()).encode())
        conn.send(b"0\r\n\r\n")
        return
    if path == "/ticks":
        for tick in range(60):
            chunk(b"%02d " % tick)
            time.sleep(0.05)
        conn.send(b"0\r\n\r\n")
        return
    if path == "/slow":
        time.sleep(1.5)
    chunk((reply or path).encode())
    conn.send(b"0\r\n\r\n")


def buffered(conn, request_id, event):
    """A buffered answer: `{"python": "buffers", "path": ...}`, or a JSON string of `size` bytes."""
    size = event.get("size")
    if size is None:
        payload = json.dumps({"python": "buffers", "path": event.get("rawPath")}).encode()
    else:
        payload = b'"' + b"x" * (size - 2) + b'"'
    conn.request("POST", f"{base}/{request_id}/response", payload,
                 {"Content-Type": "application/json"})


def stream_size(conn, request_id, size):
    """A streamed answer: the prelude, its NULs, then `size` body bytes in 64 KiB chunks."""
    conn.putrequest("POST", f"{base}/{request_id}/response")
    conn.putheader("Content-Type", "application/vnd.awslambda.http-integration-response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    prelude = json.dumps({"statusCode": 200, "headers": {"content-type": "text/plain"}})
    for data in (prelude.encode(), b"\0" * 8):
        conn.send(b"%x\r\n" % len(data) + data + b"\r\n")
    while size > 0:
        data = b"s" * min(size, 65536)
        conn.send(b"%x\r\n" % len(data) + data + b"\r\n")
        size -= len(data)
    conn.send(b"0\r\n\r\n")


def handler_error(conn, request_id):
    """Reports a handler error before any answer, as a runtime client does for an exception."""
    body = json.dumps({"errorType": "OrderError", "errorMessage": "no such order"})
    conn.request("POST", f"{base}/{request_id}/error", body,
                 {"Lambda-Runtime-Function-Error-Type": "OrderError",
                  "Content-Type": "application/json"})


stalled = []


def stall_buffered(request_id):
    """Starts a buffered answer that never ends; the connection is kept open."""
    conn = http.client.HTTPConnection(host, int(port))
    conn.putrequest("POST", f"{base}/{request_id}/response")
    conn.putheader("Content-Length", "100")
    conn.endheaders()
    conn.send(b"0123456789")
    stalled.append(conn)


def init():
    how = os.environ.get("PYTHON_RUNTIME_INIT")
    if how == "error":
        conn = http.client.HTTPConnection(host, int(port))
        body = json.dumps({"errorType": "Function.NoDatabase", "errorMessage": "no database"})
        conn.request("POST", "/2018-06-01/runtime/init/error", body,
                     {"Lambda-Runtime-Function-Error-Type": "Function.NoDatabase"})
        conn.getresponse().read()
    if how in ("crash", "error"):
        sys.exit(1)


def serve():
    while True:
        conn = http.client.HTTPConnection(host, int(port))
        try:
            conn.request("GET", base + "/next")
            response = conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            os._exit(0)  # the Runtime API went away: the emulator stopped

        event = json.loads(response.read())
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        path = event.get("rawPath", "/")
        if path == "/crash":
            os._exit(3)
        if path == "/hang":
            time.sleep(3600)
        if path == "/stall-buffered":
            stall_buffered(request_id)
            conn.close()
            continue
        reply = None
        if path == "/tenant":
            reply = f"{response.getheader('Lambda-Runtime-Aws-Tenant-Id')} {os.getpid()}"
        if path == "/metadata":
            reply = metadata()
        if path == "/log":
            print("log line to stdout", flush=True)
            print("log line to stderr", file=sys.stderr, flush=True)
            if "size" in event:
                print("l" * event["size"], flush=True)
        if path == "/buffered":
            buffered(conn, request_id, event)
        elif path == "/stream-size":
            stream_size(conn, request_id, event["size"])
        elif path == "/error":
            handler_error(conn, request_id)
        else:
            answer(conn, request_id, path, reply)
        try:
            conn.getresponse().read()
        except (ConnectionError, http.client.HTTPException, OSError):
            pass  # a response cut off on purpose
        conn.close()


init()
loops = int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1"))
for _ in range(loops - 1):
    threading.Thread(target=serve, daemon=True).start()
serve()
