"""A small Hugging Face Hub stand-in (stdlib only) for tests.

Usage: python tests/hub_stub.py CONFIG.json  -> prints {"url": "http://127.0.0.1:PORT"} and serves.

JSON shapes follow what huggingface_hub 1.33 parses (SpaceInfo, SpaceRuntime, SpaceSearchResult), so
HfApi(endpoint=url).space_info / get_space_runtime / list_spaces / search_spaces work against it.

Config: {"spaces": [{"id": "owner/name", "host": "http://127.0.0.1:PORT" | null, "sdk": "gradio",
          "stage": "RUNNING", "hardware": "zero-a10g", "likes": 12, "title": "...",
          "short_description": "...", "agents_md": "v2" | "v1" | "queue" | "none", "private": false, "sha": "...",
          optional: "emoji", "tags", "ai_category", "duplicated_from": "owner/name"}],
         "header_log": "/path/log.jsonl" | null, "semantic_search": "ok" | "fail" | "missing"}
Private Spaces answer 401 RepoNotFound (like the Hub) unless the request has an Authorization header.
POST /__config {new config} replaces the config at runtime; GET /__config returns it.
POST /api/repos/create, /api/{spaces|datasets}/{id}/preupload/{rev} and /commit/{rev} take a push (upload_folder,
upload_file);
GET /__repos shows what was pushed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
CONFIG: dict[str, Any] = {"spaces": []}
REPOS: dict[str, dict] = {}  # repos made by create_repo: {"type", "sdk", "private", "files": {path: sha256}, "commits"}
RUNNING_STAGES = {"RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"}
FIXED_DATE = "2026-05-01T12:00:00.000Z"


def subdomain(space_id: str) -> str:
    """The Hub's rule: lowercase, '/', '.' and '_' become '-'."""
    return re.sub(r"[/._]", "-", space_id.lower())


def runtime(s: dict) -> dict:
    """SpaceRuntime JSON. A sleeping or failed Space has no current hardware."""
    hw = s.get("hardware", "cpu-basic")
    return {
        "stage": s.get("stage", "RUNNING"),
        "hardware": {"current": hw if s.get("stage", "RUNNING") in RUNNING_STAGES else None, "requested": hw},
        "storage": None,
        "gcTimeout": 172800 if hw == "cpu-basic" else 3600,
        "replicas": {"current": 1, "requested": 1},
        "devMode": False,
        "domains": [{"domain": f"{subdomain(s['id'])}.hf.space", "stage": "READY"}],
        "sha": s.get("sha", "0" * 40),
    }


def tags(s: dict) -> list[str]:
    return s.get("tags") or [s.get("sdk", "gradio"), "region:us"]


def card_data(s: dict) -> dict:
    return {
        "title": s.get("title", s["id"]),
        "emoji": s.get("emoji", "🚀"),
        "sdk": s.get("sdk", "gradio"),
        "short_description": s.get("short_description", ""),
        "license": "mit",
        # The Hub writes this into a duplicate's README card (the Duplicate button does).
        **({"duplicated_from": s["duplicated_from"]} if s.get("duplicated_from") else {}),
    }


def space_info(s: dict) -> dict:
    """GET /api/spaces/{id} JSON (the parts SpaceInfo reads, in the Hub's key names)."""
    author = s["id"].split("/")[0]
    return {
        "_id": "65" + s.get("sha", "0" * 40)[:22],
        "id": s["id"],
        "author": author,
        "sha": s.get("sha", "0" * 40),
        "lastModified": FIXED_DATE,
        "createdAt": FIXED_DATE,
        "private": bool(s.get("private", False)),
        "gated": False,
        "disabled": False,
        "host": s.get("host"),
        "subdomain": subdomain(s["id"]),
        "likes": s.get("likes", 0),
        "trendingScore": s.get("likes", 0) // 2,
        "sdk": s.get("sdk", "gradio"),
        "tags": tags(s),
        "cardData": card_data(s),
        "runtime": runtime(s),
        "models": [],
        "datasets": [],
        "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "README.md"}, {"rfilename": "app.py"}],
        "usedStorage": 12345,
    }


def list_item(s: dict, expand: list[str], full: bool) -> dict:
    """One /api/spaces item: the Hub's short default form, or only `expand`ed keys, or everything."""
    info = space_info(s)
    if full:
        return info
    if expand:
        return {"_id": info["_id"], "id": info["id"], **{k: info[k] for k in expand if k in info}}
    keys = ("_id", "id", "likes", "trendingScore", "private", "sdk", "tags", "createdAt")
    return {k: info[k] for k in keys}


def search_item(s: dict, score: float) -> dict:
    """One /api/spaces/semantic-search result (SpaceSearchResult keys, incl. its camelCase scores)."""
    return {
        "id": s["id"],
        "author": s["id"].split("/")[0],
        "title": s.get("title", s["id"]),
        "emoji": s.get("emoji", "🚀"),
        "sdk": s.get("sdk", "gradio"),
        "likes": s.get("likes", 0),
        "private": bool(s.get("private", False)),
        "tags": tags(s),
        "runtime": runtime(s),
        "ai_short_description": s.get("short_description", ""),
        "ai_category": s.get("ai_category", "Other"),
        "semanticRelevancyScore": round(score, 3),
        "trendingScore": s.get("likes", 0) // 2,
    }


def agents_md(s: dict) -> str | None:
    """The Hub's plain-text agent instructions (no trailing newline, like a real capture)."""
    host, style = s.get("host"), s.get("agents_md", "v2")
    if s.get("sdk", "gradio") != "gradio" or style == "none" or not host:
        return None
    lines = [
        f"To use this application ({s['id']}: {s.get('short_description', '')}):",
        f"API schema: GET {host}/gradio_api/info",
    ]
    files = (
        f'File inputs: POST {host}/gradio_api/upload -F "files=@file.ext", use as: '
        '{"path": "<returned-path>", "meta": {"_type": "gradio.FileData"}, "orig_name": "file.ext"}'
    )
    auth = "Auth: Bearer $HF_TOKEN (https://huggingface.co/settings/tokens)"
    if style == "v1":  # April 2026: title + four lines, positional /call, no File line
        lines += [
            f'Call endpoint: POST {host}/gradio_api/call/{{endpoint}} {{"data": [...]}}',
            f"Poll result: GET {host}/gradio_api/call/{{endpoint}}/{{event_id}}",
            "Auth: Bearer $HF_TOKEN",
        ]
    elif style == "queue":  # seen in the wild for some Spaces: the /queue/join protocol
        lines += [
            f"Config (find fn_index): GET {host}/config → dependencies[i].id where api_name matches API schema "
            "endpoint",
            f'Join the queue: POST {host}/gradio_api/queue/join (pass {{"data": [...], "fn_index": <from-config>, '
            '"session_hash": "<random-uuid>"})',
            f"Stream results: GET {host}/gradio_api/queue/data?session_hash=<same-uuid>",
            files,
            auth,
        ]
    else:  # "v2", the current documented format
        lines += [
            f'Call endpoint: POST {host}/gradio_api/call/v2/{{endpoint}} {{"param_name": value, ...}}',
            f"Poll result: GET {host}/gradio_api/call/{{endpoint}}/{{event_id}}",
            files,
            auth,
        ]
    return "\n".join(lines)


def matches(s: dict, words: list[str]) -> float:
    """Fraction of query words found in id/title/description (case-insensitive)."""
    text = " ".join([s["id"], s.get("title", ""), s.get("short_description", "")]).lower()
    return sum(w in text for w in words) / len(words) if words else 1.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _log(self) -> None:
        path = CONFIG.get("header_log")
        if path:
            line = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
            with LOCK, open(path, "a") as f:
                f.write(json.dumps(line) + "\n")

    def _send(self, status: int, body: Any, ctype: str = "application/json", headers: dict | None = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("content-type", f"{ctype}; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self, status: int = 404) -> None:
        # huggingface_hub maps X-Error-Code: RepoNotFound to RepositoryNotFoundError.
        self._send(
            status,
            {"error": "Repository not found"},
            headers={"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
        )

    def _space(self, space_id: str) -> dict | None:
        """Look up a Space; None means the caller already answered 404/401."""
        s = next((s for s in CONFIG.get("spaces", []) if s["id"] == space_id), None)
        if s is None:
            self._not_found()
        elif s.get("private") and not self._authorized():
            self._not_found(401)  # the Hub hides private repos from anonymous callers
            return None
        return s

    def _authorized(self) -> bool:
        return self.headers.get("authorization") is not None  # any token will do in the stub

    def do_POST(self) -> None:
        self._log()
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if urlsplit(self.path).path == "/__config":
            new = json.loads(body)
            with LOCK:
                CONFIG.clear()
                CONFIG.update(new)
            return self._send(200, {"ok": True})
        if urlsplit(self.path).path == "/api/validate-yaml":  # upload_folder checks a README.md's card first
            req = json.loads(body)
            front = req.get("content", "").split("---\n")
            card = front[1] if len(front) > 2 and front[0] == "" else ""
            if req.get("repoType") == "space" and not re.search(r"^sdk: *\"?(gradio|docker|static)", card, re.M):
                return self._send(400, {"errors": [{"message": '"sdk" must be one of [gradio, docker, static]'}]})
            return self._send(200, {"errors": [], "warnings": []})
        if self._repo_write(urlsplit(self.path).path, body):
            return
        self._send(404, {"error": "Not found"})

    def _repo_write(self, path: str, body: bytes) -> bool:
        """create_repo, preupload and commit as huggingface_hub's upload_folder uses them; False: not one of
        them. Regular files only: preupload answers "regular" for every file, so no LFS or Xet transfer."""
        m = re.fullmatch(r"/api/repos/create|/api/(?:spaces|datasets)/([^/]+/[^/]+)/(preupload|commit)/[^/]+", path)
        if m is None:
            return False
        base = f"http://{self.headers.get('host')}"
        if not self._authorized():
            self._send(401, {"error": "Invalid credentials in Authorization header"})
        elif path == "/api/repos/create":
            req = json.loads(body)
            repo_id = f"{req.get('organization')}/{req['name']}"
            with LOCK:
                known = repo_id in REPOS
                REPOS.setdefault(
                    repo_id,
                    {
                        "type": req.get("type"),
                        "sdk": req.get("sdk"),
                        "private": req.get("visibility") == "private",
                        "files": {},
                        "commits": [],
                    },
                )
            kind = req.get("type") or "model"
            page = f"{base}/{'' if kind == 'model' else kind + 's/'}{repo_id}"
            if known:  # create_repo(exist_ok=True) takes the Hub's 409 as "already there"
                self._send(409, {"error": f"You already created this {kind} repo", "url": page})
            else:
                self._send(200, {"url": page, "name": repo_id, "id": "66" + "0" * 22})
        elif (repo := REPOS.get(m[1])) is None:
            self._not_found()
        elif m[2] == "preupload":
            files = json.loads(body)["files"]
            modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files]
            self._send(200, {"files": modes, "commitOid": "0" * 40})
        else:  # commit: application/x-ndjson, a header line then one line per file
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            sha = hashlib.sha1(body).hexdigest()
            with LOCK:
                for item in (i["value"] for i in lines if i["key"] == "file"):
                    repo["files"][item["path"]] = hashlib.sha256(base64.b64decode(item["content"])).hexdigest()
                repo["commits"].append(next(i["value"]["summary"] for i in lines if i["key"] == "header"))
            page = f"{base}/{repo['type'] + 's/' if repo['type'] else ''}{m[1]}"
            self._send(200, {"success": True, "commitOid": sha, "commitUrl": f"{page}/commit/{sha}"})
        return True

    def do_GET(self) -> None:
        self._log()
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        one = {k: v[-1] for k, v in q.items()}
        path = url.path.rstrip("/")
        spaces = [s for s in CONFIG.get("spaces", []) if self._authorized() or not s.get("private")]

        if path == "/__config":
            return self._send(200, CONFIG)
        if path == "/api/whoami-v2":  # what gradio's local OAuth mock asks for the machine's token
            if not self._authorized():
                return self._send(401, {"error": "Invalid credentials in Authorization header"})
            return self._send(
                200,
                {
                    "type": "user",
                    "id": "66" + "1" * 22,
                    "name": "me",
                    "fullname": "Me Tester",
                    "avatarUrl": "/avatars/me.svg",
                    "isPro": False,
                    "orgs": [],
                    "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}},
                },
            )
        if path == "/__repos":  # what create_repo and commits made, file contents as sha256
            return self._send(200, REPOS)
        if path == "/api/spaces/zero-gpu/quota":
            quota = CONFIG.get("zero_gpu_quota", {"base": 300, "current": 300, "resetsAt": None, "overquotaUsed": 0})
            if not self._authorized():
                return self._send(401, {"error": "Invalid credentials in Authorization header"})
            if quota == "forbidden":  # a fine-grained token without the billing-read permission
                return self._send(403, {"error": "This token does not have the read-billing permission"})
            return self._send(200, quota)
        if m := re.fullmatch(r"/spaces/([^/]+/[^/]+)/agents\.md", path):
            if (s := self._space(m[1])) is None:
                return
            text = agents_md(s)
            return self._send(200, text, "text/plain") if text else self._send(404, "Not Found", "text/plain")
        if path == "/api/spaces/semantic-search":
            mode = CONFIG.get("semantic_search", "ok")
            if mode == "fail":
                return self._send(
                    500, {"error": "Internal Error - We're working hard to fix this as soon as possible!"}
                )
            if mode == "missing":
                return self._send(404, {"error": "Not Found"})
            words = one.get("q", "").lower().split()
            sdks = set(q.get("sdk", []))
            wanted_tags = set(q.get("filter", []))
            include_all = one.get("includeNonRunning", "").lower() == "true"
            hits = []
            for s in spaces:
                score = matches(s, words)
                if score == 0 or (sdks and s.get("sdk", "gradio") not in sdks):
                    continue
                if wanted_tags and not wanted_tags <= set(tags(s)):
                    continue
                if not include_all and s.get("stage", "RUNNING") not in RUNNING_STAGES:
                    continue
                hits.append((score, s.get("likes", 0), s))
            hits.sort(key=lambda h: (h[0], h[1]), reverse=True)
            return self._send(200, [search_item(s, sc) for sc, _, s in hits])
        if path == "/api/spaces":
            search = one.get("search", "").lower()
            wanted_tags = set(q.get("filter", []))
            sdks = set(q.get("sdk", []))
            found = [
                s
                for s in spaces
                if search in s["id"].lower()  # the Hub matches the id only
                and (not wanted_tags or wanted_tags <= set(tags(s)))
                and (not sdks or s.get("sdk", "gradio") in sdks)
                and (not one.get("author") or s["id"].split("/")[0] == one["author"])
            ]
            if one.get("sort") in ("likes", "trendingScore"):
                found.sort(key=lambda s: s.get("likes", 0), reverse=True)
            if "limit" in one:
                found = found[: int(one["limit"])]
            expand = q.get("expand", [])
            full = one.get("full", "").lower() == "true"
            return self._send(200, [list_item(s, expand, full) for s in found])
        if m := re.fullmatch(r"/api/spaces/([^/]+/[^/]+)/runtime", path):
            if (s := self._space(m[1])) is not None:
                self._send(200, runtime(s))
            return
        if m := re.fullmatch(r"/api/spaces/([^/]+/[^/]+)", path):
            if (s := self._space(m[1])) is not None:
                info = space_info(s)
                expand = q.get("expand")
                self._send(
                    200,
                    {"_id": info["_id"], "id": info["id"], **{k: info[k] for k in expand if k in info}}
                    if expand
                    else info,
                )
            return
        self._send(404, {"error": "Not found"})


def main(config_path: str) -> None:
    with open(config_path) as f:
        CONFIG.update(json.load(f))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    print(json.dumps({"url": f"http://127.0.0.1:{httpd.server_address[1]}"}), flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
