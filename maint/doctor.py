"""`maint doctor`: is this machine ready? Local tools per task, config files, inventory, playbooks, known_hosts.

Each finding carries the command that fixes it. Read-only: nothing here connects to a host.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import paramiko
import yaml

from maint.config import Settings
from maint.errors import MaintError
from maint.inventory import Inventory, load_inventory
from maint.playbook_files import BUILTIN_DIR, NAMES, describe

OK, WARN, ERROR = "ok", "warn", "error"


@dataclass(frozen=True)
class Finding:
    area: str
    item: str
    state: str  # ok / warn / error
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Tool:
    names: tuple[str, ...]  # any one of them will do
    package: str  # the Debian package that provides it
    needed_by: str
    required: bool = True  # False: a fallback exists, so missing is a warning


TOOLS = (
    Tool(("ssh",), "openssh-client", "mirror, restore (rsync and dump pipes)"),
    Tool(("rsync",), "rsync", "mirror, restore (else a slower SFTP copy)", required=False),
    Tool(("zstd", "gzip"), "zstd", "mirror, serve, restore (dump compression)"),
    Tool(("mariadb", "mysql"), "mariadb-client", "serve (importing a snapshot)"),
    Tool(("mariadbd", "mysqld"), "mariadb-server", "serve (a private database server)"),
    Tool(("php",), "php-cli php-mysql php-mbstring php-curl php-gd php-zip php-xml", "serve (php -S)"),
)


def check_tools(path: str | None = None, tools: Sequence[Tool] = TOOLS) -> list[Finding]:
    """Which local programs are on PATH (``path`` overrides $PATH, for tests)."""
    findings = []
    for tool in tools:
        found = next((w for w in (shutil.which(n, path=path) or _sbin(n, path) for n in tool.names) if w), None)
        label = " or ".join(tool.names)
        if found:
            findings.append(Finding("tools", label, OK, f"{found}; used by {tool.needed_by}"))
        else:
            findings.append(Finding("tools", label, ERROR if tool.required else WARN,
                                    f"not found on PATH; needed by {tool.needed_by}",
                                    f"sudo apt-get install -y {tool.package}"))
    return findings


def _sbin(name: str, path: str | None) -> str | None:
    # mariadbd lives in /usr/sbin, outside an ordinary user's PATH; it is found there by `serve` too.
    if path is None and name in ("mariadbd", "mysqld"):
        return shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    return None


def check_mail(settings: Settings, config_hint: str) -> Finding:
    smtp = settings.smtp
    missing = [k for k in ("host", "from", "to") if not smtp.get(k)]
    if smtp and not missing:
        return Finding("alerts", "smtp", OK, f"{smtp.get('host')}:{smtp.get('port', 25)} -> {smtp.get('to')}")
    if settings.webhook:
        return Finding("alerts", "smtp", OK, f"no smtp; alerts go to the webhook {settings.webhook}")
    detail = f"maint.smtp lacks {', '.join(missing)}" if smtp else "no maint.smtp or maint.webhook: alerts and mail are off"
    return Finding("alerts", "smtp", WARN, detail, f"set maint.smtp (host, port, from, to) in {config_hint}")


KNOWN_KEYS = {f for f in Settings.__dataclass_fields__ if f != "raw"} | {"yes", "over_budget", "options"}


def check_config_files(files: Sequence[tuple[str, Path | None, bool]]) -> list[Finding]:
    """The config files invoke looked for (level, path, loaded): found, valid YAML, known maint keys."""
    findings = []
    for level, path, loaded in files:
        if path is None or not loaded:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            reason = getattr(exc, "problem", None) or getattr(exc, "strerror", None) or exc
            findings.append(Finding("config", str(path), ERROR, f"{level} config: not valid YAML ({where}{reason})",
                                    f"fix {path}"))
            continue
        section = data.get("maint") if isinstance(data, Mapping) else None
        unknown = sorted(str(k) for k in section if str(k).replace("-", "_") not in KNOWN_KEYS) if isinstance(
            section, Mapping) else []
        if unknown:
            findings.append(Finding("config", str(path), WARN, f"{level} config: unknown maint keys: {', '.join(unknown)}",
                                    f"check the spelling in {path} (known: {', '.join(sorted(KNOWN_KEYS))})"))
        else:
            findings.append(Finding("config", str(path), OK, f"{level} config"))
    if not any(loaded for _, _, loaded in files):
        findings.append(Finding("config", "fabric.yaml", WARN, "no config file found: built-in defaults only",
                                "maint init"))
    return findings


def check_playbooks(settings: Settings, loaders: Mapping[str, Callable[[Path], Any]]) -> list[Finding]:
    """Which file each playbook comes from, and whether it loads."""
    findings = []
    own = settings.playbooks.expanduser()
    if own.absolute() != BUILTIN_DIR.absolute():
        if not own.is_dir():
            findings.append(Finding("playbooks", str(own), WARN, "maint.playbooks names a folder that does not exist: "
                                    "the built-in playbooks are used", f"mkdir -p {own}, or fix maint.playbooks"))
        else:
            strays = sorted(p.name for p in own.glob("*.y*ml") if p.name not in NAMES)
            if strays:
                findings.append(Finding("playbooks", str(own), WARN, f"not a playbook name, ignored: {', '.join(strays)}",
                                        f"rename to one of {', '.join(NAMES)}"))
    for name in NAMES:
        path = settings.playbook(name)
        try:
            loaders[name](path)
        except MaintError as exc:
            findings.append(Finding("playbooks", name, ERROR, str(exc), f"fix {path}"))
            continue
        findings.append(Finding("playbooks", name, OK, describe(name, settings.playbooks)))
    return findings


def check_inventory(settings: Settings) -> tuple[list[Finding], Inventory | None]:
    folder = settings.inventory
    try:
        inventory = load_inventory(folder, settings.plans_file)
    except MaintError as exc:
        return [Finding("inventory", str(folder), ERROR, str(exc), "maint init, or fix the file named")], None
    stores = sum(len(c.stores) for c in inventory.clients)
    if folder.expanduser().absolute() == (BUILTIN_DIR / "clients").absolute():
        return [Finding("inventory", str(folder), WARN, "the built-in demo inventory (sandbox stores only)",
                        "maint init")], inventory
    if not stores:
        return [Finding("inventory", str(folder), WARN, "no stores yet",
                        "maint add-store CLIENT STORE --host ALIAS")], inventory
    return [Finding("inventory", str(folder), OK, f"{len(inventory.clients)} clients, {stores} stores")], inventory


def check_known_hosts(settings: Settings, inventory: Inventory) -> list[Finding]:
    """Every inventory host alias, resolved through the SSH config, has a key in known_hosts."""
    ssh_config = paramiko.SSHConfig()
    config_file = (settings.ssh_config or Path("~/.ssh/config")).expanduser()
    if config_file.is_file():
        try:
            ssh_config = paramiko.SSHConfig.from_path(str(config_file))
        except (OSError, paramiko.SSHException) as exc:
            return [Finding("ssh", str(config_file), ERROR, f"cannot read: {exc}", f"fix {config_file}")]
    elif settings.ssh_config:
        return [Finding("ssh", str(config_file), ERROR, "SSH config file not found", f"create {config_file}")]
    findings = []
    seen: set[str] = set()
    for client in inventory.clients:
        for store in client.stores:
            if store.host in seen:
                continue
            seen.add(store.host)
            opts = ssh_config.lookup(store.host)
            hostname, port = str(opts.get("hostname", store.host)), int(opts.get("port", 22))
            files = _known_hosts_files(settings, opts)
            name = hostname if port == 22 else f"[{hostname}]:{port}"
            if _has_key(files, name):
                findings.append(Finding("known_hosts", store.host, OK, f"{name} in {files[0]}"))
                continue
            f_opt = f" -F {config_file}" if settings.ssh_config else ""
            kh_opt = f" -o UserKnownHostsFile={files[0]}" if settings.known_hosts else ""
            findings.append(Finding(
                "known_hosts", store.host, ERROR,
                f"no host key for {name} (store {store.name}) in {', '.join(map(str, files))}",
                f"ssh{f_opt}{kh_opt} -o StrictHostKeyChecking=ask {store.host} true   # compare the fingerprint, type yes",
            ))
    return findings


def _known_hosts_files(settings: Settings, opts: Mapping[str, Any]) -> list[Path]:
    if settings.known_hosts:
        return [settings.known_hosts.expanduser()]
    configured = opts.get("userknownhostsfile")
    if configured:
        return [Path(p).expanduser() for p in str(configured).split()]
    return [Path("~/.ssh/known_hosts").expanduser(), Path("/etc/ssh/ssh_known_hosts")]


def _has_key(files: Sequence[Path], name: str) -> bool:
    keys = paramiko.HostKeys()
    for path in files:
        if path.is_file():
            try:
                keys.load(str(path))
            except (OSError, paramiko.SSHException):
                continue
    return keys.lookup(name) is not None


def exit_code(findings: Sequence[Finding]) -> int:
    """0 all well, 1 warnings only, 2 something missing or broken."""
    states = {f.state for f in findings}
    return 2 if ERROR in states else 1 if WARN in states else 0
