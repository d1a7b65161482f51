"""A minimal in-memory Hugging Face Hub for tests (stdlib only, bound to 127.0.0.1).

It speaks just enough of the Hub HTTP API for huggingface_hub 2.x's `create_repo`,
`create_branch`, `create_commit` / `upload_file` (regular, non-LFS uploads), `repo_info` /
`model_info` and `hf_hub_download`. Model repos only. Endpoints:

    POST /api/repos/create                          {"name", "organization", "visibility"?} -> {"url"}
                                                    (409 + {"url"} if the repo exists)
    POST /api/validate-yaml                         README.md metadata check -> always valid
    POST /api/models/{repo}/branch/{branch}         {"startingPoint"?}; 409 if the branch exists
    POST /api/models/{repo}/preupload/{revision}    -> every file "regular" (no LFS, no Xet)
    POST /api/models/{repo}/commit/{revision}       NDJSON: header, file (base64), deletedFile;
                                                    -> {"commitOid", "commitUrl"}
    GET  /api/models/{repo}[/revision/{revision}]   -> {"id", "sha", "private", "siblings"}
    HEAD /{repo}/resolve/{revision}/{path}          ETag (git blob sha1), X-Repo-Commit, Content-Length
    GET  /{repo}/resolve/{revision}/{path}          the same headers and the file's bytes

A revision is a branch name or a full commit sha. Errors carry the Hub's `X-Error-Code`
(RepoNotFound, RevisionNotFound, EntryNotFound) so huggingface_hub raises its usual exceptions.
Write endpoints need an `Authorization: Bearer ...` header (any token); private repos are hidden
(404 RepoNotFound) from requests without one. Each repo starts with a commit holding .gitattributes.

    with HubServer() as hub:
        HfApi(endpoint=hub.endpoint, token="x").create_repo("user/model")
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

SHA = re.compile(r"[0-9a-f]{40}")
REPO = r"(?P<repo>[\w.-]+/[\w.-]+)"
ROUTES = [  # (method, pattern, handler name); patterns match the still-quoted path
    ("POST", r"/api/repos/create", "create_repo"),
    ("POST", r"/api/validate-yaml", "validate_yaml"),
    ("POST", rf"/api/models/{REPO}/branch/(?P<branch>[^/]+)", "create_branch"),
    ("POST", rf"/api/models/{REPO}/preupload/(?P<rev>[^/]+)", "preupload"),
    ("POST", rf"/api/models/{REPO}/commit/(?P<rev>[^/]+)", "commit"),
    ("GET", rf"/api/models/{REPO}(?:/revision/(?P<rev>[^/]+))?", "repo_info"),
    ("HEAD", rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ("GET", rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
]
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_sha(data: bytes) -> str:
    """The id git (and the Hub's ETag for non-LFS files) gives a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    private: bool = False
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> full file tree

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        return revision if SHA.fullmatch(revision) and revision in self.commits else None

    def add_commit(self, parent: str | None, files: dict[str, bytes], message: str) -> str:
        digest = hashlib.sha1(f"{parent}\n{message}\n{len(self.commits)}".encode())
        for path in sorted(files):
            digest.update(f"{path}\0{git_blob_sha(files[path])}\n".encode())
        sha = digest.hexdigest()
        self.commits[sha] = files
        return sha


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args) -> None:  # keep pytest output quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        self.hub = self.server.hub
        try:
            for verb, pattern, name in ROUTES:
                match = re.fullmatch(pattern, path)
                if verb == method and match:
                    args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    with self.hub.lock:
                        getattr(self, name)(**args)
                    return
            raise HubError(404, f"no route for {method} {path}")
        except HubError as err:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            if err.commit:
                headers["X-Repo-Commit"] = err.commit
            self._send(err.status, {"error": err.message}, headers)

    # -- helpers --------------------------------------------------------------------------

    def _send(self, status: int, payload, headers: dict | None = None, body: bytes | None = None) -> None:
        if body is None:
            body = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self) -> dict:
        try:
            return json.loads(self.body or b"{}")
        except json.JSONDecodeError:
            raise HubError(400, "request body is not JSON") from None

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "").startswith("Bearer ")

    def _require_token(self) -> None:
        if not self._authorized():
            raise HubError(401, "Invalid username or password.")

    def _repo(self, repo_id: str) -> Repo:
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and not self._authorized()):
            raise HubError(404, f"Repository Not Found for {repo_id}.", "RepoNotFound")
        return repo

    def _commit(self, repo: Repo, revision: str) -> str:
        sha = repo.resolve(revision)
        if sha is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return sha

    # -- endpoints ------------------------------------------------------------------------

    def create_repo(self) -> None:
        self._require_token()
        data = self._json()
        if data.get("type", "model") != "model":
            raise HubError(400, "this test server only hosts model repos")
        repo_id = f"{data.get('organization') or 'user'}/{data.get('name')}"
        if not re.fullmatch(REPO, repo_id):
            raise HubError(400, f"invalid repo name {repo_id!r}")
        url = f"{self.hub.endpoint}/{repo_id}"
        if repo_id in self.hub.repos:
            message = "You already created this model repo"
            return self._send(409, {"error": message, "url": url}, {"X-Error-Message": message})
        repo = Repo(private=data.get("visibility") == "private" or bool(data.get("private")))
        repo.branches["main"] = repo.add_commit(None, {".gitattributes": GITATTRIBUTES}, "initial commit")
        self.hub.repos[repo_id] = repo
        self._send(200, {"url": url, "name": repo_id})

    def validate_yaml(self) -> None:
        self._send(200, {"errors": [], "warnings": []})

    def create_branch(self, repo: str, branch: str) -> None:
        self._require_token()
        target = self._repo(repo)
        if branch in target.branches:
            raise HubError(409, f"Reference already exists: refs/heads/{branch}")
        target.branches[branch] = self._commit(target, self._json().get("startingPoint") or "main")
        self._send(200, {})

    def preupload(self, repo: str, rev: str) -> None:
        self._require_token()
        self._commit(self._repo(repo), rev)
        files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in self._json()["files"]]
        self._send(200, {"files": files, "commitOid": None})

    def commit(self, repo: str, rev: str) -> None:
        self._require_token()
        target = self._repo(repo)
        if rev not in target.branches:  # the Hub only commits on top of a branch
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        parent = target.branches[rev]
        files, summary = dict(target.commits[parent]), ""
        for line in self.body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                summary = value.get("summary", "")
                if value.get("parentCommit") not in (None, parent):
                    raise HubError(412, f"parentCommit {value['parentCommit']} is not the head of {rev}")
            elif key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, "only base64-encoded files are supported")
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
            else:
                raise HubError(400, f"unsupported commit operation {key!r} (this test server has no LFS)")
        sha = target.add_commit(parent, files, summary)
        target.branches[rev] = sha
        self._send(200, {"success": True, "commitOid": sha, "commitUrl": f"{self.hub.endpoint}/{repo}/commit/{sha}"})

    def repo_info(self, repo: str, rev: str = "main") -> None:
        target = self._repo(repo)
        sha = self._commit(target, rev)
        siblings = [{"rfilename": path, "size": len(data)} for path, data in sorted(target.commits[sha].items())]
        self._send(200, {"id": repo, "modelId": repo, "sha": sha, "private": target.private, "siblings": siblings})

    def resolve(self, repo: str, rev: str, path: str) -> None:
        target = self._repo(repo)
        sha = self._commit(target, rev)
        data = target.commits[sha].get(path)
        if data is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", commit=sha)
        headers = {"ETag": f'"{git_blob_sha(data)}"', "X-Repo-Commit": sha, "Content-Type": "application/octet-stream"}
        self._send(200, None, headers, body=data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: "HubServer"


class HubServer:
    """The server in a background thread; `endpoint` is its base URL, `repos` its in-memory state."""

    def __init__(self, port: int = 0) -> None:
        self.repos: dict[str, Repo] = {}
        self.lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.hub = self
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="hub-server", daemon=True)

    def start(self) -> "HubServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # python tests/hub_server.py: serve until Ctrl-C
    with HubServer(port=0) as hub:
        print(f"serving a test Hub at {hub.endpoint} (HF_ENDPOINT={hub.endpoint})", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
