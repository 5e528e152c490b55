"""A Stowage server as a test sees it: started (or found), reset, and read through its /_admin API."""

import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


class StowageError(Exception):
    """The server refused an admin request; the message is the server's."""


class StowageServer:
    """One Stowage server: the one this process started (`start`), or one already running (`attach`)."""

    def __init__(self, url, process=None, admin_token=None):
        self.url = url.rstrip("/")
        self.host = urllib.parse.urlsplit(self.url).netloc
        self.process = process
        self.admin_token = admin_token
        self.output = []
        self.has_fixtures = False

    # --- starting and stopping ----------------------------------------------------------------

    @classmethod
    def find_binary(cls, given=None):
        """`given`, else $STOWAGE_BIN, else `stowage` on PATH."""
        binary = given or os.environ.get("STOWAGE_BIN") or shutil.which("stowage")
        if not binary or not Path(binary).exists():
            raise StowageError(
                "no stowage binary: pass --stowage-bin PATH, set STOWAGE_BIN, put `stowage` on PATH "
                "(make build leaves it at .build/release/stowage), or use --stowage-url for a running server")
        return str(binary)

    @classmethod
    def start(cls, binary, fixtures=(), args=(), timeout=60):
        """Starts `stowage serve --ephemeral --port 0` with `fixtures` (as --fixture) and waits until it answers."""
        command = [binary, "serve", "--ephemeral", "--port", "0", *args]
        for fixture in fixtures:
            command += ["--fixture", str(fixture)]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("STOWAGE_") or k == "STOWAGE_BIN"}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=environment)
        output = []
        deadline = time.monotonic() + timeout
        url = None
        for line in process.stdout:
            output.append(line)
            if line.startswith("Stowage serving on "):
                url = line.split()[-1]
                break
            if time.monotonic() > deadline:
                break
        if url is None:
            process.kill()
            process.wait()
            raise StowageError("stowage serve did not start:\n" + "".join(output) + (process.stdout.read() or ""))
        server = cls(url, process=process)
        server.output = output
        server.has_fixtures = bool(fixtures)
        threading.Thread(target=server._drain, daemon=True).start()
        return server

    @classmethod
    def attach(cls, url, fixtures=(), admin_token=None):
        """A server already running at `url`; `fixtures` are imported into it and checkpointed as `fixture`."""
        server = cls(url, admin_token=admin_token)
        server.health()
        if fixtures:
            server.load_fixtures(fixtures)
        return server

    def _drain(self):
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self):
        """SIGTERM, then SIGKILL if it lingers: never left running."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    # --- the admin API ------------------------------------------------------------------------

    def call(self, method, path, body=None, raw=False, headers=None):
        """Calls /_admin; returns the decoded JSON (or bytes with raw=True); raises StowageError when refused."""
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/_admin" + path, data=data, method=method,
                                         headers=dict(headers or {}))
        if self.admin_token:
            request.add_header("Authorization", f"Bearer {self.admin_token}")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                message = json.loads(payload)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = payload.decode(errors="replace")[:500]
            raise StowageError(f"{method} /_admin{path}: {error.code}: {message}") from None
        except urllib.error.URLError as error:
            raise StowageError(f"cannot reach {self.url}: {error.reason}") from None
        if raw:
            return payload
        return json.loads(payload) if payload else None

    def health(self):
        return self.call("GET", "/health")

    @property
    def sequence(self):
        """The last record's sequence number."""
        return self.health()["sequence"]

    def password(self, account=None, region=None):
        """A password for `docker login --username AWS` (and Basic AWS:<password> on /v2)."""
        return self.call("POST", "/token" + _query(account=account, region=region))["password"]

    def ecr(self, account=None, region=None):
        """A boto3 ECR client for this server, acting in `account` (default 000000000000) and `region`."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "ecr", endpoint_url=self.url, region_name=region or "us-east-1",
            aws_access_key_id=account or "000000000000", aws_secret_access_key="stowage",
            config=Config(retries={"max_attempts": 1}))

    def reset(self, to=None):
        """Empties the registry in O(1), or with `to` returns it to that checkpoint."""
        return self.call("POST", "/reset" + _query(to=to))

    def clean(self):
        """What the `stowage` fixture does before each test: back to the fixtures, or empty."""
        return self.reset(to="fixture") if self.has_fixtures else self.reset()

    def checkpoint(self, name):
        return self.call("POST", "/checkpoints", {"name": name})

    def rewind(self, name_or_sequence):
        return self.call("POST", "/rewind", {"to": name_or_sequence})

    def export(self, path, history=False):
        """Writes the registry (or, with history=True, a recording of its history) to `path`."""
        data = self.call("GET", "/export" + ("?history=true" if history else ""), raw=True)
        Path(path).write_bytes(data)
        return Path(path)

    def import_file(self, path, repository=None):
        """Imports an export file; with `repository`, an OCI image layout (a tar or a directory) into it."""
        path = Path(path)
        if repository is None:
            return self.call("POST", "/import", path.read_bytes())
        return self.call("POST", "/import" + _query(format="oci-layout", repository=repository), _tar(path))

    def load_fixtures(self, fixtures):
        """What `serve --fixture` does, over the API: the export, then the layouts, then checkpoint `fixture`."""
        parsed = [_fixture(f) for f in fixtures]
        for repository, path in sorted(parsed, key=lambda item: item[0] is not None):
            self.import_file(path, repository=repository)
        self.checkpoint("fixture")
        self.has_fixtures = True

    def log(self, **filters):
        """The records (as dicts), oldest first; filters as /_admin/log takes them (after, upload, repository, kind, refused...)."""
        records = []
        after = filters.pop("after", 0)
        if "refused" in filters:
            filters["refused"] = "true" if filters["refused"] else None
        while True:
            page = self.call("GET", "/log" + _query(after=after, limit=1000, **filters))
            records += page["records"]
            if not page.get("next"):
                return records
            after = page["next"]

    def upload(self, upload_id):
        """One upload's story: its events, status and resulting blob."""
        return self.call("GET", f"/uploads/{urllib.parse.quote(upload_id, safe='')}")

    def docker_config(self, directory, account=None, region=None):
        """Writes `config.json` (for DOCKER_CONFIG) and `auth.json` (podman/skopeo --authfile) holding a login to this server."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        token = base64.b64encode(f"AWS:{self.password(account, region)}".encode()).decode()
        document = json.dumps({"auths": {self.host: {"auth": token}}})
        (directory / "config.json").write_text(document)
        (directory / "auth.json").write_text(document)
        return directory

    # --- the history a failing test shows -----------------------------------------------------

    def history(self, after):
        """The records after `after`, a line each as `stowage log` prints them, then the story of
        every upload among them that had a request refused."""
        records = self.log(after=after)
        lines = [_line(record) for record in records]
        refused_uploads = []
        for record in records:
            if not record["applied"] and record.get("upload") and record["upload"] not in refused_uploads:
                refused_uploads.append(record["upload"])
        for upload in refused_uploads:
            try:
                story = self.upload(upload)
            except StowageError:
                continue
            lines.append("")
            lines.append(f"upload {upload} into {story.get('repository')}: {story.get('status')}"
                         + (f" -> {story['blob']}" if story.get("blob") else ""))
            for event in story.get("events", []):
                line = f"  #{event['sequence']} {event['time']} {event['event']}"
                if "offset" in event:
                    line += f" bytes {event['offset']}+{event['length']}"
                if "claimed" in event:
                    line += f" claimed {event['claimed']} computed {event['computed']}"
                if event.get("refused"):
                    line += f"  REFUSED: {event['refused']}"
                lines.append(line)
        if not lines:
            return "no records were logged during this test"
        return "\n".join(lines)


def _line(record):
    return f"#{record['sequence']} {record['time']} {record['account']}/{record['region']} {record['kind']}  {record['summary']}"


def _query(**items):
    pairs = [(k, v) for k, v in items.items() if v is not None]
    return ("?" + urllib.parse.urlencode(pairs)) if pairs else ""


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")


def _fixture(argument):
    """`[REPOSITORY=]PATH` → (repository or None, path); an export file takes no repository."""
    text = str(argument)
    head, sep, tail = text.partition("=")
    if sep and _REPOSITORY.fullmatch(head) and not Path(text).exists():
        return head, Path(tail)
    return None, Path(text)


def _tar(path):
    """A layout's bytes as a tar: the file itself, or a directory packed in memory."""
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(path, arcname=".")
    return buffer.getvalue()
