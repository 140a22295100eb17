"""Issue 15, item 5: schemathesis against the server's own /openapi.json.

Starts target/debug/releasy-server with the embedded store in a temporary directory,
on a fresh PostgreSQL database (127.0.0.1:5432, user postgres, as the tests use) and
then on SQLite, gives it data to work on (a customer with a key entitled to a
published release with one artifact), and runs schemathesis: on PostgreSQL with the
admin key, with an operator JWT (signed by a key this script publishes as a JWKS on
loopback) and with the customer key; on SQLite with the admin key. Each run generates examples, coverage cases, fuzzed and
stateful (link-following) sequences for a bounded time and fails on any 5xx, any
status code or header the document does not list, and any body that does not match
its documented schema (errors included: they are `ErrorBody`).

Run by .ci/run with the virtualenv that holds schemathesis and cryptography.
"""

import base64
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ADMIN_KEY = "fuzz-admin-key-fuzz-admin-key-fuzz-admin"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_jwks(jwks: dict) -> str:
    body = json.dumps(jwks).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/jwks.json"


def operator_token(key: Ed25519PrivateKey) -> str:
    header = b64url(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": "fuzz"}).encode())
    claims = {
        "sub": "fuzz-operator",
        "iss": "https://fuzz.invalid",
        "aud": "releasy",
        "roles": ["platform_admin"],
        "exp": int(time.time()) + 3600,
    }
    payload = b64url(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{payload}".encode())
    return f"{header}.{payload}.{b64url(signature)}"


def call(base: str, method: str, path: str, body=None, headers=None, raw: bytes = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path if path.startswith("/") else path, data=data, method=method)
    request.add_header("x-releasy-admin-key", ADMIN_KEY)
    if body is not None:
        request.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None


def seed(base: str) -> str:
    """A customer with a key entitled to a published release with one artifact."""
    customer = call(base, "POST", "/v1/admin/customers", {"name": "Fuzz Corp", "plan": "core"})
    key = call(base, "POST", "/v1/admin/keys", {"customer_id": customer["id"]})
    call(base, "POST", f"/v1/admin/customers/{customer['id']}/entitlements",
         {"product": "fuzz", "starts_at": 0})
    release = call(base, "POST", "/v1/releases", {"product": "fuzz", "version": "1.0.0"})
    presigned = call(base, "POST", f"/v1/releases/{release['id']}/artifacts/presign",
                     {"filename": "fuzz.tgz", "platform": "linux-x86_64"})
    data = b"fuzz artifact bytes\n" * 100
    call(base, "PUT", presigned["upload_url"], raw=data)
    call(base, "POST", f"/v1/releases/{release['id']}/artifacts", {
        "artifact_id": presigned["artifact_id"],
        "object_key": presigned["object_key"],
        "checksum": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "platform": "linux-x86_64",
    })
    call(base, "POST", f"/v1/releases/{release['id']}/publish")
    return key["api_key"]


def wait_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"fuzz: the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/ready") as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("fuzz: the server did not become ready within 60 s")


# Which credentials run against which database, with their budgets in seconds.
# PostgreSQL gets every credential: it is what production runs, and it refuses what
# SQLite lets through (a NUL in text, say). SQLite gets the admin run, whose
# operations reach every table.
PLAN = [
    ("postgres", {"admin": 80, "operator": 40, "customer": 40}),
    ("sqlite", {"admin": 50}),
]
# The server the tests use: RELEASY_TEST_POSTGRES_URL (an administrative URL naming a
# database) or the local default, as releasy-testkit reads it.
ADMIN_URL = os.environ.get("RELEASY_TEST_POSTGRES_URL",
                           "postgres://postgres@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    """The administrative URL with its database replaced by `name`."""
    base, _, query = ADMIN_URL.partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}"
    return f"{url}?{query}" if query else url


def psql(sql: str) -> None:
    subprocess.run(["psql", ADMIN_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


def fuzz_one_server(binary: str, schemathesis: str, key, jwks_url: str,
                    database: str, budgets: dict) -> list:
    """Starts a server on `database`, seeds it, runs schemathesis with each credential
    of `budgets`; returns what failed."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    failed = []
    with tempfile.TemporaryDirectory() as work:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELEASY_")}
        env.update({
            "RELEASY_BIND_ADDR": f"127.0.0.1:{port}",
            "RELEASY_PUBLIC_BASE_URL": base,
            "RELEASY_ADMIN_API_KEY": ADMIN_KEY,
            "RELEASY_DATA_DIR": os.path.join(work, "data"),
            "RELEASY_OPERATOR_JWKS_URL": jwks_url,
            "RELEASY_OPERATOR_ISSUER": "https://fuzz.invalid",
            "RELEASY_OPERATOR_AUDIENCE": "releasy",
            # The runs send thousands of requests without credentials on purpose; the
            # failure limit would answer them 429 where the check expects 401.
            "RELEASY_AUTH_FAILURE_LIMIT": "0",
            "RELEASY_LOG_LEVEL": "warn",
        })
        if database != "sqlite":
            env["RELEASY_DATABASE_URL"] = database
        log = open(os.path.join(work, "server.log"), "w")
        server = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(base, server)
            api_key = seed(base)
            credentials = {
                "admin": f"x-releasy-admin-key: {ADMIN_KEY}",
                "operator": f"Authorization: Bearer {operator_token(key)}",
                "customer": f"x-releasy-api-key: {api_key}",
            }
            label = "PostgreSQL" if database != "sqlite" else "SQLite"
            for name, budget in budgets.items():
                print(f"fuzz: schemathesis with the {name} credential on {label}, {budget} s",
                      flush=True)
                run = subprocess.run([
                    schemathesis, "run", f"{base}/openapi.json",
                    "--header", credentials[name],
                    "--checks", CHECKS,
                    "--max-time", str(budget),
                    # One worker: with two threads, CPython 3.11's `ast` (which
                    # hypothesis uses to describe strategies) can fail with "AST
                    # constructor recursion depth mismatch", a schemathesis Runtime
                    # Error that is no finding about the API.
                    "--workers", "1",
                    "--max-examples", "25",
                    "--seed", "15",
                    "--no-color",
                ], cwd=work)  # schemathesis keeps a cache in its working directory
                if run.returncode != 0:
                    failed.append(f"{name} on {label}")
            if server.poll() is not None:
                failed.append(f"the server on {label} itself (exited {server.returncode})")
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        if failed:
            with open(os.path.join(work, "server.log")) as output:
                tail = output.readlines()[-40:]
            print("fuzz: the server's last log lines:\n" + "".join(tail), file=sys.stderr)
    return failed


def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = os.path.join(root, "target", "debug", "releasy-server")
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwks_url = serve_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "fuzz",
                                     "alg": "EdDSA", "use": "sig", "x": b64url(public)}]})
    failed = []
    for backend, budgets in PLAN:
        if backend == "sqlite":
            failed += fuzz_one_server(binary, schemathesis, key, jwks_url, "sqlite", budgets)
            continue
        name = f"releasy_fuzz_{os.getpid()}_{int(time.time())}"
        psql(f"CREATE DATABASE {name}")
        try:
            failed += fuzz_one_server(binary, schemathesis, key, jwks_url,
                                      database_url(name), budgets)
        finally:
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if failed:
        print(f"fuzz: failed with: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("fuzz: no 5xx, every answer as documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
