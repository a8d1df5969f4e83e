"""Reading the sidecars' OTLP/JSON lines files (otelite's or otelcol's file exporter): spans with
their service, pod and attributes, and traces rebuilt from parent links."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

KIND_SERVER = 2
KIND_CLIENT = 3
STATUS_ERROR = 2


def _any(v: dict):
    if not isinstance(v, dict):
        return v
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_any(x) for x in v["arrayValue"].get("values", [])]
    return None


def attributes(kvs: list | None) -> dict:
    return {kv["key"]: _any(kv.get("value", {})) for kv in kvs or []}


@dataclass(eq=False)
class Span:
    service: str
    pod: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status: int
    attrs: dict = field(repr=False)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def attr(self, *names: str):
        """The first of several attribute names present (old and new HTTP semantic
        conventions)."""
        for n in names:
            if n in self.attrs:
                return self.attrs[n]
        return None

    @property
    def http_status(self) -> int | None:
        v = self.attr("http.response.status_code", "http.status_code")
        return int(v) if v is not None else None

    @property
    def url(self) -> str:
        return str(self.attr("url.full", "http.url") or "")

    @property
    def route_key(self) -> str:
        """`METHOD /route` of a server span."""
        method = self.attr("http.request.method", "http.method") or ""
        return f"{method} {self.attr('http.route') or ''}"


def files_of(path: Path) -> list[Path]:
    """The file and its rotated backups (name-<timestamp>.ext), oldest first."""
    backups = sorted(path.parent.glob(f"{path.stem}-*{path.suffix}"))
    return backups + ([path] if path.exists() else [])


def read_lines(path: Path) -> Iterator[dict]:
    """Complete JSON lines of a file and its backups (a line being written is skipped)."""
    for p in files_of(path):
        with open(p, "rb") as f:
            data = f.read()
        # the last piece is empty, or a line still being written
        for line in data.split(b"\n")[:-1]:
            if line.strip():
                yield json.loads(line)


def spans_in(path: Path, pod: str = "") -> list[Span]:
    out = []
    for rec in read_lines(path):
        for rs in rec.get("resourceSpans", []):
            res = attributes(rs.get("resource", {}).get("attributes"))
            svc = res.get("service.name", "")
            pod_name = res.get("service.instance.id") or pod
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    out.append(Span(
                        service=svc, pod=pod_name, trace_id=sp["traceId"], span_id=sp["spanId"],
                        parent_id=sp.get("parentSpanId") or "", name=sp.get("name", ""),
                        kind=int(sp.get("kind", 0)), start_ns=int(sp["startTimeUnixNano"]),
                        end_ns=int(sp["endTimeUnixNano"]),
                        status=int((sp.get("status") or {}).get("code", 0)),
                        attrs=attributes(sp.get("attributes"))))
    return out


def pod_spans(pod_dirs: dict[str, Path]) -> list[Span]:
    spans: list[Span] = []
    for pod, d in sorted(pod_dirs.items()):
        spans.extend(spans_in(Path(d) / "traces.jsonl", pod))
    return spans


def dedupe(spans: Iterable[Span]) -> tuple[list[Span], int]:
    """(unique spans, number of duplicates): a span delivered twice counts once."""
    seen: set[tuple[str, str]] = set()
    out, dups = [], 0
    for s in spans:
        key = (s.trace_id, s.span_id)
        if key in seen:
            dups += 1
            continue
        seen.add(key)
        out.append(s)
    return out, dups


class Trace:
    def __init__(self, spans: Iterable[Span]) -> None:
        self.spans = list(spans)
        self.by_id = {s.span_id: s for s in self.spans}
        self.children: dict[str, list[Span]] = defaultdict(list)
        for s in self.spans:
            self.children[s.parent_id].append(s)
        for v in self.children.values():
            v.sort(key=lambda s: s.start_ns)

    def roots(self) -> list[Span]:
        return [s for s in self.spans if not s.parent_id]

    def dangling(self) -> list[Span]:
        """Spans whose parent is missing from the trace: a broken link."""
        return [s for s in self.spans if s.parent_id and s.parent_id not in self.by_id]

    def ancestors(self, span: Span) -> list[Span]:
        chain, cur, seen = [], span, {span.span_id}
        while cur.parent_id in self.by_id:
            cur = self.by_id[cur.parent_id]
            if cur.span_id in seen:
                break
            seen.add(cur.span_id)
            chain.append(cur)
        return chain

    def render(self) -> list[str]:
        """The tree as indented lines, from the roots."""
        lines: list[str] = []
        kinds = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer",
                 5: "consumer"}
        t0 = min((s.start_ns for s in self.spans), default=0)

        def walk(s: Span, depth: int) -> None:
            lines.append(f"{'  ' * depth}{s.service} [{kinds.get(s.kind, s.kind)}] {s.name} "
                         f"(+{(s.start_ns - t0) / 1e6:.1f} ms, {s.duration_ms:.1f} ms"
                         f"{', ERROR' if s.status == STATUS_ERROR else ''})")
            for c in self.children.get(s.span_id, []):
                walk(c, depth + 1)

        for r in sorted(self.roots() + self.dangling(), key=lambda s: s.start_ns):
            walk(r, 0)
        return lines


def traces(spans: Iterable[Span]) -> dict[str, Trace]:
    groups: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        groups[s.trace_id].append(s)
    return {t: Trace(v) for t, v in groups.items()}
