"""A Lambda runtime in another language (Python, standard library only) that streams its answer.

It speaks the Runtime API directly, as AWS's Node and .NET clients do: prelude JSON chunk, eight
NUL bytes, body chunks, last chunk. `/crash` makes it exit mid-invocation (to test restarts);
`/slow` pauses 1.5 s between its two body chunks.
"""
import http.client
import json
import os
import sys
import time

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
base = "/2018-06-01/runtime/invocation"

while True:
    conn = http.client.HTTPConnection(host, int(port))
    try:
        conn.request("GET", base + "/next")
        response = conn.getresponse()
    except (ConnectionError, http.client.HTTPException):
        sys.exit(0)  # the Runtime API went away: the emulator stopped

    event = json.loads(response.read())
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    path = event.get("rawPath", "/")
    if path == "/crash":
        os._exit(3)
    conn.putrequest("POST", f"{base}/{request_id}/response")
    conn.putheader("Content-Type", "application/vnd.awslambda.http-integration-response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()

    def chunk(data):
        conn.send(b"%x\r\n" % len(data) + data + b"\r\n")

    chunk(json.dumps({"statusCode": 200, "headers": {"content-type": "text/plain"}}).encode())
    chunk(b"\0" * 8)
    chunk(b"python streams ")
    if path == "/slow":
        time.sleep(1.5)
    chunk(path.encode())
    conn.send(b"0\r\n\r\n")
    conn.getresponse().read()
    conn.close()
