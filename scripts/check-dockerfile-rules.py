"""The image's own rules, which no checkov policy covers: what the runtime stage is made of,
who it runs as, how it is probed, and that the builder installs the same tool versions as
scripts/setup.sh. Run by scripts/check-deploy-static.sh with the Python of checkov's
virtualenv (dockerfile_parse comes with checkov).

    python check-dockerfile-rules.py DOCKERFILE DOCKERIGNORE SETUP_SH CARGO_TOML

Prints one line per rule and exits 1 when any is broken.
"""

import json
import re
import shlex
import sys

from dockerfile_parse import DockerfileParser

RUNTIME_IMAGE = "gcr.io/distroless/cc-debian12:nonroot"
RUNTIME_UID = "65532"
# The runtime stage holds the binary, the site, the settings and the empty state directory,
# nothing else (no shell, no build tools, no sources).
RUNTIME_COPIES = {
    "/out/server": "/app/server",
    "/out/site": "/app/site",
    "/src/config": "/app/config",
    "/out/state": "/var/lib/clinic",
}
STATE_DIR = "/var/lib/clinic"


def stages(instructions):
    """The instructions of each stage, the FROM first."""
    out = []
    for ins in instructions:
        if ins["instruction"] == "FROM":
            out.append([])
        if out and ins["instruction"] != "COMMENT":
            out[-1].append(ins)
    return out


def exec_form(value):
    """The JSON array of an exec-form instruction, or None for the shell form."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) and all(isinstance(v, str) for v in parsed) else None


def copy_paths(value):
    words = [w for w in shlex.split(value) if not w.startswith("--")]
    return words[:-1], words[-1]


def check(dockerfile, dockerignore, setup_sh, cargo_toml):
    parsed = DockerfileParser(path=dockerfile)
    all_stages = stages(parsed.structure)
    failures = []

    def rule(ok, text):
        print(("  ok   " if ok else "  FAIL ") + text)
        if not ok:
            failures.append(text)

    rule(len(all_stages) >= 2, "multi-stage: the toolchain stays out of the runtime image")
    runtime = all_stages[-1] if all_stages else []
    base = runtime[0]["value"].split()[0] if runtime else ""
    rule(base == RUNTIME_IMAGE, f"runtime stage is {RUNTIME_IMAGE} (found {base or 'none'})")

    users = [i["value"].strip() for i in runtime if i["instruction"] == "USER"]
    last_user = users[-1] if users else ""
    rule(
        re.fullmatch(rf"{RUNTIME_UID}(:{RUNTIME_UID})?", last_user) is not None,
        f"runtime USER is the numeric non-root {RUNTIME_UID} (found {last_user or 'none'})",
    )

    checks = [i["value"] for i in runtime if i["instruction"] == "HEALTHCHECK"]
    probe = exec_form(checks[-1].split("CMD", 1)[1].strip()) if checks and "CMD" in checks[-1] else None
    rule(probe == ["/app/server", "healthcheck"], 'HEALTHCHECK is exec form CMD ["/app/server", "healthcheck"]')

    entry = [exec_form(i["value"]) for i in runtime if i["instruction"] == "ENTRYPOINT"]
    rule(entry[-1:] == [["/app/server"]], 'ENTRYPOINT is exec form ["/app/server"] (signals reach the server)')

    copies = [i["value"] for i in runtime if i["instruction"] in ("COPY", "ADD")]
    found = {}
    for value in copies:
        sources, dest = copy_paths(value)
        for source in sources:
            found[source] = dest
    rule(found == RUNTIME_COPIES, f"runtime stage copies exactly {sorted(RUNTIME_COPIES)} (found {sorted(found)})")
    rule(all("--from=builder" in v for v in copies), "runtime stage copies only from the builder stage")
    state_owner = [v for v in copies if copy_paths(v)[1] == STATE_DIR]
    rule(
        bool(state_owner) and f"--chown={RUNTIME_UID}:{RUNTIME_UID}" in state_owner[0],
        f"{STATE_DIR} is owned by {RUNTIME_UID}, the one writable path",
    )
    code_owner = [v for v in copies if copy_paths(v)[1] != STATE_DIR]
    rule(all("--chown=0:0" in v for v in code_owner), "binary, site and config are owned by root")

    volumes = [v for i in runtime if i["instruction"] == "VOLUME" for v in (exec_form(i["value"]) or [])]
    rule(volumes == [STATE_DIR], f"VOLUME is {STATE_DIR} alone (found {volumes})")

    env = parsed.envs  # the last stage's environment
    rule(env.get("APP_ENVIRONMENT") == "production", "APP_ENVIRONMENT=production in the image")
    rule(
        not [k for k in env if k.startswith(("OTEL_", "SENTRY_", "DD_"))],
        "no telemetry exporter configured in the image's environment",
    )

    text = open(dockerfile, encoding="utf-8").read()
    leptos = re.search(r'^CARGO_LEPTOS_VERSION=(\S+)', open(setup_sh, encoding="utf-8").read(), re.M)
    arg = re.search(r"^ARG CARGO_LEPTOS_VERSION=(\S+)", text, re.M)
    rule(
        bool(leptos and arg and leptos.group(1) == arg.group(1)),
        "cargo-leptos version matches scripts/setup.sh "
        f"({arg.group(1) if arg else 'no ARG'} vs {leptos.group(1) if leptos else 'none'})",
    )
    rule(
        "--locked" in next((i["value"] for s in all_stages for i in s if "cargo-leptos" in i["value"]), ""),
        "cargo-leptos is installed --locked",
    )
    rust = re.search(r'^rust-version = "([^"]+)"', open(cargo_toml, encoding="utf-8").read(), re.M)
    rule(
        bool(rust) and re.search(rf"^FROM rust:{re.escape(rust.group(1))}-bookworm ", text, re.M) is not None,
        f"builder is rust:{rust.group(1) if rust else '?'}-bookworm (the workspace's rust-version, glibc of the runtime)",
    )
    rule("end2end/package-lock.json" in text, "wasm-opt comes from the end2end lockfile (binaryen, not Debian's)")

    patterns = [
        line.strip()
        for line in open(dockerignore, encoding="utf-8")
        if line.strip() and not line.lstrip().startswith("#")
    ]
    rule(patterns[:1] == ["*"], f"{dockerignore} is an allow-list (starts with *)")

    return failures


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    failures = check(*sys.argv[1:])
    if failures:
        print(f"{len(failures)} image rule(s) broken", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
