"""nginx before the app's workers: it reads every request whole, at the client's pace, first.

A worker thread never waits on a slow client: nginx holds slow connections for the price of a
few kilobytes each and hands a request to the app (a private Unix socket) only once its body is
complete. Debian's nginx package; started, watched and stopped by `fashion-classifier serve`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HEADER_TIMEOUT_S = 10  # the whole request head, from the first byte (nginx's timer is not reset)
BODY_TIMEOUT_S = 10  # between two reads of a body: a body that stops arriving is cut off
# Requests read or answered at once (a bound on the bodies held), from one client address and in
# all; beyond it, 503. Only requests whose headers are in count: idle or slow-header sockets do not.
MAX_REQUESTS_PER_CLIENT = 64
MAX_REQUESTS = 256
BODY_IN_MEMORY = "128k"  # per request, allocated up front; a larger body goes to a temporary file
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 25  # in-flight answers get this long after SIGTERM (the workers' own is 20 s)

# The front's own refusals, as JSON like the app's errors, saying what to do.
REFUSALS = {
    400: "the request is not valid HTTP; check the client that sent it",
    413: "the upload is larger than {mb} MB; send smaller pictures",
    502: "the app stopped before it answered; send the request again",
    503: "the server is busy or restarting; retry in a few seconds",
    504: "the app took too long to answer; retry in a moment",
}

CONFIG = """
daemon off;
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log stderr {log_level};
events {{ worker_connections 4096; }}
http {{
  log_format front '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent '
                   '"$http_referer" "$http_user_agent" $request_time';
  {access_log}
  client_body_temp_path {folder}/bodies;
  proxy_temp_path {folder}/answers;
  fastcgi_temp_path {folder}/unused;
  uwsgi_temp_path {folder}/unused;
  scgi_temp_path {folder}/unused;
  server_tokens off;
  client_header_timeout {header_timeout}s;
  client_body_timeout {body_timeout}s;
  send_timeout 60s;
  client_max_body_size {max_body};
  client_body_buffer_size {body_in_memory};
  large_client_header_buffers 4 16k;
  keepalive_timeout 75s;
  limit_conn_zone $binary_remote_addr zone=per_client:10m;
  limit_conn_zone $server_name zone=all_clients:1m;
  limit_conn_status 503;
  # A new connection to the app for each request (no kept-alive ones): a connection kept to a
  # worker that has since died would turn the next upload into a 502.
  upstream app {{ server unix:{socket}; }}
  server {{
    listen {host}:{port} backlog=1024;
    limit_conn per_client {max_per_client};
    limit_conn all_clients {max_requests};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_request_buffering on;
      proxy_buffering on;
      proxy_read_timeout 120s;
      proxy_next_upstream off;
    }}
{error_pages}
{refusals}
  }}
}}
"""


def render_config(
    *, folder: Path, host: str, port: int, socket_path: Path, max_body: int, log_level: str
) -> str:
    """The nginx.conf of one run: everything it writes stays in `folder`."""
    mb = round(max_body / 1e6)
    pages = "\n".join(f"    error_page {status} /_front/{status};" for status in REFUSALS)
    refusals = "\n".join(
        f"    location = /_front/{status} {{ internal; default_type application/json; "
        + ("add_header Retry-After 5 always; " if status == 503 else "")
        + f"return {status} '{_error_json(message.format(mb=mb))}'; }}"
        for status, message in REFUSALS.items()
    )
    return CONFIG.format(
        folder=folder,
        # Started as root, nginx would run its workers as `nobody`; as the app's own user, they
        # reach the app's private socket and folder.
        user="user root;" if os.geteuid() == 0 else "",
        access_log=_access_log(),
        log_level="warn" if log_level.upper() in ("WARNING", "ERROR", "CRITICAL") else "error",
        header_timeout=HEADER_TIMEOUT_S,
        body_timeout=BODY_TIMEOUT_S,
        max_body=max_body,
        body_in_memory=BODY_IN_MEMORY,
        socket=socket_path,
        host=f"[{host}]" if ":" in host else host,
        port=port,
        max_per_client=MAX_REQUESTS_PER_CLIENT,
        max_requests=MAX_REQUESTS,
        error_pages=pages,
        refusals=refusals,
    )


def _error_json(message: str) -> str:
    return json.dumps({"error": {"code": "refused", "message": message}})


def _access_log() -> str:
    """One line a request on our stdout, when nginx can open it (not every container lets it)."""
    try:
        with open("/dev/stdout", "ab"):
            return "access_log /dev/stdout front buffer=32k flush=1s;"  # one write per 32 KB or second
    except OSError:
        return "access_log off;"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError(
            "nginx is not installed; it reads requests for the app (install Debian's package: "
            "apt-get install nginx, or run tools/system-deps.sh)"
        )
    return found


@contextmanager
def nginx_front(config: str, folder: Path, *, host: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """nginx listening on host:port with `config` until the block ends; then a graceful stop."""
    conf = folder / "nginx.conf"
    conf.write_text(config)
    command = [nginx_binary(), "-c", str(conf), "-e", "stderr", "-p", str(folder)]
    process = subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: PLW1509 (no threads yet)
    try:
        _wait_until_listening(process, host, port)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Graceful: stop listening, finish the answers in flight (at most STOP_TIMEOUT_S), exit."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGQUIT)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when `fashion-classifier serve` dies, however it dies."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_until_listening(process: subprocess.Popen[bytes], host: str, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((host_to_reach(host), port), timeout=1):
            return
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"nginx could not listen on {host}:{port} (see its message above)")


def host_to_reach(host: str) -> str:
    """Where to connect to check a listener on `host` (a wildcard address is reached locally)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
